#!/usr/bin/env python3
"""Benchmark: `python -m cfgen` against the floor `python -c "import yaml"`.

Runs both commands alternately (so machine load hits both alike), N times each
(default 9, at least 5), and prints the medians and their ratio. The target is
a ratio of at most 2.0. Byte-compiles cfgen first, as `pip install` does, so the
figures are those of an installed package rather than of source compilation.

    python scripts/bench_generate.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each command (>= 5)")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error(f"--runs={args.runs}: must be at least 5")
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(str(REPO / "src" / "cfgen"), quiet=1)
    cfgen = [sys.executable, "-m", "cfgen"]
    floor = [sys.executable, "-c", "import yaml"]
    # Warm the OS page cache once for each.
    timed(cfgen, env)
    timed(floor, env)
    a: list[float] = []
    b: list[float] = []
    for _ in range(args.runs):
        a.append(timed(cfgen, env))
        b.append(timed(floor, env))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"python -m cfgen          median {ma * 1000:7.1f} ms  (min {min(a) * 1000:.1f})")
    print(f'python -c "import yaml"  median {mb * 1000:7.1f} ms  (min {min(b) * 1000:.1f})')
    print(f"ratio                    {ma / mb:7.2f}x  (target <= 2.00x, runs={args.runs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
