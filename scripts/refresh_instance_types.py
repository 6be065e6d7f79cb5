#!/usr/bin/env python3
"""Refresh src/cfgen/data/ec2_instance_types.json from EC2 DescribeInstanceTypes.

Read-only, with the caller's credentials (any profile/region boto3 finds, or
AWS_ENDPOINT_URL for the local emulator):

    python scripts/refresh_instance_types.py [--region us-east-1] [-o PATH]

Keeps every type the region lists (previous generations too: AWS marks some
sizes of current families, e.g. r7g.xlarge in some snapshots, as not current)
and, per type, what `cfgen preflight` and the fit lint rules need: default vCPUs,
memory (MiB), GPUs and architecture. DescribeInstanceTypes fields:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceTypeInfo.html
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "cfgen" / "data" / "ec2_instance_types.json"


def spec_of(info: dict[str, Any]) -> list[Any]:
    """[vcpus, memory MiB, gpus, architecture] of one InstanceTypeInfo."""
    archs = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    arch = "arm64" if "arm64" in archs else "x86_64"
    gpus = sum(int(g.get("Count", 0)) for g in info.get("GpuInfo", {}).get("Gpus", []))
    return [
        int(info["VCpuInfo"]["DefaultVCpus"]),
        int(info["MemoryInfo"]["SizeInMiB"]),
        gpus,
        arch,
    ]


def fetch(client: Any) -> dict[str, list[Any]]:
    types: dict[str, list[Any]] = {}
    paginator = client.get_paginator("describe_instance_types")
    for page in paginator.paginate():
        for info in page.get("InstanceTypes", []):
            types[str(info["InstanceType"])] = spec_of(info)
    return dict(sorted(types.items()))


def table(types: dict[str, list[Any]], *, region: str, source: str) -> dict[str, Any]:
    return {
        "kind": "ec2-instance-types",
        "fields": ["vcpus", "memory_mib", "gpus", "architecture"],
        "as_of": datetime.now(UTC).strftime("%Y-%m-%d"),
        "source": source or f"EC2 DescribeInstanceTypes ({region})",
        "types": types,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--region", default="us-east-1")
    p.add_argument("-o", "--output", default=str(OUT), metavar="PATH")
    p.add_argument("--source", default="", help="text for the table's source field")
    args = p.parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("ec2", region_name=args.region)
        types = fetch(client)
    except (BotoCoreError, ClientError) as err:
        print(f"refresh_instance_types: DescribeInstanceTypes failed: {err}", file=sys.stderr)
        return 1
    if not types:
        print("refresh_instance_types: DescribeInstanceTypes returned no types", file=sys.stderr)
        return 1
    data = table(types, region=args.region, source=args.source)
    text = json.dumps(data, indent=None, separators=(",", ":"))
    # One type per line: reviewable diffs when AWS adds or changes types.
    text = text.replace('"types":{', '"types":{\n').replace("],", "],\n")
    Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(types)} instance types to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
