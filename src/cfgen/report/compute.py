"""From attempts to costs: per attempt, then totals per array job, queue, share, day.

Per attempt (``hours`` = its duration; ``vcpus``/``GiB`` = the job's size, from the
ledger (ECS task size) or Batch's resourceRequirements, else the whole instance):

* EC2: the job's share of the instance (job vCPUs / instance vCPUs, at most 1) x the
  instance's price over the attempt: Spot from the price history of its type, AZ and
  hour (or the bundled estimate, labelled), On-Demand from the bundled table.
* Fargate: vCPU x hours x the vCPU-hour rate + GiB x hours x the GB-hour rate
  (Fargate Spot when the compute environment is FARGATE_SPOT).
* On-Demand equivalent: the same share and hours at On-Demand prices.
* Work redone after a resume: the previous attempt's end position minus this
  attempt's resume position (bytes of input read twice).
* Waste (work lost to reclaims): of an attempt that was interrupted (SIGTERM, a
  Spot reclaim, Batch's "Host EC2 ... terminated"), the share of its cost whose
  work the next attempt redid (redone bytes / the attempt's bytes); all of its cost
  when the ledger has no numbers for it (an attempt known only from Batch).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise

from cfgen.report.pricing import SPOT_BUNDLED, PriceBook
from cfgen.report.records import Attempt

ZERO = Decimal(0)
MIB_PER_GIB = Decimal(1024)
CENT_MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class Priced:
    attempt: Attempt
    #: "spot", "on-demand" or "unknown"
    capacity: str
    hours: Decimal
    vcpu_hours: Decimal
    gib_hours: Decimal
    cost: Decimal | None
    on_demand_equivalent: Decimal | None
    #: where the price came from ("spot-history", "bundled-estimate", "on-demand-table",
    #: "fargate-table"), or "" when the attempt could not be priced
    price_source: str
    redone_bytes: int | None = None
    waste: Decimal = ZERO
    missing: tuple[str, ...] = ()


@dataclass
class Totals:
    """Sums over a group of priced attempts (exact Decimals)."""

    attempts: int = 0
    shards: set[tuple[str, int]] = field(default_factory=set)
    vcpu_hours: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    gib_hours: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    cost: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    on_demand_equivalent: Decimal = ZERO
    waste: Decimal = ZERO
    redone_bytes: int = 0
    interrupted: int = 0
    unpriced: int = 0
    estimated: int = 0
    from_batch: int = 0

    def add(self, p: Priced) -> None:
        self.attempts += 1
        self.shards.add(p.attempt.shard)
        self.vcpu_hours[p.capacity] += p.vcpu_hours
        self.gib_hours[p.capacity] += p.gib_hours
        if p.cost is None:
            self.unpriced += 1
        else:
            self.cost[p.capacity] += p.cost
        self.on_demand_equivalent += p.on_demand_equivalent or ZERO
        self.waste += p.waste
        self.redone_bytes += p.redone_bytes or 0
        self.interrupted += p.attempt.reclaimed
        self.estimated += p.price_source == SPOT_BUNDLED
        self.from_batch += p.attempt.source == "batch"

    @property
    def total_cost(self) -> Decimal:
        return sum(self.cost.values(), ZERO)

    @property
    def savings(self) -> Decimal:
        return self.on_demand_equivalent - self.total_cost


def _size(a: Attempt, book: PriceBook) -> tuple[Decimal | None, Decimal | None, list[str]]:
    """(vCPUs, GiB) of the job, and what had to be assumed."""
    missing: list[str] = []
    vcpus = a.vcpus
    gib = Decimal(a.memory_mib) / MIB_PER_GIB if a.memory_mib else None
    if vcpus is None and a.instance_type:
        whole = book.instance_vcpus(a.instance_type)
        vcpus = Decimal(whole) if whole else None
        missing.append("vcpus (the whole instance assumed)")
    if vcpus is None:
        missing.append("vcpus")
    if gib is None:
        missing.append("memory")
    return vcpus, gib, missing


def price(a: Attempt, book: PriceBook, *, fargate_spot: bool | None = None) -> Priced:
    """One attempt's cost. ``fargate_spot``: the compute environment is FARGATE_SPOT
    (None: not known, then priced as Fargate and flagged)."""
    hours = a.seconds * 1000 / Decimal(3_600_000)
    vcpus, gib, missing = _size(a, book)
    vcpu_h = (vcpus or ZERO) * hours
    gib_h = (gib or ZERO) * hours
    if a.platform == "fargate":
        spot = bool(fargate_spot)
        if fargate_spot is None:
            missing.append("capacity (Fargate assumed, not Fargate Spot)")
        rates, od = book.fargate(spot=spot), book.fargate(spot=False)
        cost = vcpu_h * rates.vcpu_hour + gib_h * rates.gb_hour
        fg_od = vcpu_h * od.vcpu_hour + gib_h * od.gb_hour
        if vcpus is None:
            return Priced(
                a, "unknown", hours, vcpu_h, gib_h, None, None, "", missing=tuple(missing)
            )
        capacity = "spot" if spot else "on-demand"
        return Priced(
            a,
            capacity,
            hours,
            vcpu_h,
            gib_h,
            cost,
            fg_od,
            "fargate-table",
            missing=tuple(missing),
        )
    if not a.instance_type:
        return Priced(
            a, "unknown", hours, vcpu_h, gib_h, None, None, "", missing=(*missing, "instance type")
        )
    whole = book.instance_vcpus(a.instance_type)
    share = min(Decimal(1), vcpus / whole) if vcpus is not None and whole else Decimal(1)
    od_hourly = book.on_demand_hourly(a.instance_type)
    od_cost: Decimal | None = od_hourly * hours * share if od_hourly is not None else None
    if od_hourly is None:
        missing.append(f"On-Demand price of {a.instance_type} in {book.region}")
    if a.lifecycle == "spot":
        quote = book.spot_cost(a.instance_type, a.availability_zone, a.started, a.ended)
        if quote is None:
            return Priced(
                a, "spot", hours, vcpu_h, gib_h, None, od_cost, "", missing=tuple(missing)
            )
        return Priced(
            a,
            "spot",
            hours,
            vcpu_h,
            gib_h,
            quote[0] * share,
            od_cost,
            quote[1],
            missing=tuple(missing),
        )
    if a.lifecycle == "on-demand":
        return Priced(
            a,
            "on-demand",
            hours,
            vcpu_h,
            gib_h,
            od_cost,
            od_cost,
            "on-demand-table",
            missing=tuple(missing),
        )
    return Priced(
        a,
        "unknown",
        hours,
        vcpu_h,
        gib_h,
        None,
        od_cost,
        "",
        missing=(*missing, "lifecycle (spot or on-demand)"),
    )


def with_waste(priced: list[Priced]) -> list[Priced]:
    """Redone bytes and reclaim waste, from consecutive attempts of each shard."""
    by_shard: dict[tuple[str, int], list[Priced]] = defaultdict(list)
    for p in priced:
        by_shard[p.attempt.shard].append(p)
    out: dict[int, Priced] = {}
    for attempts in by_shard.values():
        attempts.sort(key=lambda p: p.attempt.attempt)
        for prev, nxt in pairwise(attempts):
            a, b = prev.attempt, nxt.attempt
            redone: int | None = None
            if a.end_bytes is not None and b.resumed_bytes is not None:
                redone = max(0, a.end_bytes - b.resumed_bytes)
            out[id(nxt)] = _replace(out.get(id(nxt), nxt), redone_bytes=redone)
            if not a.reclaimed or prev.cost is None:
                continue
            if redone is not None and a.bytes:
                waste = prev.cost * min(Decimal(1), Decimal(redone) / Decimal(a.bytes))
            elif redone == 0:
                waste = ZERO
            else:
                waste = prev.cost  # nothing known to be saved
            out[id(prev)] = _replace(out.get(id(prev), prev), waste=waste)
    return [out.get(id(p), p) for p in priced]


def _replace(p: Priced, **changes: object) -> Priced:
    from dataclasses import replace

    return replace(p, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Group:
    level: str  # "total", "queue", "share", "array", "job"
    name: str
    totals: Totals


def group(priced: Iterable[Priced], *, per_job: str | None = None) -> list[Group]:
    """Totals overall, per queue, per share identifier, per array job (and per child
    of ``per_job``), in that order; names sorted."""
    total = Totals()
    levels: dict[str, dict[str, Totals]] = {k: {} for k in ("queue", "share", "array", "job")}
    for p in priced:
        a = p.attempt
        total.add(p)
        names = {
            "queue": a.queue or "(unknown queue)",
            "share": a.share,
            "array": a.job_id,
            "job": (f"{a.job_id}:{a.array_index}" if a.array_index is not None else a.job_id)
            if per_job is not None and a.job_id == per_job
            else None,
        }
        for level, name in names.items():
            if name is not None:
                levels[level].setdefault(name, Totals()).add(p)
    groups = [Group("total", "all", total)]
    for level in ("queue", "share", "array", "job"):
        groups.extend(Group(level, n, t) for n, t in sorted(levels[level].items()))
    return groups


def daily(priced: Iterable[Priced]) -> dict[tuple[date, str], Totals]:
    """Totals per (UTC day the attempt started, queue): the chart and --put-metrics."""
    out: dict[tuple[date, str], Totals] = {}
    for p in priced:
        key = (p.attempt.started.date(), p.attempt.queue or "(unknown queue)")
        out.setdefault(key, Totals()).add(p)
    return dict(sorted(out.items()))


def money(value: Decimal) -> Decimal:
    """Rounded to a millionth of a dollar for display (the sums stay exact)."""
    return value.quantize(CENT_MICRO)


@dataclass(frozen=True)
class Prediction:
    """What ``cfgen simulate`` predicts for the same workload shape (the 'cfgen' row)."""

    args: tuple[str, ...]
    jobs: int
    mean_hours: float
    vcpus_per_job: int
    cost: float
    wasted_vcpu_hours: float
    on_demand_cost: float


def predict(priced: list[Priced], *, profile: str, interruption: str) -> Prediction | None:
    """Run the simulator on the observed shape: as many jobs as shards, the mean useful
    hours per shard (billed hours minus the share lost to reclaims), the median job
    size. None when nothing ran. Raises UsageError for a bad --profile/--interruption."""
    from statistics import median

    from cfgen.clikit import UsageError
    from cfgen.cost import cli as cost_cli
    from cfgen.cost import simulate as sim
    from cfgen.cost.prices import PriceError

    shards = {p.attempt.shard for p in priced}
    if not shards:
        return None
    useful = Decimal(0)
    for p in priced:
        lost = p.waste / p.cost if p.cost else ZERO
        useful += p.hours * (1 - lost)
    mean_hours = max(float(useful) / len(shards), 1 / 3600)
    sizes = [float(p.attempt.vcpus) for p in priced if p.attempt.vcpus is not None]
    vcpus = max(1, round(median(sizes))) if sizes else 1
    args = (
        "simulate",
        "--profile",
        profile,
        "--jobs",
        str(len(shards)),
        "--duration-hours",
        f"{mean_hours:.4f}",
        "--vcpus-per-job",
        str(vcpus),
        "--interruption",
        interruption,
    )
    try:
        ns = cost_cli._simulate_parser().parse_args(list(args[1:]))
        run = cost_cli._simulate_inputs(ns)
        results = sim.compare(
            run.workload, sim.standard_strategies(ns.checkpoint_minutes), run.env, seed=ns.seed
        )
    except (PriceError, sim.SimulationError) as exc:
        raise UsageError(str(exc)) from None
    mine = next(r for r in results if r.name.startswith("cfgen:"))
    od = next(r for r in results if r.name.startswith("On-Demand"))
    return Prediction(
        args, len(shards), mean_hours, vcpus, mine.cost, mine.wasted_vcpu_hours, od.cost
    )
