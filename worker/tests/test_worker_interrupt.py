"""SIGTERM, SIGKILL, the Spot notice and racing attempts, on real subprocesses.

The worker runs as ``python -m spotworker`` against the moto server through the
fault proxy (tests/faultproxy.py), which slows the input down so that a signal
lands mid-run, holds a checkpoint PUT while the test signals, or holds two
attempts' commit PUTs until both have sent theirs.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fakeimds import FakeIMDS
from faultproxy import FaultProxy
from spotworker import exitcodes
from swtestlib import (
    ACCESS_KEY,
    SECRET,
    TESTS_DIR,
    Worker,
    base_env,
    committed_lines,
    direct_s3,
    expected,
    gen_records,
    job_result,
    jsonl,
    nth,
    run_subprocess,
    worker_env,
)

N_OBJECTS = 3
LINES = 6000
BAD_LINES = {17, 2500, 5999}  # per object, 1-based
# About 1 MB/s of input per connection (the proxy's throttle), read in 16 KiB chunks:
# the job takes about a second, the next object's GET sent 0.1 s ahead included, so
# that several checkpoints (every 0.2 s) fall inside it.
RATE = 1_000_000
#: the ways of running the example task: the batch API (the default), the per-record
#: API, and the batch API in two worker processes. All give the same output (the
#: reference below is the default), and a checkpoint of one resumes in another.
MODES = {
    "batch": {},
    "per-record": {"CFGEN_TASK": "aggregate_per_record"},
    "2-processes": {"CFGEN_PROCESSES": "2"},
}


def slow_env(
    proxy: FaultProxy, bucket: str, tmp_path: Path, mode: str = "batch", **extra: Any
) -> dict[str, str]:
    proxy.add(action="throttle", method="GET", path="/input/", times=-1, rate=RATE)
    env = worker_env(bucket, tmp_path, CFGEN_READ_CHUNK_BYTES=16384, **{**MODES[mode], **extra})
    return {**env, "AWS_ENDPOINT_URL": proxy.url}


def make_inputs(s3: Any, bucket: str) -> list[Any]:
    allrecs = []
    for i in range(N_OBJECTS):
        recs = gen_records(LINES - len(BAD_LINES), 100 + i)
        lines = jsonl(recs).split(b"\n")[:-1]
        for n in sorted(BAD_LINES):
            lines.insert(n - 1, b'{"key": broken')
        s3.put_object(Bucket=bucket, Key=f"input/{i}.jsonl", Body=b"\n".join(lines) + b"\n")
        allrecs.extend(recs)
    return allrecs


@pytest.fixture(scope="module")
def reference(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted run (plain ``python -m spotworker``) of the same input."""
    s3 = direct_s3(moto_endpoint)
    bucket = f"ref-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    recs = make_inputs(s3, bucket)
    tmp = tmp_path_factory.mktemp("ref")
    env = {**base_env(moto_endpoint), **worker_env(bucket, tmp, CFGEN_CHECKPOINT_SECONDS=0.2)}
    run = run_subprocess(env)
    assert run.code == 0, run.raw
    return {
        "records": recs,
        "parts": committed_lines(s3, bucket),
        "deadletters": committed_lines(s3, bucket, "deadletters"),
    }


def check_resume(s3: Any, bucket: str, env: dict[str, str], reference: dict[str, Any]) -> Any:
    again = run_subprocess(
        {**env, "AWS_BATCH_JOB_ATTEMPT": "2", "AWS_ENDPOINT_URL": s3.meta.endpoint_url}
    )
    assert again.code == 0, again.raw
    # identical to the uninterrupted run: same parts, same dead letters, once each
    assert committed_lines(s3, bucket) == reference["parts"]
    dead = committed_lines(s3, bucket, "deadletters")
    assert dead == reference["deadletters"]
    assert len(dead) == N_OBJECTS * len(BAD_LINES)
    assert job_result(s3, bucket) == expected(reference["records"])
    assert SECRET not in again.raw and ACCESS_KEY not in again.raw
    return again


TRIGGERS = {
    "first-object": lambda: nth("object_start"),  # before any checkpoint
    "first-checkpoint": lambda: nth("checkpoint"),
    "between-objects": lambda: nth("progress", object_done=True),
    "fourth-checkpoint": lambda: nth("checkpoint", 4),
}


@pytest.mark.parametrize(
    ("mode", "trigger"),
    [
        *(("batch", t) for t in TRIGGERS),
        ("per-record", "first-checkpoint"),
        ("per-record", "between-objects"),
        ("2-processes", "first-object"),
        ("2-processes", "first-checkpoint"),
        ("2-processes", "between-objects"),
    ],
)
def test_sigterm_then_resume_is_identical(
    s3: Any,
    bucket: str,
    *,
    tmp_path: Path,
    reference: dict[str, Any],
    mode: str,
    trigger: str,
    proxy: FaultProxy,
) -> None:
    make_inputs(s3, bucket)
    env = slow_env(proxy, bucket, tmp_path, mode, CFGEN_CHECKPOINT_SECONDS=0.2)
    worker = Worker(env)
    worker.wait_for(TRIGGERS[trigger]())
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.finish() == exitcodes.INTERRUPTED, "".join(worker.raw)
    interrupt = worker.named("interrupt")[0]
    assert interrupt["reason"] == "SIGTERM" and interrupt["flush_s"] < 10
    assert worker.named("checkpoint")[-1]["bytes"] == interrupt["bytes"]
    again = check_resume(s3, bucket, env, reference)
    resume = again.named("resume")[0]
    # nothing between the interrupt's flush and the resume is lost or redone
    assert resume["source"] == "checkpoint" and resume["bytes"] == interrupt["bytes"]
    assert resume["bad"] == interrupt["bad"]


def test_second_sigterm_during_checkpoint(
    s3: Any, bucket: str, tmp_path: Path, reference: dict[str, Any], proxy: FaultProxy
) -> None:
    make_inputs(s3, bucket)
    env = slow_env(proxy, bucket, tmp_path, CFGEN_CHECKPOINT_SECONDS=0.2)
    held = proxy.add(action="delay", method="PUT", path="/checkpoints/", skip=1, seconds=0.5)
    worker = Worker(env)
    assert held.arrived.wait(30), "".join(worker.raw)  # the second checkpoint PUT is in flight
    worker.proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.finish() == exitcodes.INTERRUPTED, "".join(worker.raw)
    interrupt = worker.named("interrupt")[0]
    assert interrupt["signals"] == 2
    seqs = [e["seq"] for e in worker.named("checkpoint")]
    # The checkpoint the signals hit completed, and being a safe point already it
    # was the last one: the worker stopped right after it.
    assert seqs == [1, 2]
    assert interrupt["bytes"] == worker.named("checkpoint")[-1]["bytes"]
    check_resume(s3, bucket, env, reference)


@pytest.mark.parametrize("mode", MODES)
def test_sigkill_loses_at_most_one_checkpoint_interval(
    s3: Any, bucket: str, *, tmp_path: Path, reference: dict[str, Any], proxy: FaultProxy, mode: str
) -> None:
    make_inputs(s3, bucket)
    env = slow_env(proxy, bucket, tmp_path, mode, CFGEN_CHECKPOINT_SECONDS=0.2)
    worker = Worker(env)
    children: list[int] = []
    if mode == "2-processes":
        worker.wait_for(nth("pool_start"))
        while len(children) < 2 and worker.proc.poll() is None:
            time.sleep(0.02)
            children = child_pids(worker.proc.pid)
        assert len(children) >= 2, children
    worker.wait_for(nth("checkpoint", 3))
    worker.proc.kill()
    assert worker.finish() == -signal.SIGKILL
    # the worker processes die with it (PR_SET_PDEATHSIG): nothing keeps running
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    durable = worker.named("checkpoint")[-1]["bytes"]  # the last one it reported
    again = check_resume(s3, bucket, env, reference)
    # It resumes at the last checkpoint (one more may have landed unreported in the
    # instant before the kill), so at most one checkpoint interval is redone.
    assert again.named("resume")[0]["bytes"] >= durable


def test_spot_notice_stops_like_sigterm(
    s3: Any,
    bucket: str,
    *,
    tmp_path: Path,
    reference: dict[str, Any],
    imds: FakeIMDS,
    proxy: FaultProxy,
) -> None:
    """In an ECS task (ECS_CONTAINER_METADATA_URI_V4 set), auto polling sees the notice."""
    make_inputs(s3, bucket)
    env = slow_env(
        proxy,
        bucket,
        tmp_path,
        CFGEN_CHECKPOINT_SECONDS=0.2,
        CFGEN_IMDS_POLL="auto",
        AWS_EC2_METADATA_DISABLED="",
        ECS_CONTAINER_METADATA_URI_V4="http://127.0.0.1:9/v4/not-contacted",
        CFGEN_IMDS_INTERVAL_SECONDS=0.1,
        AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint("a1", notice_in=0.3),
    )
    worker = Worker(env)
    assert worker.finish() == exitcodes.INTERRUPTED, "".join(worker.raw)
    assert worker.named("spot_notice")
    assert worker.named("interrupt")[0]["reason"] == "spot_notice"
    check_resume(s3, bucket, {**env, "CFGEN_IMDS_POLL": "0"}, reference)
    assert imds.polls("a1") >= 1


def child_pids(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize(("mode", "other"), [("batch", "batch"), ("2-processes", "per-record")])
def test_racing_attempts_commit_once(
    s3: Any,
    bucket: str,
    *,
    tmp_path: Path,
    reference: dict[str, Any],
    proxy: FaultProxy,
    mode: str,
    other: str,
) -> None:
    """Two attempts of one shard at once: one commits, the other loses the race; the
    committed parts and dead letters are byte for byte those of an uninterrupted run."""
    make_inputs(s3, bucket)
    barrier = proxy.add(action="barrier", method="PUT", header="if-none-match", parties=2, times=2)
    for n in (1, 2):
        (tmp_path / str(n)).mkdir()
    roots = {1: tmp_path / "1", 2: tmp_path / "2"}
    modes = {1: mode, 2: other}
    workers = [
        Worker(
            slow_env(
                proxy,
                bucket,
                roots[n],
                modes[n],
                AWS_BATCH_JOB_ATTEMPT=n,
                CFGEN_CHECKPOINT_SECONDS=0.1,
            )
        )
        for n in (1, 2)
    ]
    codes = [w.finish() for w in workers]
    assert codes == [0, 0], ["".join(w.raw) for w in workers]
    assert barrier.hits == 2  # both really sent the conditional PUT
    assert not list((tmp_path / "1" / "scratch").iterdir())  # each removed its own scratch
    statuses = sorted(w.named("done")[0]["status"] for w in workers)
    assert statuses == ["commit_lost_race", "committed"]
    commits = s3.list_objects_v2(Bucket=bucket, Prefix="output/job-1234/_commits/")
    assert commits["KeyCount"] == 1
    assert committed_lines(s3, bucket) == reference["parts"]
    assert committed_lines(s3, bucket, "deadletters") == reference["deadletters"]


def test_two_attempts_on_one_scratch_root_byte_for_byte(
    s3: Any, bucket: str, tmp_path: Path, proxy: FaultProxy, moto_endpoint: str
) -> None:
    """Two attempts of one shard at once on one scratch root, dead letters in every
    chunk and a flush after every chunk (so both write scratch files all the time):
    the committed output and dead letters equal, byte for byte, those of a single
    attempt on another bucket, and the dead letters are exactly the bad lines."""
    bodies, bad_lines = {}, {}
    for i in range(2):
        lines = jsonl(gen_records(800, 300 + i)).split(b"\n")[:-1]
        for n in range(7, len(lines), 23):
            lines[n] = b'{"key": broken %d' % n
        bodies[f"input/{i}.jsonl"] = b"\n".join(lines) + b"\n"
        bad_lines[f"input/{i}.jsonl"] = list(range(8, len(lines) + 1, 23))
    knobs = {
        "CFGEN_CHECKPOINT_SECONDS": 0,
        "CFGEN_READ_CHUNK_BYTES": 2048,
        "CFGEN_MAX_BAD_RATIO": 0.1,
    }
    ref_bucket = f"ref-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=ref_bucket)
    for b in (bucket, ref_bucket):
        for key, body in bodies.items():
            s3.put_object(Bucket=b, Key=key, Body=body)
    (tmp_path / "ref").mkdir()
    ref = run_subprocess(worker_env(ref_bucket, tmp_path / "ref", **knobs))
    assert ref.code == 0, ref.raw
    proxy.add(action="barrier", method="PUT", header="if-none-match", parties=2, times=2)
    proxy.add(action="throttle", method="GET", path="/input/", times=-1, rate=250_000)
    env = {**worker_env(bucket, tmp_path, **knobs), "AWS_ENDPOINT_URL": proxy.url}
    workers = [Worker({**env, "AWS_BATCH_JOB_ATTEMPT": str(n)}) for n in (1, 2)]
    codes = [w.finish(timeout=60) for w in workers]
    assert codes == [0, 0], ["".join(w.raw) for w in workers]
    dead = committed_lines(s3, bucket, "deadletters")
    assert dead == committed_lines(s3, ref_bucket, "deadletters")
    assert committed_lines(s3, bucket) == committed_lines(s3, ref_bucket)
    got = [(d["object"], d["line"]) for d in map(json.loads, dead)]
    assert got == [(k, n) for k in sorted(bad_lines) for n in bad_lines[k]]
    assert not list((tmp_path / "scratch").iterdir())


@pytest.mark.parametrize(("task", "retry"), [("upper", "upper"), ("upper_batch", "upper")])
def test_sigterm_map_task_parts_identical(
    s3: Any, bucket: str, *, tmp_path: Path, proxy: FaultProxy, task: str, retry: str
) -> None:
    """A streaming (map-style) task, per record or through the batch API (and resumed by
    the per-record one): its bytes-<a>-<b> parts tile the input exactly."""
    recs = gen_records(20_000, 77)
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=jsonl(recs))
    env = slow_env(
        proxy,
        bucket,
        tmp_path,
        CFGEN_TASK=f"sw_example_tasks:{task}",
        CFGEN_CHECKPOINT_SECONDS=0.2,
        PYTHONPATH=str(TESTS_DIR),
    )
    worker = Worker(env)
    worker.wait_for(nth("checkpoint", 2))
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.finish() == exitcodes.INTERRUPTED, "".join(worker.raw)
    proxy.clear()
    again = run_subprocess(
        {**env, "AWS_BATCH_JOB_ATTEMPT": "2", "CFGEN_TASK": f"sw_example_tasks:{retry}"}
    )
    assert again.code == 0, again.raw
    lines = committed_lines(s3, bucket)
    want = [json.dumps({"n": i + 1, "KEY": k.upper()}).encode() for i, (k, _) in enumerate(recs)]
    assert lines == [*want, json.dumps({"total": len(recs)}).encode()]


def test_hung_flush_still_exits_143_within_grace(
    s3: Any, bucket: str, tmp_path: Path, reference: dict[str, Any], proxy: FaultProxy
) -> None:
    """If the flush hangs, exit 143 before ECS's SIGKILL (137 would not be retried)."""
    make_inputs(s3, bucket)
    env = slow_env(proxy, bucket, tmp_path, CFGEN_CHECKPOINT_SECONDS=0.2, CFGEN_GRACE_SECONDS=1)
    proxy.add(action="delay", method="PUT", path="/checkpoints/", times=-1, seconds=20)
    worker = Worker(env)
    worker.wait_for(nth("object_start"))
    worker.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert worker.finish() == exitcodes.INTERRUPTED, "".join(worker.raw)
    assert time.monotonic() - started < 10
    assert worker.named("grace_expired"), "".join(worker.raw)
    assert not worker.named("interrupt")  # the flush never finished
    check_resume(s3, bucket, env, reference)


def test_sigterm_to_the_worker_processes_themselves(
    s3: Any, bucket: str, tmp_path: Path, reference: dict[str, Any], proxy: FaultProxy
) -> None:
    """A SIGTERM that reaches the pool's processes and not the parent (a process group's
    signal, a stray kill): the attempt stops like on a SIGTERM to the parent, 143, and
    the retry is exact."""
    make_inputs(s3, bucket)
    env = slow_env(proxy, bucket, tmp_path, "2-processes", CFGEN_CHECKPOINT_SECONDS=0.2)
    worker = Worker(env)
    worker.wait_for(nth("pool_start"))
    children: list[int] = []
    while len(children) < 2 and worker.proc.poll() is None:
        time.sleep(0.01)
        children = child_pids(worker.proc.pid)
    for pid in children:  # at once, while they may still be starting
        os.kill(pid, signal.SIGTERM)
    assert worker.finish() == exitcodes.INTERRUPTED, "".join(worker.raw)
    interrupt = worker.named("interrupt")[0]
    again = check_resume(s3, bucket, env, reference)
    assert again.named("resume")[0]["bytes"] == interrupt["bytes"]
