#!/usr/bin/env python3
"""Benchmark: `python -m cfgen` against the floor `python -c "import yaml"`.

Runs the commands alternately (so machine load hits all alike), N times each
(default 9, at least 5): `python -m cfgen` with a warm render cache (the normal
case after the first run; see src/cfgen/cache.py), `python -m cfgen` with the
cache off (CFGEN_NO_CACHE=1: a full render), and the floor. It prints the
medians of wall-clock and CPU time and their ratios to the floor. The target
is a ratio of at most 2.0. CPU time (user + system of the child) is the
steadier figure on a busy machine. Byte-compiles cfgen first,
as `pip install` does, so the figures are those of an installed package rather
than of source compilation.

    python scripts/bench_generate.py [--runs N]
"""

from __future__ import annotations

import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cfgen import clikit

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    return clikit.run("bench_generate", lambda: _main(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    parser = clikit.Parser(prog="bench_generate.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        type=clikit.int_in("runs", 5, 1000),
        default=9,
        help="runs of each command (5-1000)",
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(str(REPO / "src" / "cfgen"), quiet=1)
    cfgen = [sys.executable, "-m", "cfgen"]
    floor = [sys.executable, "-c", "import yaml"]
    with tempfile.TemporaryDirectory() as cache:
        warm = {**env, "CFGEN_CACHE_DIR": cache}
        cold = {**env, "CFGEN_NO_CACHE": "1"}
        # Warm the OS page cache, and fill the render cache once.
        timed(cfgen, warm)
        timed(floor, env)
        runs: dict[str, list[tuple[float, float]]] = {"cached": [], "uncached": [], "floor": []}
        for _ in range(args.runs):
            runs["cached"].append(timed(cfgen, warm))
            runs["uncached"].append(timed(cfgen, cold))
            runs["floor"].append(timed(floor, env))
    for i, what in ((0, "wall"), (1, "CPU")):
        med = {k: statistics.median(x[i] for x in v) for k, v in runs.items()}
        print(
            f"{what:>4}: import yaml {med['floor'] * 1000:6.1f} ms | python -m cfgen"
            f" cached {med['cached'] * 1000:6.1f} ms = {med['cached'] / med['floor']:4.2f}x"
            f" | uncached (CFGEN_NO_CACHE=1) {med['uncached'] * 1000:6.1f} ms"
            f" = {med['uncached'] / med['floor']:4.2f}x"
        )
    print(f"medians of {args.runs} alternating runs; target <= 2.00x")
    print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
