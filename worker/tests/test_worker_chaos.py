"""A seeded, time-bounded chaos run (tests/chaoslib.py) in the suite.

SPOTWORKER_CHAOS_SEED picks another seed (a failure prints the seed it ran);
benchmarks/chaos.py runs many seeds and more attempts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from chaoslib import Plan, run_chaos
from fakeimds import FakeIMDS
from faultproxy import FaultProxy


def test_chaos_run_is_exact(s3: Any, bucket: str, proxy: FaultProxy, tmp_path: Path) -> None:
    seed = int(os.environ.get("SPOTWORKER_CHAOS_SEED", "15"))
    imds = FakeIMDS()
    try:
        report = run_chaos(
            Plan(seed=seed, seconds=30), s3=s3, bucket=bucket, proxy=proxy, imds=imds, tmp=tmp_path
        )
    finally:
        imds.close()
    assert not report.problems, f"seed {seed}: {report}"
    assert report.attempts >= 3
    print(f"chaos seed {seed}: {report}")
