"""The report as a table, CSV or JSON, the --chart PNG and the --put-metrics datums."""

from __future__ import annotations

import csv
import io
import json
import shlex
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cfgen import clikit, contract
from cfgen.report.compute import Group, Prediction, Priced, Totals, daily, money
from cfgen.report.records import Problem

CAPACITIES = ("spot", "on-demand", "unknown")
COLUMNS = (
    "level",
    "name",
    "attempts",
    "shards",
    "interrupted",
    "vcpu_hours_spot",
    "vcpu_hours_on_demand",
    "gib_hours_spot",
    "gib_hours_on_demand",
    "cost_spot",
    "cost_on_demand",
    "cost",
    "on_demand_equivalent",
    "savings",
    "waste",
    "redone_bytes",
    "estimated_prices",
    "unpriced",
    "from_batch",
)


@dataclass
class Report:
    title: str
    groups: list[Group]
    priced: list[Priced]
    problems: list[Problem]
    spot_detail: str
    prediction: Prediction | None
    notes: list[str] = field(default_factory=list)


def row(g: Group) -> dict[str, Any]:
    t = g.totals
    return {
        "level": g.level,
        "name": g.name,
        "attempts": t.attempts,
        "shards": len(t.shards),
        "interrupted": t.interrupted,
        "vcpu_hours_spot": t.vcpu_hours["spot"],
        "vcpu_hours_on_demand": t.vcpu_hours["on-demand"],
        "gib_hours_spot": t.gib_hours["spot"],
        "gib_hours_on_demand": t.gib_hours["on-demand"],
        "cost_spot": t.cost["spot"],
        "cost_on_demand": t.cost["on-demand"],
        "cost": t.total_cost,
        "on_demand_equivalent": t.on_demand_equivalent,
        "savings": t.savings,
        "waste": t.waste,
        "redone_bytes": t.redone_bytes,
        "estimated_prices": t.estimated,
        "unpriced": t.unpriced,
        "from_batch": t.from_batch,
    }


def _fmt(name: str, value: Any) -> str:
    if isinstance(value, Decimal):
        if name.startswith(("cost", "on_demand_eq", "savings", "waste")):
            return f"{money(value)}"
        return f"{value.quantize(Decimal('0.0001'))}"
    return str(value)


def missing_summary(priced: list[Priced]) -> list[str]:
    counts = Counter(m for p in priced for m in (*p.missing, *p.attempt.missing))
    return [f"{n} attempt(s): {what}" for what, n in sorted(counts.items())]


def table(report: Report) -> str:
    heads = [
        ("level", "level"),
        ("name", "name"),
        ("attempts", "att"),
        ("interrupted", "int"),
        ("vcpu_hours_spot", "vCPU-h spot"),
        ("vcpu_hours_on_demand", "vCPU-h OD"),
        ("gib_hours_spot", "GiB-h spot"),
        ("gib_hours_on_demand", "GiB-h OD"),
        ("cost_spot", "spot $"),
        ("cost_on_demand", "OD $"),
        ("cost", "total $"),
        ("on_demand_equivalent", "all-OD $"),
        ("waste", "waste $"),
    ]
    rows = [[_fmt(k, row(g)[k]) for k, _ in heads] for g in report.groups]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, (_, h) in enumerate(heads)]
    lines = [report.title, ""]
    fmt = [("<" if i < 2 else ">") for i in range(len(heads))]
    lines.append("  ".join(f"{h:{a}{w}}" for (_, h), a, w in zip(heads, fmt, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, fmt, widths, strict=True)))
    total = report.groups[0].totals if report.groups else Totals()
    lines.append("")
    if total.on_demand_equivalent:
        pct = 100 * total.savings / total.on_demand_equivalent
        lines.append(
            f"Saved USD {money(total.savings)} ({pct:.1f}%) against the same work On-Demand;"
            f" USD {money(total.waste)} lost to reclaims ({total.redone_bytes} input bytes redone)."
        )
    lines.append(f"Spot prices: {report.spot_detail}.")
    if total.estimated:
        lines.append(
            f"{total.estimated} attempt(s) priced with the bundled Spot *estimate* (not observed)."
        )
    lines.append(
        "On-Demand and Fargate prices: bundled tables (src/cfgen/data/, see docs/cost.md)."
    )
    if report.prediction is not None:
        p = report.prediction
        lines.append(
            f"cfgen simulate predicts for this shape ({p.jobs} jobs x {p.vcpus_per_job} vCPU,"
            f" mean {p.mean_hours:.3f} h; `cfgen {shlex.join(p.args)}`): USD {p.cost:.2f},"
            f" {p.wasted_vcpu_hours:.2f} vCPU-h wasted"
            f" (On-Demand only: USD {p.on_demand_cost:.2f})."
        )
    missing = missing_summary(report.priced)
    if missing:
        lines.append("Missing figures:")
        lines.extend(f"  {m}" for m in missing)
    if report.problems:
        lines.append(f"Unreadable ledger objects ({len(report.problems)}):")
        lines.extend(f"  {p.key}: {p.reason}" for p in report.problems[:20])
        if len(report.problems) > 20:
            lines.append(f"  ... and {len(report.problems) - 20} more (--format json lists all)")
    lines.extend(report.notes)
    return "\n".join(lines)


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for g in report.groups:
        r = row(g)
        writer.writerow([str(r[c]) for c in COLUMNS])
    return buf.getvalue()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_json(report: Report) -> str:
    attempts = [
        {
            "job_id": p.attempt.job_id,
            "array_index": p.attempt.array_index,
            "attempt": p.attempt.attempt,
            "queue": p.attempt.queue,
            "share": p.attempt.share,
            "source": p.attempt.source,
            "started": p.attempt.started,
            "ended": p.attempt.ended,
            "exit": p.attempt.exit_reason,
            "capacity": p.capacity,
            "instance_type": p.attempt.instance_type,
            "availability_zone": p.attempt.availability_zone,
            "hours": p.hours,
            "vcpu_hours": p.vcpu_hours,
            "gib_hours": p.gib_hours,
            "cost": p.cost,
            "on_demand_equivalent": p.on_demand_equivalent,
            "price_source": p.price_source,
            "redone_bytes": p.redone_bytes,
            "waste": p.waste,
            "missing": sorted({*p.missing, *p.attempt.missing}),
            "key": p.attempt.key,
        }
        for p in report.priced
    ]
    body = {
        "title": report.title,
        "spot_prices": report.spot_detail,
        "groups": [row(g) for g in report.groups],
        "attempts": attempts,
        "problems": [{"key": p.key, "reason": p.reason} for p in report.problems],
        "prediction": None
        if report.prediction is None
        else {
            "args": list(report.prediction.args),
            "cost": report.prediction.cost,
            "wasted_vcpu_hours": report.prediction.wasted_vcpu_hours,
            "on_demand_cost": report.prediction.on_demand_cost,
        },
    }
    return json.dumps(_jsonable(body), indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- chart


def write_chart(path: str, priced: list[Priced], title: str) -> None:
    """Daily cost by capacity type (stacked bars) and the waste (line), as a PNG,
    written like every cfgen output file (cfgen.clikit: atomic, no partial file)."""
    from cfgen.cost import simulate as sim

    plt = sim.pyplot()
    days: dict[date, Totals] = {}
    for (day, _queue), t in daily(priced).items():
        into = days.setdefault(day, Totals())
        for cap in CAPACITIES:
            into.cost[cap] += t.cost[cap]
        into.waste += t.waste
    xs = sorted(days)
    fig: Any
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [d.isoformat() for d in xs]
    bottom = [0.0] * len(xs)
    for cap, colour in (("spot", "tab:green"), ("on-demand", "tab:orange")):
        values = [float(days[d].cost[cap]) for d in xs]
        ax.bar(labels, values, bottom=bottom, label=f"{cap} cost", color=colour)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.plot(labels, [float(days[d].waste) for d in xs], "k-o", label="lost to reclaims")
    ax.set_ylabel("USD per day")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    with tempfile.TemporaryDirectory(prefix="cfgen-report-") as folder:
        tmp = Path(folder) / "chart.png"
        fig.savefig(tmp, dpi=100)
        plt.close(fig)
        clikit.write_output(path, tmp.read_bytes(), "--chart")


# --------------------------------------------------------------------------- metrics

#: CloudWatch accepts time stamps up to two weeks in the past:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#about_timestamp
MAX_METRIC_AGE = timedelta(days=14)


def metric_datums(priced: list[Priced], *, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """Daily totals per queue as PutMetricData datums (names from cfgen.contract), and
    how many (day, queue) totals were too old for CloudWatch."""
    datums: list[dict[str, Any]] = []
    skipped = 0
    for (day, queue), t in daily(priced).items():
        stamp = datetime.combine(day, time(0), UTC)
        if now - stamp > MAX_METRIC_AGE:
            skipped += 1
            continue
        values = {
            contract.COST_METRIC_SPOT: t.cost["spot"],
            contract.COST_METRIC_ON_DEMAND: t.cost["on-demand"],
            contract.COST_METRIC_ON_DEMAND_EQUIVALENT: t.on_demand_equivalent,
            contract.COST_METRIC_WASTE: t.waste,
        }
        for name, value in values.items():
            datums.append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": contract.METRIC_DIMENSION_QUEUE, "Value": queue}],
                    "Timestamp": stamp,
                    "Value": float(money(value)),
                    "Unit": "None",
                }
            )
    return datums, skipped
