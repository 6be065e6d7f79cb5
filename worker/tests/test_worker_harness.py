"""The harness end to end, in process, against the moto S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import expected, gen_records, job_result, jsonl, run_inprocess, worker_env


def put_inputs(s3: Any, bucket: str, files: dict[str, bytes]) -> None:
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def test_full_run_matches_reference(s3: Any, bucket: str, tmp_path: Path) -> None:
    recs = [gen_records(3000, seed) for seed in range(4)]
    put_inputs(s3, bucket, {f"input/part-{i}.jsonl": jsonl(r) for i, r in enumerate(recs)})
    run = run_inprocess(worker_env(bucket, tmp_path, CFGEN_READ_CHUNK_BYTES=4096))
    assert run.code == 0, run.raw
    assert job_result(s3, bucket) == expected([x for r in recs for x in r])
    done = run.named("done")[0]
    assert done["status"] == "committed"
    assert done["records"] == 12000 and done["bad"] == 0
