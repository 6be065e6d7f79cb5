"""Reading a job's committed output (only through the commit markers)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from spotworker import exitcodes
from spotworker.errors import S3_ERRORS, WorkerError, classify
from spotworker.s3io import S3Client
from spotworker.tasks import merge_aggregate_lines


def read_lines(client: S3Client, bucket: str, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Stream an object's lines (bounded memory)."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        tail = b""
        while data := body.read(chunk):
            parts = (tail + data).split(b"\n")
            tail = parts.pop()
            yield from parts
    except S3_ERRORS as exc:
        raise classify(exc, f"reading s3://{bucket}/{key}") from None
    if tail:
        yield tail


_MARKER = re.compile(r"shard-(\d{5})-of-(\d{5})\.json")


def commit_layouts(
    client: S3Client, bucket: str, output_prefix: str, job_key: str
) -> dict[int, list[str]]:
    """Array size -> commit marker keys of the job, per layout (``-of-<n>``).

    A job id run once with 2 shards and again with 3 has markers of two layouts;
    a reader must pick one, never mix them.
    """
    prefix = f"{output_prefix}{job_key}/_commits/"
    layouts: dict[int, list[str]] = {}
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                match = _MARKER.fullmatch(item["Key"][len(prefix) :])
                if match:
                    layouts.setdefault(int(match[2]), []).append(item["Key"])
    except S3_ERRORS as exc:
        raise classify(exc, f"listing s3://{bucket}/{prefix}") from None
    return layouts


def commit_manifests(
    client: S3Client, bucket: str, output_prefix: str, job_key: str, shards: int | None = None
) -> dict[int, dict[str, Any]]:
    """shard index -> manifest, for every committed shard of the job's layout.

    ``shards`` picks the layout (the array size); None means the only one there
    is, and a WorkerError (exit 2) if the markers show more than one.
    """
    layouts = commit_layouts(client, bucket, output_prefix, job_key)
    if shards is None:
        if len(layouts) > 1:
            raise WorkerError(
                f"--job-id={job_key!r}: commit markers of {len(layouts)} array sizes "
                f"{sorted(layouts)}; pass --shards N to choose one",
                exit_code=exitcodes.USAGE,
            )
        shards = next(iter(layouts), 0)
    found: dict[int, dict[str, Any]] = {}
    for key in layouts.get(shards, []):
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except S3_ERRORS as exc:
            raise classify(exc, f"reading s3://{bucket}/{key}") from None
        try:
            manifest = json.loads(body)
            shard = manifest["shard"]
            if manifest["shards"] != shards or type(shard) is not int:
                raise ValueError("shard fields do not match the marker's name")
            for obj in manifest["objects"]:
                if not all(isinstance(k, str) for k in (*obj["parts"], *obj["deadletters"])):
                    raise ValueError("part keys are not strings")
        except (ValueError, KeyError, TypeError) as exc:
            raise WorkerError(
                f"s3://{bucket}/{key}: not a commit marker ({type(exc).__name__}: {exc})",
                exit_code=exitcodes.DATA_ERROR,
            ) from None
        found[shard] = manifest
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
    try:
        merge_aggregate_lines(iter_output(client, bucket, manifests), merged)
    except ValueError as exc:
        raise WorkerError(
            f"committed output: {exc} (was the job run with CFGEN_TASK=aggregate?)",
            exit_code=exitcodes.DATA_ERROR,
        ) from None
    return merged
