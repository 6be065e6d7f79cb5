"""Benchmark: the harness against the S3 floor and an established engine, on the moto server.

Not part of the test suite. Needs the worker's ``bench`` extra (Polars). Run from the
repository root:

    .venv/bin/python -m pip install -e './worker[bench]'
    .venv/bin/python worker/benchmarks/bench_worker.py            # 100 MB, 250 MB, 1 GB
    .venv/bin/python worker/benchmarks/bench_worker.py --sizes 50,200 --no-interrupt

It starts ``python -m moto.server`` on 127.0.0.1 (a free port), uploads
generated JSON Lines (50 MB objects), and for each input size runs side by side,
on the same objects of the same server, each in a fresh subprocess so that CPU
time and peak RSS (``wait4``: the process and the children it waited for; RSS is
the largest single process, VmHWM, and beside it the largest anonymous RSS, the
same without the libraries' mapped files) are its own:

* (a) floor:        GetObject of every object, 1 MiB reads, nothing else
* (b) noop:         ``python -m spotworker`` with a batch task that does nothing
* (c1) per-record:  the example aggregate through the per-record API (json module)
* (c2) batch:       the example aggregate through the batch API (the C scan and fold where built)
* (c3) batch xN:    the same in N worker processes (CFGEN_PROCESSES=N, N = CPUs)
* (d) polars:       Polars ``scan_ndjson`` of ``s3://bucket/prefix/*.jsonl`` (its own S3
                    client, all its threads), group by key: count, sum, min, max of value
                    read as Float64 (floats: not exact, unlike the worker's decimals)

Then it interrupts the harness (the default task) on the largest size below 1 GB
twice: with SIGTERM (the safe-point flush means nothing is redone) and with
SIGKILL (redone work is what was read since the last checkpoint, at most one
interval).
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
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

OBJECT_MB = 50
MB = 1024 * 1024

FLOOR = textwrap.dedent(
    """
    import sys, time, boto3
    bucket, prefix = sys.argv[1], sys.argv[2]
    s3 = boto3.client("s3")
    keys = sorted(o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix) for o in p.get("Contents", []))
    total = 0
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        while chunk := body.read(1 << 20):
            total += len(chunk)
    print(total)
    """
)

POLARS = textwrap.dedent(
    """
    import os, sys, polars as pl
    bucket, prefix = sys.argv[1], sys.argv[2]
    opts = {
        "aws_endpoint_url": os.environ["AWS_ENDPOINT_URL"],
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "aws_region": os.environ["AWS_DEFAULT_REGION"],
        "aws_allow_http": "true",
    }
    value = pl.col("value")
    df = (
        pl.scan_ndjson(f"s3://{bucket}/{prefix}*.jsonl", storage_options=opts,
                       schema={"key": pl.String, "value": pl.Float64})
        .group_by("key")
        .agg(pl.len().alias("count"), value.sum().alias("sum"), value.min().alias("min"),
             value.max().alias("max"))
        .sort("key")
        .collect()
    )
    print(int(df["count"].sum()), df.height)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mib_batches(data: bytes) -> list[bytes]:
    """``data`` cut as the harness cuts it: batches of whole lines of about 1 MiB each,
    each without its final newline."""
    batches: list[bytes] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos + MB)
        end = len(data) if end < 0 else end + 1
        batches.append(data[pos : end - 1])
        pos = end
    return batches


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


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += frontier
    return found


def _rss_mb(pid: int) -> tuple[int, int]:
    """(VmHWM, RssAnon) of a process in MB, (0, 0) if gone: the peak RSS since its
    exec, and its anonymous (private, not file-backed) memory now."""
    found = {"VmHWM": 0, "RssAnon": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name = line.split(":", 1)[0]
            if name in found:
                found[name] = int(line.split()[1]) // 1024
    except OSError:
        pass
    return found["VmHWM"], found["RssAnon"]


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str, float, int]:
    """(wall s, peak RSS MB of its largest process, stdout, CPU s, peak anonymous MB of
    its largest process) of one subprocess.

    CPU time (user + system, of the process and of the children it waited for) is
    from wait4. Peak RSS is VmHWM of each process of the tree, polled every 20 ms:
    wait4's ru_maxrss would count the benchmark's own memory, which a child
    inherits at fork and keeps across exec in that figure. The peak anonymous memory
    is the largest RssAnon seen by the same poll: RSS without the pages of mapped
    files (the libraries' code and data, shared, and dropped by the kernel under
    memory pressure instead of counting against it).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}
    anon: dict[int, int] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.02):
            for pid in _tree(proc.pid):
                hwm, now = _rss_mb(pid)
                peaks[pid] = max(peaks.get(pid, 0), hwm)
                anon[pid] = max(anon.get(pid, 0), now)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    assert proc.stdout is not None and proc.stderr is not None
    err = threading.Thread(target=lambda: setattr(proc, "err_text", proc.stderr.read()))  # type: ignore[union-attr]
    err.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    stop.set()
    poller.join()
    err.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.err_text.decode()[-2000:]}")  # type: ignore[attr-defined]
    cpu = usage.ru_utime + usage.ru_stime
    return wall, max(peaks.values(), default=0), out.decode(), cpu, max(anon.values(), default=0)


def row(
    name: str, mb: float, records: int, run: tuple[float, int, str, float, int]
) -> dict[str, Any]:
    wall, rss, _, cpu, anon = run
    return {
        "name": name,
        "wall": wall,
        "mbs": mb / wall,
        "rps": records / wall,
        "cpu": cpu,
        "cpu_mbs": mb / cpu,
        "rss": rss,
        "anon": anon,
    }


def main() -> int:  # noqa: C901, PLR0912, PLR0915 - one script, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,250,1000", help="input sizes in MB")
    parser.add_argument("--checkpoint-seconds", type=float, default=5.0)
    parser.add_argument("--reps", type=int, default=1, help="runs per size below 1 GB (best kept)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-interrupt", action="store_true", help="skip SIGTERM/SIGKILL")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    bench_dir = str(Path(__file__).resolve().parent)

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
            with obj.open("rb") as fh:  # (in chunks: this process stays small)
                obj_records = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(MB), b""))
            scratch = Path(tmp) / "scratch"
            scratch.mkdir()
            rows: list[tuple[int, int, int]] = []
            print(
                f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
                f"load {os.getloadavg()[0]:.1f}, objects of {obj_bytes / MB:.1f} MB, "
                f"{obj_records:,} records each"
            )
            for size in sizes:
                n_obj = max(1, round(size / OBJECT_MB))
                prefix = f"input-{size}/"
                for i in range(n_obj):
                    s3.upload_file(str(obj), bucket, f"{prefix}{i:04d}.jsonl")
                uploaded = n_obj * obj_bytes
                records = n_obj * obj_records
                mb = uploaded / MB
                rows.append((size, uploaded, records))

                wenv = {
                    **env,
                    "CFGEN_DATA_BUCKET": bucket,
                    "CFGEN_INPUT_PREFIX": prefix,
                    "CFGEN_CHECKPOINT_SECONDS": str(args.checkpoint_seconds),
                    "CFGEN_IMDS_POLL": "0",
                    "CFGEN_PROCESSES": "1",
                    "TMPDIR": str(scratch),
                    "PYTHONPATH": bench_dir,
                }
                worker = [sys.executable, "-m", "spotworker"]
                cases: list[tuple[str, list[str], dict[str, str]]] = [
                    ("(a) floor", [sys.executable, "-c", FLOOR, bucket, prefix], env),
                    ("(b) noop", worker, {**wenv, "CFGEN_TASK": "bench_tasks:noop"}),
                    ("(c1) per-record", worker, {**wenv, "CFGEN_TASK": "aggregate_per_record"}),
                    ("(c2) batch", worker, {**wenv, "CFGEN_TASK": "aggregate"}),
                    (
                        f"(c3) batch x{args.processes}",
                        worker,
                        {**wenv, "CFGEN_TASK": "aggregate", "CFGEN_PROCESSES": str(args.processes)},
                    ),
                    ("(d) polars", [sys.executable, "-c", POLARS, bucket, prefix], env),
                ]
                reps = args.reps if size < 1000 else 1
                best: dict[str, dict[str, Any]] = {}
                for rep in range(reps):
                    for name, cmd, cenv in cases:
                        job = f"bench-{size}-{rep}-{name.split()[0].strip('()')}"
                        run = measure(cmd, {**cenv, "AWS_BATCH_JOB_ID": job})
                        if name == "(a) floor":
                            assert int(run[2].split()[0]) == uploaded
                        elif name == "(d) polars":
                            assert int(run[2].split()[0]) == records, run[2]
                        else:
                            done = next(json.loads(x) for x in run[2].splitlines() if '"done"' in x)
                            assert done["bytes"] == uploaded, done
                            if "noop" not in name:
                                assert done["records"] == records, done
                        got = row(name, mb, records, run)
                        if name not in best or got["wall"] < best[name]["wall"]:
                            was = best.get(name, got)
                            best[name] = {
                                **got,
                                "rss": max(got["rss"], was["rss"]),
                                "anon": max(got["anon"], was["anon"]),
                            }
                print(
                    f"{mb:6.0f} MB {records:>11,} rec, best of {reps}, load "
                    f"{os.getloadavg()[0]:.1f}\n"
                    f"    {'':18s} {'wall s':>7s} {'MB/s':>7s} {'rec/s':>10s} {'cpu s':>7s} "
                    f"{'MB/cpu-s':>8s} {'peak rss':>8s} {'anon':>6s}"
                )
                for r in best.values():
                    print(
                        f"    {r['name']:18s} {r['wall']:7.1f} {r['mbs']:7.1f} {r['rps']:10,.0f} "
                        f"{r['cpu']:7.1f} {r['cpu_mbs']:8.1f} {r['rss']:5d} MB {r['anon']:3d} MB"
                    )
                b = list(best.values())
                floor, noop, rec, bat, pool, pol = b
                print(
                    f"    ratios (MB/s): noop/floor {noop['mbs'] / floor['mbs']:.2f}, "
                    f"batch/per-record {bat['mbs'] / rec['mbs']:.2f} "
                    f"(cpu {bat['cpu_mbs'] / rec['cpu_mbs']:.2f}), "
                    f"batch x{args.processes}/per-record {pool['mbs'] / rec['mbs']:.2f}, "
                    f"batch/polars {bat['mbs'] / pol['mbs']:.2f}, "
                    f"batch x{args.processes}/polars {pool['mbs'] / pol['mbs']:.2f}",
                    flush=True,
                )
            if args.no_interrupt:
                return 0
            interrupt_size = max(sizes)  # (a smaller one may end within one interval)
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
                        if checkpoints == 1:
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
                _, _, out2, _, _ = measure(
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
