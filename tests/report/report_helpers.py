"""Ledger records for report tests, in the worker's format (spotworker.ledger)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def base_time(days_ago: int = 2) -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(days=days_ago)


def record(
    job: str,
    index: int | None,
    attempt: int,
    start: datetime,
    seconds: float,
    *,
    reason: str = "done",
    code: int | None = None,
    instance_type: str | None = "c6i.xlarge",
    lifecycle: str | None = "spot",
    az: str | None = "us-east-1a",
    vcpus: float | None = 2,
    memory_mib: int | None = 4096,
    platform: str = "ec2",
    work: tuple[int, int, int] | None = (1000, 0, 1000),  # bytes, resumed, end
    queue: str = "batch-JobQueue",
    ce: str = "SpotComputeEnvironment",
) -> dict[str, Any]:
    codes = {"done": 0, "interrupted": 143, "failed": 65}
    end = start + timedelta(seconds=seconds)
    b, resumed, endb = work if work is not None else (None, None, None)
    return {
        "format": 1,
        "job_id": job,
        "array_index": index,
        "attempt": attempt,
        "queue": queue,
        "compute_environment": ce,
        "started_at": iso(start),
        "ended_at": iso(end),
        "duration_s": seconds,
        "exit": {"reason": reason, "code": codes[reason] if code is None else code, "stop": None},
        "work": {
            "bytes": b,
            "records": None if b is None else b // 10,
            "resumed_bytes": resumed,
            "resumed_records": None,
            "end_bytes": endb,
            "end_records": None,
        },
        "host": {
            "platform": platform,
            "instance_type": instance_type,
            "lifecycle": lifecycle,
            "availability_zone": az,
            "instance_id": "i-0abc" if platform == "ec2" else None,
            "launch_type": "FARGATE" if platform == "fargate" else "EC2",
            "task_arn": None,
            "vcpus": vcpus,
            "memory_mib": memory_mib,
        },
        "missing": [],
    }


def put(s3: Any, bucket: str, rec: dict[str, Any] | bytes, key: str | None = None) -> str:
    if key is None:
        assert isinstance(rec, dict)
        key = f"ledger/{rec['job_id']}/{rec['array_index'] or 0}/{rec['attempt']}.json"
    body = rec if isinstance(rec, bytes) else json.dumps(rec).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key


def report(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "cfgen", "report", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
