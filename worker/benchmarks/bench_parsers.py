"""How the batch aggregate's parser was chosen: candidate parsers on one chunked object.

Not part of the test suite. Needs the worker's ``bench`` extra. Run from the
repository root:

    .venv/bin/python worker/benchmarks/bench_parsers.py [--mb 20]

It generates the benchmark's JSON Lines (bench_worker.make_object), cuts them in
1 MiB chunks of whole lines (the harness's batches) and prints, per candidate,
CPU seconds and MB per CPU second (best of 2, one thread): parse only, and the
whole aggregate where the candidate can keep the sums exact. orjson, pyarrow and
Polars read numbers as floats (inexact sums: not usable as they are); msgspec can
hand back a value's exact JSON text (``msgspec.Raw``) for an exact Decimal, and the
worker's own C scan (spotworker._speedups, where built) the key's text and the
value's digits, and its fold (Groups) the exact per-key aggregate. The batch task is
measured with and without the C scan and fold, over the object's chunks and its end
(finish). One thread's CPU time: without the C fold, the batch task's folding thread
(Polars) counts too.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson
import polars as pl
import pyarrow.json as pj
from bench_worker import make_object, mib_batches
from spotworker import fastagg
from spotworker.fastagg import AggregateBatchFactory
from spotworker.tasks import AggregateFactory, RecordBatch

_speedups: Any = None
if fastagg._Groups is not None:
    from spotworker import _speedups


class _Rec(msgspec.Struct):
    key: str
    value: msgspec.Raw


def main() -> int:  # noqa: C901 - the candidates, one small function each
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "obj.jsonl"
        make_object(path, args.mb * 1024 * 1024, 1)
        data = path.read_bytes()
    mb = len(data) / 2**20
    chunks = mib_batches(data)
    batches = [c.split(b"\n") for c in chunks]
    dec = msgspec.json.Decoder(_Rec)

    def split_only() -> None:
        for c in chunks:
            c.split(b"\n")

    def stdlib_task() -> None:
        task = AggregateFactory().open("x.jsonl", None)
        for lines in batches:
            for line in lines:
                task.feed(line)

    def msgspec_parse() -> None:
        for lines in batches:
            for line in lines:
                dec.decode(line)

    def orjson_parse() -> None:
        for lines in batches:
            for line in lines:
                orjson.loads(line)

    def arrow_parse() -> None:
        for c in chunks:
            pj.read_json(io.BytesIO(c))

    def polars_aggregate() -> None:
        for c in chunks:
            v = pl.col("value")
            pl.read_ndjson(io.BytesIO(c), schema={"key": pl.String, "value": pl.Float64}).group_by(
                "key"
            ).agg(pl.len(), v.sum().alias("sum"), v.min().alias("min"), v.max().alias("max"))

    def batch_task(c_scan: bool) -> Callable[[], None]:
        def run() -> None:
            task = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
            for i, c in enumerate(chunks):
                task.feed_batch(RecordBatch.from_data(c, i, 0))
            task.finish()

        return run

    def c_scan_parse() -> None:
        assert _speedups is not None
        for c in chunks:
            assert _speedups.extract(c, b"key", b"value", 16) is not None

    def c_fold() -> None:
        assert _speedups is not None
        groups = _speedups.Groups()
        for c in chunks:
            assert groups.fold(c, b"key", b"value", 16, _speedups.line_counts(c)[0]) is not None
        groups.drain()

    cases: list[tuple[str, Callable[[], Any]]] = [
        ("split lines only", split_only),
        ("json + Decimal: the per-record task (exact)", stdlib_task),
        ("msgspec decode, key + Raw value (parse only)", msgspec_parse),
        ("orjson loads (parse only, floats)", orjson_parse),
        ("pyarrow.json read_json (parse only, floats)", arrow_parse),
        ("polars read_ndjson + group_by (floats)", polars_aggregate),
        ("C scan, key text + value digits (parse only)", c_scan_parse),
        ("C scan and fold, per key (Groups, exact)", c_fold),
        ("msgspec: the batch task without the C scan", batch_task(False)),
        ("the batch task, C scan and fold (exact)", batch_task(True)),
    ]
    if _speedups is None:  # not built here: nothing to measure
        cases = [c for c in cases if "C scan" not in c[0] or "without" in c[0]]
    print(f"python {sys.version.split()[0]}, {mb:.1f} MB, load {os.getloadavg()[0]:.1f}")
    for name, fn in cases:
        best = float("inf")
        for _ in range(2):
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
        print(f"  {name:46s} {best:6.2f} cpu s {mb / best:7.1f} MB/cpu-s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
