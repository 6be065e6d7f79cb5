"""A seeded chaos run of ``python -m spotworker`` against the emulator.

Random SIGTERM, SIGKILL, racing attempts of one shard (each attempt with the
batch or the per-record task API, in one or two processes), Spot interruption
notices (a fake IMDS on 127.0.0.1, polled because ECS_CONTAINER_METADATA_URI_V4
is set as in an ECS task) and bodies cut by the fault proxy, on an array job;
every shard is retried the way the job definition's RetryStrategy does (75, 143
and a vanished host are retried) until it commits. Then ``spotworker merge``.

The expected result is computed here from the generated records, with
fractions, and the committed dead letters are read from the commit markers with
plain boto3 and json: nothing of the worker's code decides what is right.

Used by tests/test_worker_chaos.py (small, about 30 s) and by
benchmarks/chaos.py (more seeds, more attempts).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from fakeimds import FakeIMDS
from faultproxy import FaultProxy
from swtestlib import WORKER_CMD, worker_env

KEYS = ["a", "b", "c", "ключ", "🙂", "x y", 'q"uote', "k\\back"]
#: exit codes an attempt may end with in a chaos run: done, transient, interrupted, killed
ALLOWED = {0, 75, 143, -signal.SIGKILL}


@dataclass
class Plan:
    seed: int
    shards: int = 3
    objects: int = 6
    lines: int = 1500
    #: chaos attempts per shard before clean retries
    chaos_attempts: int = 4
    #: after this many seconds, no more chaos (clean retries only)
    seconds: float = 40.0
    #: input bytes per second through the proxy (so signals land mid-run)
    rate: int = 200_000


@dataclass
class Expected:
    count: dict[str, int] = field(default_factory=dict)
    total: dict[str, Fraction] = field(default_factory=dict)
    lo: dict[str, Fraction] = field(default_factory=dict)
    hi: dict[str, Fraction] = field(default_factory=dict)
    bad: list[tuple[str, int]] = field(default_factory=list)

    def add(self, key: str, value: Fraction) -> None:
        if key not in self.count:
            self.count[key], self.total[key], self.lo[key], self.hi[key] = (
                0,
                Fraction(0),
                value,
                value,
            )
        self.count[key] += 1
        self.total[key] += value
        self.lo[key] = min(self.lo[key], value)
        self.hi[key] = max(self.hi[key], value)


def _number(rnd: random.Random) -> str:
    kind = rnd.random()
    if kind < 0.5:
        return f"{rnd.randint(-99999, 99999) / 100:.2f}"
    if kind < 0.8:
        return str(rnd.randint(-(10**12), 10**12))
    return f"{rnd.randint(-999, 999)}e{rnd.randint(-40, 40)}"


def make_inputs(rnd: random.Random, plan: Plan) -> tuple[dict[str, bytes], Expected]:
    """Input objects (JSON Lines and CSV, some bad lines) and their expected result."""
    want = Expected()
    bodies: dict[str, bytes] = {}
    for i in range(plan.objects):
        csv = i % 3 == 2
        key = f"input/part-{i:02d}.{'csv' if csv else 'jsonl'}"
        lines = ["key,value"] if csv else []
        for _ in range(plan.lines):
            line_no = len(lines) + 1
            if rnd.random() < 0.01:
                lines.append(
                    rnd.choice(["not json", '{"key": 5}', '{"key": "a", "value": NaN}', "a,b,c"])
                )
                want.bad.append((key, line_no))
                continue
            k, text = rnd.choice(KEYS), _number(rnd)
            if csv:
                quoted = '"' + k.replace('"', '""') + '"'
                lines.append(f"{quoted},{text}")
            else:
                lines.append(json.dumps({"key": k, "value": "@"}).replace('"@"', text))
            want.add(k, Fraction(text))
        bodies[key] = ("\n".join(lines) + "\n").encode("utf-8")
    want.bad.sort()
    return bodies, want


class Attempt:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                WORKER_CMD, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
            )

    def signal_later(self, delay: float, signum: int) -> None:
        def send() -> None:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(signum)

        threading.Timer(delay, send).start()

    def wait(self, timeout: float = 120) -> int:
        return self.proc.wait(timeout=timeout)


@dataclass
class Report:
    seed: int
    attempts: int = 0
    codes: dict[int, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def run_chaos(
    plan: Plan, *, s3: Any, bucket: str, proxy: FaultProxy, imds: FakeIMDS, tmp: Path
) -> Report:
    rnd = random.Random(plan.seed)
    # one generator per shard: the shards run in threads, each draws from its own
    rnds = {s: random.Random(f"{plan.seed}-{s}") for s in range(plan.shards)}
    report = Report(plan.seed)
    started = time.monotonic()
    bodies, want = make_inputs(rnd, plan)
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    job = f"chaos-{plan.seed}"
    # network chaos for the whole run: a few bodies cut by FIN and by RST
    for action in ("fin", "rst"):
        proxy.add(
            action=action,
            method="GET",
            path="/input/",
            after=rnd.randint(0, 5000),
            times=rnd.randint(1, 4),
        )
    proxy.add(action="throttle", method="GET", path="/input/", times=-1, rate=plan.rate)
    committed: set[int] = set()
    tries = dict.fromkeys(range(plan.shards), 0)

    def env_for(shard: int, attempt: int, notice: float | None) -> dict[str, str]:
        rnd = rnds[shard]
        scratch = tmp / f"host-{shard % 2}"  # two "hosts": racing attempts share a scratch root
        scratch.mkdir(exist_ok=True)
        env = worker_env(
            bucket,
            scratch,
            AWS_BATCH_JOB_ID=f"{job}:{shard}",
            AWS_BATCH_JOB_ARRAY_INDEX=shard,
            AWS_BATCH_JOB_ATTEMPT=attempt,
            CFGEN_ARRAY_SIZE=plan.shards,
            CFGEN_CHECKPOINT_SECONDS=rnd.choice([0, 0.1, 0.3]),
            CFGEN_READ_CHUNK_BYTES=rnd.choice([1024, 4096, 16384]),
            CFGEN_MAX_BAD_RATIO=0.05,
            # both task APIs and the process pool, mixed across the attempts of a shard
            # (a checkpoint of one is resumed by another)
            CFGEN_TASK=rnd.choice(["aggregate", "aggregate_per_record"]),
            CFGEN_PROCESSES=rnd.choice([1, 1, 2]),
            CFGEN_IMDS_POLL="auto",
            AWS_EC2_METADATA_DISABLED="",
            ECS_CONTAINER_METADATA_URI_V4="http://127.0.0.1:9/v4/not-contacted",
            CFGEN_IMDS_INTERVAL_SECONDS=0.1,
            AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint(f"{job}-{shard}-{attempt}", notice),
        )
        return {**env, "AWS_ENDPOINT_URL": proxy.url}

    def one_round(shard: int) -> None:
        rnd = rnds[shard]
        chaos = tries[shard] < plan.chaos_attempts and time.monotonic() - started < plan.seconds
        action = rnd.choice(["clean", "sigterm", "sigkill", "race", "spot"]) if chaos else "clean"
        report.actions[action] = report.actions.get(action, 0) + 1
        attempts = []
        for _ in range(2 if action == "race" else 1):
            tries[shard] += 1
            notice = rnd.uniform(0.2, 2.0) if action == "spot" else None
            log = tmp / f"log-{shard}-{tries[shard]}.txt"
            attempts.append(Attempt(env_for(shard, tries[shard], notice), log))
        if action in {"sigterm", "race"}:
            attempts[0].signal_later(rnd.uniform(0.3, 2.5), signal.SIGTERM)
        if action == "sigkill" or (action == "race" and rnd.random() < 0.5):
            attempts[-1].signal_later(rnd.uniform(0.3, 2.5), signal.SIGKILL)
        for att in attempts:
            code = att.wait()
            report.attempts += 1
            report.codes[code] = report.codes.get(code, 0) + 1
            early = code == -signal.SIGTERM and not att.log.read_bytes()
            if code not in ALLOWED and not early:  # (early: killed before Python ran the worker)
                report.problems.append(f"shard {shard}: exit {code}: {att.log.read_text()[-3000:]}")
            if code == 0:
                committed.add(shard)

    while len(committed) < plan.shards and not report.problems:
        pending = [s for s in range(plan.shards) if s not in committed]
        if max(tries[s] for s in pending) > plan.chaos_attempts + 8:
            report.problems.append(f"shards {pending} never committed")
            break
        threads = [threading.Thread(target=one_round, args=(s,)) for s in pending]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if not report.problems:
        report.problems += check(
            plan, s3=s3, bucket=bucket, job=job, want=want, proxy=proxy, tmp=tmp
        )
    report.elapsed_s = round(time.monotonic() - started, 1)
    return report


def check(
    plan: Plan, *, s3: Any, bucket: str, job: str, want: Expected, proxy: FaultProxy, tmp: Path
) -> list[str]:
    """Merge, then compare with the expected result (read with boto3 and json only)."""
    problems = []
    proxy.clear()
    env = {**worker_env(bucket, tmp), "AWS_ENDPOINT_URL": proxy.url}
    merge = subprocess.run(
        [*WORKER_CMD, "merge", "--job-id", job, "--shards", str(plan.shards)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if merge.returncode != 0:
        return [f"merge exit {merge.returncode}: {merge.stderr}"]
    body = s3.get_object(Bucket=bucket, Key=f"output/{job}/result.jsonl")["Body"].read()
    got = {r["key"]: r for r in map(json.loads, body.splitlines())}
    if sorted(got) != sorted(want.count):
        problems.append(f"keys {sorted(got)} != {sorted(want.count)}")
    for key in set(want.count) & set(got):
        row = got[key]
        have = (row["count"], *(Fraction(row[f]) for f in ("sum", "min", "max")))
        need = (want.count[key], want.total[key], want.lo[key], want.hi[key])
        if have != need:
            problems.append(f"key {key!r}: got {have}, expected {need}")
    prefix = f"output/{job}/_commits/"
    markers = [
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    ]
    names = [f"{prefix}shard-{i:05d}-of-{plan.shards:05d}.json" for i in range(plan.shards)]
    if sorted(markers) != names:
        problems.append(f"commit markers {markers} != {names}")
    dead: list[tuple[str, int]] = []
    for name in names:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=name)["Body"].read())
        for obj in manifest["objects"]:
            for key in obj["deadletters"]:
                data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                dead += [(d["object"], d["line"]) for d in map(json.loads, data.splitlines())]
    if sorted(dead) != want.bad:
        problems.append(f"dead letters {sorted(dead)[:20]} != {want.bad[:20]} (or duplicated)")
    return problems
