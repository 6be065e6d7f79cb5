"""Helpers for the worker tests (data, runners, result readers)."""

from __future__ import annotations

import io
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from spotworker import entry
from spotworker.config import load_config
from spotworker.interrupt import StopFlag
from spotworker.logs import EventLog
from spotworker.results import aggregate_result, commit_manifests, iter_output

WORKER_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = WORKER_DIR.parent
TESTS_DIR = Path(__file__).resolve().parent
WORKER_CMD = [sys.executable, "-m", "spotworker"]
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


def direct_s3(endpoint: str) -> Any:
    """A boto3 S3 client of the emulator with the test credentials (for module fixtures,
    which run before the per-test environment is set)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
    )


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
        self.stdout = raw
        self.stderr = ""

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]


def run_inprocess(env: dict[str, str], *, stop: StopFlag | None = None) -> Run:
    """Run one shard in this process through the real ``__main__.run`` (quick tests
    of data handling; faults and signals go through :func:`run_subprocess`)."""
    cfg = load_config(env)
    out = io.StringIO()
    log = EventLog(out, job_id=cfg.job_id, array_index=cfg.array_index, attempt=cfg.attempt)
    code = entry.run(cfg, log, stop or StopFlag())
    raw = out.getvalue()
    return Run(code, [json.loads(line) for line in raw.splitlines()], raw)


def run_subprocess(
    env: dict[str, str],
    *,
    timeout: float = 60,
    argv: list[str] | None = None,
    prefix: list[str] | None = None,
) -> Run:
    """``python -m spotworker [argv]`` with ``env`` over this process's environment."""
    full = {**os.environ, **env}
    cmd = [*(prefix or []), *WORKER_CMD, *(argv or [])]
    proc = subprocess.run(
        cmd, check=False, env=full, capture_output=True, text=True, timeout=timeout
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    run = Run(proc.returncode, events, proc.stdout + proc.stderr)
    run.stdout, run.stderr = proc.stdout, proc.stderr
    return run


class Worker:
    """A worker subprocess whose JSON log lines are read as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            WORKER_CMD,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            if line.startswith("{"):
                self._q.put(json.loads(line))
        self._q.put(None)

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            event = self._q.get(timeout=max(deadline - time.monotonic(), 0.01))
            if event is None:
                raise AssertionError("worker ended before the trigger:\n" + "".join(self.raw))
            self.events.append(event)
            if pred(event):
                return

    def finish(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout=timeout)
        while (event := self._q.get(timeout=5)) is not None:
            self.events.append(event)
        return code

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]


def nth(name: str, n: int = 1, **match: Any) -> Callable[[dict[str, Any]], bool]:
    seen = {"n": 0}

    def pred(event: dict[str, Any]) -> bool:
        if event["event"] == name and all(event.get(k) == v for k, v in match.items()):
            seen["n"] += 1
        return seen["n"] >= n

    return pred


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
    s3: Any, bucket: str, job: str = "job-1234", shards: int | None = None
) -> dict[str, tuple[int, Decimal, Decimal, Decimal]]:
    manifests = commit_manifests(s3, bucket, "output/", job, shards)
    merged = aggregate_result(s3, bucket, manifests)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in merged.items()}


def committed_lines(
    s3: Any, bucket: str, kind: str = "parts", job: str = "job-1234"
) -> list[bytes]:
    manifests = commit_manifests(s3, bucket, "output/", job)
    return list(iter_output(s3, bucket, manifests, kind))
