"""Reading a job's committed output (only through the commit markers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from spotworker.errors import S3_ERRORS, classify
from spotworker.s3io import S3Client
from spotworker.tasks import merge_aggregate_lines


def read_lines(client: S3Client, bucket: str, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Stream an object's lines (bounded memory)."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    tail = b""
    while data := body.read(chunk):
        parts = (tail + data).split(b"\n")
        tail = parts.pop()
        yield from parts
    if tail:
        yield tail


def commit_manifests(
    client: S3Client, bucket: str, output_prefix: str, job_key: str
) -> dict[int, dict[str, Any]]:
    """shard index -> manifest, for every committed shard of the job."""
    prefix = f"{output_prefix}{job_key}/_commits/"
    found: dict[int, dict[str, Any]] = {}
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                manifest = json.loads(body)
                found[int(manifest["shard"])] = manifest
    except S3_ERRORS as exc:
        raise classify(exc, f"listing s3://{bucket}/{prefix}") from None
    return found


def iter_output(
    client: S3Client, bucket: str, manifests: dict[int, dict[str, Any]], kind: str = "parts"
) -> Iterator[bytes]:
    """Every line of the committed parts (``kind="parts"``) or dead letters."""
    for shard in sorted(manifests):
        for obj in manifests[shard]["objects"]:
            for key in obj[kind]:
                yield from read_lines(client, bucket, key)


def aggregate_result(
    client: S3Client, bucket: str, manifests: dict[int, dict[str, Any]]
) -> dict[str, list[Any]]:
    """The example task's job result: key -> [count, sum, min, max] over all shards."""
    merged: dict[str, list[Any]] = {}
    merge_aggregate_lines(iter_output(client, bucket, manifests), merged)
    return merged
