"""How the batch path's line scans were chosen: CPython, numpy and C, side by side.

Not part of the test suite. Run from the repository root:

    .venv/bin/python worker/benchmarks/bench_newlines.py [--mb 20]

It generates the benchmark's JSON Lines (bench_worker.make_object), cuts them in
1 MiB batches of whole lines (the harness's batches) and prints, per question the
harness or the batch aggregate asks of a batch, the milliseconds per batch (best of
5) of the plain CPython way, of spotworker.newlines / fastagg's numpy scans and, for
the line count, of the C extension (where built), and checks that they give the same
answer.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_worker import make_object, mib_batches
from spotworker import newlines
from spotworker.fastagg import _Scan

_BLANKISH = re.compile(rb"\n[ \t\r]*\n")  # the blank-line search the harness used
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789E", b"000000000e")


def _best(fn: Callable[[bytes], Any], batches: list[bytes]) -> tuple[float, list[Any]]:
    best = float("inf")
    out: list[Any] = []
    for _ in range(5):
        t0 = time.perf_counter()
        out = [fn(b) for b in batches]
        best = min(best, time.perf_counter() - t0)
    return best / len(batches) * 1e3, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "obj.jsonl"
        make_object(path, args.mb * 1024 * 1024, 1)
        data = path.read_bytes()
    batches = mib_batches(data)
    scan = _Scan()
    rows: list[tuple[str, Callable[[bytes], Any], Callable[[bytes], Any]]] = [
        (
            "lines and blank lines",
            lambda b: (
                b.count(b"\n") + 1,
                b.split(b"\n").count(b"") if _BLANKISH.search(b) or b[:1] == b"\n" else 0,
            ),
            newlines.line_counts_numpy,
        ),
        ("newline positions", lambda b: None, lambda b: len(newlines.positions(b))),
        (
            "lines, every one braced",
            lambda b: b[:1] == b"{" and b[-1:] == b"}" and b.count(b"}\n{") == b.count(b"\n"),
            lambda b: newlines.every_line_braced(b, newlines.line_counts(b)[0] - 1),
        ),
        (
            "digit before e/E, long run",
            lambda b: (b"0e" in (z := b.translate(_DIGITS_TO_ZERO)), b"0" * 511 in z),
            scan.numbers_to_check,
        ),
    ]
    print(f"{len(batches)} batches of ~1 MiB, {len(data) / 2**20:.1f} MiB; ms per batch, best of 5")
    print(f"  {'':26s} {'CPython':>9s} {'numpy':>9s} {'C':>9s}")
    for name, plain, fast in rows:
        t_plain, want = _best(plain, batches)
        t_fast, got = _best(fast, batches)
        if name != "newline positions":
            assert want == got, name
        shown = "-" if name == "newline positions" else f"{t_plain:.3f}"
        c_shown = "-"
        if name == "lines and blank lines" and newlines._c_line_counts is not None:
            t_c, got_c = _best(newlines._c_line_counts, batches)
            assert got_c == want
            c_shown = f"{t_c:.3f}"
        print(f"  {name:26s} {shown:>9s} {t_fast:9.3f} {c_shown:>9s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
