"""The chaos run of the test suite (tests/chaoslib.py), longer: many seeds, more
attempts per shard, more data. Not part of the suite.

    python worker/benchmarks/chaos.py --seeds 1-20 --chaos-attempts 8 --lines 4000

Starts its own moto server, fault proxy and fake IMDS on 127.0.0.1; prints one
line per seed and exits 1 if any seed found a problem.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import os

from chaoslib import Plan, run_chaos
from fakeimds import FakeIMDS
from faultproxy import FaultProxy
from swtestlib import base_env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-10", help="a range A-B or one seed")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--lines", type=int, default=4000)
    parser.add_argument("--chaos-attempts", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(base_env(f"http://{host}:{port}"))
    s3 = boto3.client("s3")
    imds = FakeIMDS()
    failed = 0
    try:
        for seed in seeds:
            bucket = f"chaos-{uuid.uuid4().hex[:12]}"
            s3.create_bucket(Bucket=bucket)
            plan = Plan(
                seed=seed,
                shards=args.shards,
                objects=args.objects,
                lines=args.lines,
                chaos_attempts=args.chaos_attempts,
                seconds=args.seconds,
            )
            with FaultProxy((host, port)) as proxy, tempfile.TemporaryDirectory() as tmp:
                started = time.monotonic()
                report = run_chaos(
                    plan, s3=s3, bucket=bucket, proxy=proxy, imds=imds, tmp=Path(tmp)
                )
            status = "ok" if not report.problems else f"PROBLEMS {report.problems}"
            failed += bool(report.problems)
            print(
                f"seed {seed}: {report.attempts} attempts, exits {report.codes}, "
                f"actions {report.actions}, {time.monotonic() - started:.1f} s: {status}",
                flush=True,
            )
    finally:
        imds.close()
        server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
