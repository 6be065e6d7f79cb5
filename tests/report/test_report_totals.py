"""cfgen report against a ledger generated from a simulated run whose true cost is known.

The run is generated here (seeded): shards of an array job and a single job on two
queues, on Spot and On-Demand instances of known types, with reclaims whose next
attempt redoes a known number of bytes. The expected totals are computed in this
file with fractions.Fraction from the bundled price tables, independently of the
report's code; durations are multiples of 36 s, so every true cost is a terminating
decimal and the report's Decimal totals must equal it exactly.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from report_helpers import base_time, put, record, report

ROOT = Path(__file__).resolve().parents[2]
OD = json.loads((ROOT / "src/cfgen/data/ec2_on_demand.json").read_text())["regions"]["us-east-1"][
    "prices"
]
SPOT_FRACTION = Fraction(
    str(
        json.loads((ROOT / "src/cfgen/data/ec2_spot_snapshot.json").read_text())[
            "fraction_of_on_demand"
        ]["default"]
    )
)
TYPES = {"c6i.xlarge": 4, "m6i.large": 2, "c6i.2xlarge": 8}


def _generate(seed: int) -> tuple[list[dict[str, Any]], dict[str, Fraction]]:
    rng = random.Random(seed)
    t0 = base_time(2)
    records: list[dict[str, Any]] = []
    want: dict[str, Fraction] = defaultdict(Fraction)
    jobs = [("arr-a", 12, "q-main"), ("arr-b", 6, "q-other"), ("single-c", None, "q-main")]
    for job, size, queue in jobs:
        for index in range(size or 1):
            itype = rng.choice(sorted(TYPES))
            whole = TYPES[itype]
            vcpus = rng.choice([v for v in (1, 2, 4, 8) if v <= whole])
            mem = vcpus * 2048
            position = 0
            attempts = rng.choice([1, 1, 2, 3])
            start = t0 + timedelta(minutes=rng.randrange(0, 600))
            for n in range(1, attempts + 1):
                last = n == attempts
                seconds = 36 * rng.randrange(10, 200)
                lifecycle = rng.choice(["spot", "spot", "on-demand"])
                # sizes whose fractions terminate: waste = cost x redone / bytes is exact too
                done_bytes = rng.choice([1000, 2000, 2500, 4000, 5000])
                resumed = position
                end = resumed + done_bytes
                rec = record(
                    job,
                    index if size else None,
                    n,
                    start,
                    seconds,
                    reason="done" if last else "interrupted",
                    instance_type=itype,
                    lifecycle=lifecycle,
                    vcpus=vcpus,
                    memory_mib=mem,
                    work=(done_bytes, resumed, end),
                    queue=queue,
                )
                records.append(rec)
                hours = Fraction(seconds, 3600)
                share = Fraction(vcpus, whole)
                od = Fraction(str(OD[itype])) * hours * share
                cost = od * (SPOT_FRACTION if lifecycle == "spot" else 1)
                cap = "spot" if lifecycle == "spot" else "on_demand"
                want[f"cost_{cap}"] += cost
                want[f"vcpu_hours_{cap}"] += vcpus * hours
                want[f"gib_hours_{cap}"] += Fraction(mem, 1024) * hours
                want["on_demand_equivalent"] += od
                # the next attempt resumes from a checkpoint somewhere in this one's work
                saved = rng.randrange(0, done_bytes + 1)
                if not last:
                    redone = done_bytes - saved
                    want["waste"] += cost * Fraction(redone, done_bytes)
                    want["redone_bytes"] += redone
                position = resumed + saved
                start += timedelta(seconds=seconds + 60)
                want["attempts"] += 1
    want["cost"] = want["cost_spot"] + want["cost_on_demand"]
    want["savings"] = want["on_demand_equivalent"] - want["cost"]
    return records, want


def test_report_totals_equal_the_true_cost_exactly(client: Any, bucket: str, aws_env: Any) -> None:
    records, want = _generate(seed=22)
    s3 = client("s3")
    for rec in records:
        put(s3, bucket, rec)
    done = report("--bucket", bucket, "--since", "7d", "--format", "json", "--offline-prices")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    total = body["groups"][0]
    assert (total["level"], total["name"]) == ("total", "all")
    for name, value in want.items():
        assert Fraction(Decimal(str(total[name]))) == value, name
    assert body["problems"] == []
    assert "bundled estimate (--offline-prices)" in body["spot_prices"]
    # per queue and per array job: the rows add up to the total, exactly
    for level in ("queue", "array"):
        rows = [g for g in body["groups"] if g["level"] == level]
        assert sum(Decimal(r["cost"]) for r in rows) == Decimal(total["cost"])
        assert sum(r["attempts"] for r in rows) == total["attempts"]
    assert {g["name"] for g in body["groups"] if g["level"] == "queue"} == {"q-main", "q-other"}
    # the table shows the same figures (rounded to a millionth of a dollar)
    table = report("--bucket", bucket, "--since", "7d", "--offline-prices")
    assert table.returncode == 0, table.stderr
    first = next(line for line in table.stdout.splitlines() if line.startswith("total"))
    shown = Decimal(str(want["cost"].numerator)) / Decimal(str(want["cost"].denominator))
    assert str(shown.quantize(Decimal("0.000001"))) in first.split()
    assert "bundled Spot *estimate*" in table.stdout
    assert "cfgen simulate predicts for this shape (19 jobs" in table.stdout


def test_one_job_has_rows_per_child_and_csv_has_every_group(
    client: Any, bucket: str, aws_env: Any
) -> None:
    records, _ = _generate(seed=5)
    s3 = client("s3")
    for rec in records:
        put(s3, bucket, rec)
    done = report("--bucket", bucket, "--job", "arr-b", "--format", "csv", "--offline-prices")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("level,name,attempts,shards")
    levels = [line.split(",")[0] for line in lines[1:]]
    assert levels.count("job") == 6 and levels.count("array") == 1
    assert all(line.split(",")[1].startswith("arr-b") for line in lines[1:] if "job" in line[:3])
