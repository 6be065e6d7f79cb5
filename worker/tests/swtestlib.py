"""Helpers for the worker tests (data, runners, result readers)."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from spotworker.config import load_config
from spotworker.harness import Harness, Interrupted
from spotworker.interrupt import StopFlag
from spotworker.logs import EventLog
from spotworker.results import aggregate_result, commit_manifests, iter_output
from spotworker.tasks import load_task

WORKER_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = WORKER_DIR.parent
FAULTRUN = Path(__file__).with_name("faultrun.py")
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETSENTINEL"
ACCESS_KEY = "AKIAIOSFODNN7SENTINEL"


def base_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def worker_env(bucket: str, tmp_path: Path, **extra: Any) -> dict[str, str]:
    """The job definition's environment (docs/CONTRACT.md) plus test knobs."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    env = {
        "CFGEN_DATA_BUCKET": bucket,
        "CFGEN_INPUT_PREFIX": "input/",
        "CFGEN_OUTPUT_PREFIX": "output/",
        "CFGEN_CHECKPOINT_PREFIX": "checkpoints/",
        "CFGEN_DEADLETTER_PREFIX": "deadletter/",
        "TMPDIR": str(scratch),
        "AWS_BATCH_JOB_ID": "job-1234",
        "AWS_BATCH_JOB_ATTEMPT": "1",
        "CFGEN_IMDS_POLL": "0",
        "CFGEN_S3_MAX_ATTEMPTS": "3",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Run:
    def __init__(self, code: int, events: list[dict[str, Any]], raw: str) -> None:
        self.code = code
        self.events = events
        self.raw = raw

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]


def run_inprocess(env: dict[str, str], *, client: Any = None, stop: StopFlag | None = None) -> Run:
    """Run one shard in this process (same code path as __main__.run, own client allowed)."""
    from spotworker import __main__ as entry
    from spotworker.s3io import make_client

    cfg = load_config(env)
    out = io.StringIO()
    log = EventLog(out, job_id=cfg.job_id, array_index=cfg.array_index, attempt=cfg.attempt)
    stop = stop or StopFlag()
    if client is None:
        code = entry.run(cfg, log, stop)
    else:
        from spotworker.harness import resolve_shards

        shard, shards = resolve_shards(cfg)
        harness = Harness(cfg, client, load_task(cfg), log, stop, shard=shard, shards=shards)
        try:
            code = harness.run()
        except Interrupted:
            code = 143
        except Exception as exc:
            from spotworker.errors import WorkerError

            if not isinstance(exc, WorkerError):
                raise
            code = exc.exit_code
    _ = make_client
    raw = out.getvalue()
    return Run(code, [json.loads(line) for line in raw.splitlines()], raw)


def run_subprocess(env: dict[str, str], *, faults: bool = False, timeout: float = 60) -> Run:
    full = {**os.environ, **env}
    cmd = [sys.executable, str(FAULTRUN)] if faults else [sys.executable, "-m", "spotworker"]
    proc = subprocess.run(
        cmd, check=False, env=full, capture_output=True, text=True, timeout=timeout
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return Run(proc.returncode, events, proc.stdout + proc.stderr)


# -- data ------------------------------------------------------------------------
def gen_records(n: int, seed: int, keys: int = 50) -> list[tuple[str, Decimal]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        key = f"k{rnd.randrange(keys):03d}"
        value = Decimal(rnd.randrange(-100_000, 100_000)) / 100
        out.append((key, value))
    return out


def jsonl(records: list[tuple[str, Decimal]], newline: bytes = b"\n") -> bytes:
    return b"".join(
        json.dumps({"key": k, "value": float(v), "pad": "x" * 20}).encode() + newline
        for k, v in records
    )


def expected(
    records: list[tuple[str, Decimal]],
) -> dict[str, tuple[int, Decimal, Decimal, Decimal]]:
    """Independent reference: count, sum, min, max per key."""
    res: dict[str, list[Any]] = {}
    for k, v in records:
        if k not in res:
            res[k] = [0, Decimal(0), v, v]
        r = res[k]
        r[0] += 1
        r[1] += v
        r[2] = min(r[2], v)
        r[3] = max(r[3], v)
    return {k: (r[0], r[1], r[2], r[3]) for k, r in res.items()}


def job_result(
    s3: Any, bucket: str, job: str = "job-1234"
) -> dict[str, tuple[int, Decimal, Decimal, Decimal]]:
    manifests = commit_manifests(s3, bucket, "output/", job)
    merged = aggregate_result(s3, bucket, manifests)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in merged.items()}


def committed_lines(
    s3: Any, bucket: str, kind: str = "parts", job: str = "job-1234"
) -> list[bytes]:
    manifests = commit_manifests(s3, bucket, "output/", job)
    return list(iter_output(s3, bucket, manifests, kind))
