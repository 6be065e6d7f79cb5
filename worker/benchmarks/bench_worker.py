"""Benchmark: the harness against the bare task function, on the moto S3 server.

Not part of the test suite. Run from the repository root:

    .venv/bin/python worker/benchmarks/bench_worker.py            # 100 MB, 250 MB, 1 GB
    .venv/bin/python worker/benchmarks/bench_worker.py --sizes 50,200

It starts ``python -m moto.server`` on 127.0.0.1 (a free port), uploads
generated JSON Lines (50 MB objects), and for each input size runs, each in a
fresh subprocess so that peak RSS (``wait4`` ru_maxrss) is its own:

* bare:    GetObject + 1 MiB reads + split lines + AggregateTask.feed, nothing else
* harness: ``python -m spotworker`` (listing, checkpoints, dead-letter checks, commit)

Then it interrupts the harness on the largest size below 1 GB twice: with SIGTERM
(the safe-point flush means nothing is redone) and with SIGKILL (redone work is
what was read since the last checkpoint, at most one interval).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

OBJECT_MB = 50
MB = 1024 * 1024

BARE = textwrap.dedent(
    """
    import sys, time, boto3
    from spotworker.tasks import AggregateFactory
    bucket, prefix = sys.argv[1], sys.argv[2]
    s3 = boto3.client("s3")
    t0 = time.perf_counter()
    keys = sorted(o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix) for o in p.get("Contents", []))
    factory = AggregateFactory()
    total = records = 0
    for key in keys:
        task = factory.open(key, None)
        feed = task.feed
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        tail = b""
        while chunk := body.read(1 << 20):
            total += len(chunk)
            lines = (tail + chunk).split(b"\\n")
            tail = lines.pop()
            for line in lines:
                if line:
                    feed(line)
                    records += 1
        if tail:
            feed(tail)
            records += 1
        list(task.finish())
    print(total, records, time.perf_counter() - t0)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_object(path: Path, size: int, seed: int) -> int:
    rnd = random.Random(seed)  # noqa: S311 - test data
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    written = lines = 0
    with path.open("wb") as fh:
        while written < size:
            batch = []
            for _ in range(10_000):
                rec = {
                    "key": f"user-{rnd.randrange(5000):05d}",
                    "value": rnd.randrange(-(10**7), 10**7) / 100,
                    "ts": 1_763_000_000 + lines,
                    "tag": rnd.choice(words),
                    "note": " ".join(rnd.choices(words, k=6)),
                }
                batch.append(json.dumps(rec, separators=(",", ":")))
                lines += 1
            data = ("\n".join(batch) + "\n").encode()
            fh.write(data)
            written += len(data)
    return written


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str, float]:
    """(wall s, peak RSS MB, stdout, CPU s) of one subprocess; RSS and CPU from wait4, its own.

    CPU time (user + system) is reported beside wall time because the machine may
    be shared: other processes stretch wall time, much less a process's CPU time.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_chunks = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out_chunks.append(line)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        assert proc.stderr is not None
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss // 1024, b"".join(out_chunks).decode(), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,250,1000", help="input sizes in MB")
    parser.add_argument("--checkpoint-seconds", type=float, default=5.0)
    parser.add_argument("--reps", type=int, default=2, help="runs per size below 1 GB")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {  # the emulator accepts any credentials; these are not secrets
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        s3 = session.client("s3", endpoint_url=endpoint)
        for _ in range(100):
            try:
                s3.list_buckets()
                break
            except Exception:
                time.sleep(0.1)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        with tempfile.TemporaryDirectory() as tmp:
            obj = Path(tmp) / "obj.jsonl"
            obj_bytes = make_object(obj, OBJECT_MB * MB, 1)
            scratch = Path(tmp) / "scratch"
            scratch.mkdir()
            rows = []
            uploaded = 0
            print(
                f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
                f"load {os.getloadavg()[0]:.1f}, objects of {obj_bytes / MB:.1f} MB"
            )
            for size in sizes:
                n_obj = max(1, round(size / OBJECT_MB))
                prefix = f"input-{size}/"
                for i in range(n_obj):
                    s3.upload_file(str(obj), bucket, f"{prefix}{i:04d}.jsonl")
                uploaded = n_obj * obj_bytes
                wenv = {
                    **env,
                    "CFGEN_DATA_BUCKET": bucket,
                    "CFGEN_INPUT_PREFIX": prefix,
                    "AWS_BATCH_JOB_ID": f"bench-{size}",
                    "CFGEN_CHECKPOINT_SECONDS": str(args.checkpoint_seconds),
                    "CFGEN_IMDS_POLL": "0",
                    "TMPDIR": str(scratch),
                }
                # Alternate bare and harness runs and keep the best of each: the
                # machine is shared, and the slowest run says more about neighbours.
                reps = args.reps if size < 1000 else 1
                bare_runs, h_runs = [], []
                for rep in range(reps):
                    bare_runs.append(measure([sys.executable, "-c", BARE, bucket, prefix], env))
                    total, records, _ = bare_runs[-1][2].split()
                    assert int(total) == uploaded
                    h_runs.append(
                        measure(
                            [sys.executable, "-m", "spotworker"],
                            {**wenv, "AWS_BATCH_JOB_ID": f"bench-{size}-{rep}"},
                        )
                    )
                    h_out = h_runs[-1][2]
                    done = next(json.loads(x) for x in h_out.splitlines() if '"done"' in x)
                    assert done["records"] == int(records), done
                    assert done["bytes"] == uploaded, done
                bare_s = min(r[0] for r in bare_runs)
                bare_cpu = min(r[3] for r in bare_runs)
                bare_rss = max(r[1] for r in bare_runs)
                h_s = min(r[0] for r in h_runs)
                h_cpu = min(r[3] for r in h_runs)
                h_rss = max(r[1] for r in h_runs)
                rows.append((size, uploaded, int(records), bare_s, bare_rss, h_s, h_rss))
                mb = uploaded / MB
                print(
                    f"{mb:6.0f} MB {int(records):>10,} rec, best of {reps}, load "
                    f"{os.getloadavg()[0]:.1f}\n"
                    f"    bare    wall {bare_s:6.1f} s {mb / bare_s:5.1f} MB/s  "
                    f"cpu {bare_cpu:6.1f} s {mb / bare_cpu:5.1f} MB/s  peak rss {bare_rss:3d} MB\n"
                    f"    harness wall {h_s:6.1f} s {mb / h_s:5.1f} MB/s  "
                    f"cpu {h_cpu:6.1f} s {mb / h_cpu:5.1f} MB/s  peak rss {h_rss:3d} MB\n"
                    f"    overhead wall {100 * (h_s / bare_s - 1):+5.1f} %  "
                    f"cpu {100 * (h_cpu / bare_cpu - 1):+5.1f} %",
                    flush=True,
                )
            interrupt_size = max([s for s in sizes if s < 1000] or sizes)
            print(
                f"\ninterruptions on {interrupt_size} MB, checkpoint every "
                f"{args.checkpoint_seconds:g} s:"
            )
            for sig in (signal.SIGTERM, signal.SIGKILL):
                job = f"bench-int-{sig.name}"
                wenv = {
                    **env,
                    "CFGEN_DATA_BUCKET": bucket,
                    "CFGEN_INPUT_PREFIX": f"input-{interrupt_size}/",
                    "AWS_BATCH_JOB_ID": job,
                    "CFGEN_CHECKPOINT_SECONDS": str(args.checkpoint_seconds),
                    "CFGEN_IMDS_POLL": "0",
                    "TMPDIR": str(scratch),
                }
                proc = subprocess.Popen(
                    [sys.executable, "-m", "spotworker"],
                    env=wenv,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert proc.stdout is not None
                last_ckpt: dict[str, Any] = {}
                checkpoints = 0
                for line in proc.stdout:
                    event = json.loads(line)
                    if event["event"] == "checkpoint":
                        last_ckpt = event
                        last_ckpt["_t"] = time.monotonic()
                        checkpoints += 1
                        if checkpoints == 2:
                            # land between two checkpoints, 60 % into the interval
                            time.sleep(0.6 * args.checkpoint_seconds)
                            killed_at = time.monotonic()
                            proc.send_signal(sig)
                            break
                rest = proc.stdout.read()
                code = proc.wait()
                interrupt = [json.loads(x) for x in rest.splitlines() if '"interrupt"' in x]
                durable = interrupt[0]["bytes"] if interrupt else last_ckpt["bytes"]
                rate = last_ckpt["rate_bytes_s"]
                lost_s = 0.0 if interrupt else killed_at - last_ckpt["_t"]
                _, _, out2, _ = measure(
                    [sys.executable, "-m", "spotworker"], {**wenv, "AWS_BATCH_JOB_ATTEMPT": "2"}
                )
                ev2 = [json.loads(x) for x in out2.splitlines()]
                if any(e.get("status") == "already_committed" for e in ev2):
                    print(f"  {sig.name}: the run finished before the signal (exit {code})")
                    continue
                resume = next(e for e in ev2 if e["event"] == "resume")
                done = next(e for e in ev2 if e["event"] == "done")
                assert resume["bytes"] == durable, (resume, durable)
                expect = next(r[2] for r in rows if r[0] == interrupt_size)
                assert done["records"] == expect, (done, expect)
                redo_mb = (lost_s * rate) / MB
                print(
                    f"  {sig.name}: exit {code}, durable at {durable / MB:.1f} MB, "
                    f"resume from {resume['bytes'] / MB:.1f} MB, redone ~{redo_mb:.1f} MB "
                    f"({lost_s:.1f} s of work; interval {args.checkpoint_seconds:g} s = "
                    f"{args.checkpoint_seconds * rate / MB:.1f} MB at {rate / MB:.1f} MB/s), "
                    f"final {done['status']}, records {done['records']:,}"
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
