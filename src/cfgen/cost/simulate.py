"""Monte Carlo model of a batch workload on Spot with interruptions (vectorized numpy).

The model, its assumptions and the closed forms the tests check are written up
in docs/cost.md. In short, per job and per attempt:

- a Spot attempt is reclaimed after an exponential time with the per-hour
  hazard derived from a Spot Instance Advisor band (:func:`hazard_per_hour`);
- a reclaimed attempt fails with ``Host EC2 ...`` and Batch's RetryStrategy
  retries it while attempts remain (the job definition's first rule);
- with checkpoints, work survives up to the last periodic checkpoint, or all of
  it when the interruption notice reaches the job and the grace period
  (ECS_CONTAINER_STOP_TIMEOUT, ~110 s) is long enough to write a final one;
- after a reclaim the Spot pool may have no capacity for the retry; with an
  On-Demand fallback CE the retry runs there (never interrupted), otherwise it
  waits for Spot capacity;
- with a fallback CE and more work than the Spot CE's ceiling, the queue
  overflows to the fallback while Spot is at MaxvCpus, so a share
  od / (spot + od) of attempts runs On-Demand;
- billing is per second for every attempt, including work that is lost.

numpy is imported inside the functions that need it, so importing this module
(or rendering templates) does not import numpy.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

HOURS_PER_MONTH = 730.0  # AWS's billing month (365 x 24 / 12)

# Spot Instance Advisor "frequency of interruption" bands: the share of Spot
# capacity of a type reclaimed over the trailing month. Each band is represented
# by its midpoint; the open band ">20%" by 25%.
BANDS: dict[str, float] = {
    "<5%": 0.025,
    "5-10%": 0.075,
    "10-15%": 0.125,
    "15-20%": 0.175,
    ">20%": 0.25,
}
DISTRIBUTIONS = ("lognormal", "exponential", "fixed")

# Upper bounds of the resource-hungry inputs (documented in docs/cost.md and
# `cfgen simulate --help`). Memory grows by about 90 bytes per job (1e8 jobs
# took 9 GB); scripts/bench_simulate.py times MAX_JOBS.
MAX_JOBS = 1_000_000
MAX_CHART_JOBS = 100_000
#: Mean job duration: at most 14 days, the longest job.timeout_seconds a profile
#: allows (config.RANGES). Batch itself has no maximum timeout, but a Fargate job
#: cannot be expected to run longer than 14 days:
#: https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html
MAX_MEAN_HOURS = 14 * 24.0
MAX_SEED = 2**32 - 1


class SimulationError(ValueError):
    """Bad simulation input (one-line message naming the field, value and rule)."""


def hazard_per_hour(monthly_probability: float, band_hours: float = HOURS_PER_MONTH) -> float:
    """Per-hour interruption hazard from an interruption probability.

    Reading a band as "an instance running for ``band_hours`` (default: a whole
    month, 730 h) is interrupted with probability p" and interruptions as a
    Poisson process, ``1 - exp(-lambda * band_hours) = p``, hence
    ``lambda = -ln(1 - p) / band_hours``. A shorter ``band_hours`` reads the band
    as the share of instances reclaimed within a typical instance lifetime,
    which gives a proportionally higher hazard (docs/cost.md).
    """
    if not 0.0 <= monthly_probability < 1.0:
        raise SimulationError(
            f"interruption rate: {monthly_probability!r} must be a monthly probability in [0, 1)"
        )
    if not band_hours > 0:
        raise SimulationError(f"--band-hours: {band_hours!r} must be above 0")
    return -math.log1p(-monthly_probability) / band_hours


def parse_band(text: str) -> float:
    """A band (``<5%``, ``5-10%``, ``10-15%``, ``15-20%``, ``>20%``) or a percentage
    (``12%``, ``12``) -> monthly interruption probability."""
    cleaned = text.strip().replace("\u2013", "-").replace(" ", "")
    if cleaned in BANDS:
        return BANDS[cleaned]
    match = re.fullmatch(r"(\d+(?:\.\d+)?)%?", cleaned)
    if match:
        value = float(match.group(1)) / 100.0
        if value < 1.0:
            return value
    raise SimulationError(
        f"--interruption: {text!r} is not a Spot Instance Advisor band "
        f"({', '.join(BANDS)}) or a monthly percentage below 100"
    )


@dataclass(frozen=True)
class Workload:
    jobs: int
    mean_hours: float
    distribution: str = "lognormal"
    cv: float = 1.0  # coefficient of variation (lognormal only)
    vcpus_per_job: int = 1

    def validate(self) -> None:
        if not 1 <= self.jobs <= MAX_JOBS:
            raise SimulationError(f"--jobs: {self.jobs} must be between 1 and {MAX_JOBS}")
        if not 0 < self.mean_hours <= MAX_MEAN_HOURS:
            raise SimulationError(
                f"--duration-hours: {self.mean_hours} must be above 0 and at most"
                f" {MAX_MEAN_HOURS:g} (14 days)"
            )
        if self.distribution not in DISTRIBUTIONS:
            raise SimulationError(
                f"--distribution: {self.distribution!r} must be one of {', '.join(DISTRIBUTIONS)}"
            )
        if not 0 <= self.cv <= 100:
            raise SimulationError(f"--cv: {self.cv} must be between 0 and 100")
        if self.vcpus_per_job < 1:
            raise SimulationError(f"--vcpus-per-job: {self.vcpus_per_job} must be at least 1")


@dataclass(frozen=True)
class Strategy:
    """How the stack runs the jobs."""

    name: str
    spot: bool = True  # False: every attempt On-Demand
    attempts: int = 3
    checkpoint_minutes: float = 0.0  # 0 = no checkpoints
    fallback: bool = False  # On-Demand fallback CE in the queue


@dataclass(frozen=True)
class Environment:
    hazard_per_hour: float
    spot_price_per_vcpu_hour: float
    on_demand_price_per_vcpu_hour: float
    spot_capacity_vcpus: int = 256
    on_demand_capacity_vcpus: int = 16  # the fallback CE's ceiling
    grace_seconds: float = 110.0  # SIGTERM -> SIGKILL (ECS_CONTAINER_STOP_TIMEOUT)
    checkpoint_write_seconds: float = 30.0
    notice_rate: float = 0.9  # share of reclaims whose SIGTERM reaches the job in time
    restart_minutes: float = 1.0  # start-up of each retry (billed)
    shortfall: float = 0.5  # P(no Spot capacity for a retry right after a reclaim)
    spot_wait_hours: float = 0.5  # wait for Spot capacity without a fallback CE

    def validate(self) -> None:
        for name, value in (
            ("--notice-rate", self.notice_rate),
            ("--shortfall", self.shortfall),
        ):
            if not 0.0 <= value <= 1.0:
                raise SimulationError(f"{name}: {value} must be between 0 and 1")
        for name, value in (
            ("--grace-seconds", self.grace_seconds),
            ("--checkpoint-write-seconds", self.checkpoint_write_seconds),
            ("--restart-minutes", self.restart_minutes),
            ("--spot-wait-hours", self.spot_wait_hours),
        ):
            if not 0 <= value < math.inf:
                raise SimulationError(f"{name}: {value} must be a finite number, 0 or more")
        if self.hazard_per_hour < 0:
            raise SimulationError(f"hazard: {self.hazard_per_hour} must be 0 or more")
        if self.spot_capacity_vcpus < 1 or self.on_demand_capacity_vcpus < 1:
            raise SimulationError("--max-vcpus: capacity must be at least 1 vCPU")


@dataclass(frozen=True)
class Result:
    name: str
    jobs: int
    completed: int
    cost: float  # USD
    makespan_hours: float
    spot_vcpu_hours: float
    on_demand_vcpu_hours: float
    useful_vcpu_hours: float
    interruptions: int

    @property
    def completed_percent(self) -> float:
        return 100.0 * self.completed / self.jobs

    @property
    def billed_vcpu_hours(self) -> float:
        return self.spot_vcpu_hours + self.on_demand_vcpu_hours

    @property
    def wasted_vcpu_hours(self) -> float:
        """Billed vCPU-hours that did not become finished work (lost work, retry
        start-ups, every attempt of a job that failed in the end)."""
        return max(0.0, self.billed_vcpu_hours - self.useful_vcpu_hours)


def standard_strategies(checkpoint_minutes: float = 15.0) -> tuple[Strategy, ...]:
    """The three ways the README compares."""
    return (
        Strategy("On-Demand only", spot=False, attempts=1),
        Strategy("recipe: no checkpoints, 3 attempts, no fallback", attempts=3),
        Strategy(
            f"cfgen: checkpoints every {checkpoint_minutes:g} min, 5 attempts, fallback",
            attempts=5,
            checkpoint_minutes=checkpoint_minutes,
            fallback=True,
        ),
    )


def durations(workload: Workload, rng: np.random.Generator) -> NDArray[np.float64]:
    import numpy as np

    n, mean = workload.jobs, workload.mean_hours
    if workload.distribution == "fixed" or (
        workload.distribution == "lognormal" and workload.cv == 0
    ):
        return np.full(n, mean, dtype=np.float64)
    if workload.distribution == "exponential":
        return rng.exponential(mean, n)
    sigma2 = math.log1p(workload.cv**2)
    return rng.lognormal(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2), n)


def simulate(
    workload: Workload,
    strategy: Strategy,
    env: Environment,
    *,
    seed: int = 0,
    work: NDArray[np.float64] | None = None,
) -> Result:
    """Run one strategy. ``work`` (hours per job) defaults to draws from ``workload``
    with ``seed``; pass the same array to compare strategies on the same jobs."""
    import numpy as np

    workload.validate()
    env.validate()
    if strategy.attempts < 1 or strategy.attempts > 10:
        raise SimulationError(f"attempts: {strategy.attempts} must be 1-10 (AWS Batch)")
    if strategy.checkpoint_minutes < 0:
        raise SimulationError(f"--checkpoint-minutes: {strategy.checkpoint_minutes} must be >= 0")
    duration_rng, run_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    if work is None:
        work = durations(workload, duration_rng)
    n = work.shape[0]
    remaining = work.astype(np.float64, copy=True)
    wall = np.zeros(n)
    on_demand = np.full(n, not strategy.spot)
    done = np.zeros(n, dtype=bool)
    spot_hours = 0.0
    od_hours = 0.0
    interruptions = 0
    restart = env.restart_minutes / 60.0
    interval = strategy.checkpoint_minutes / 60.0
    final_save_possible = interval > 0 and env.checkpoint_write_seconds <= env.grace_seconds
    vcpus = workload.vcpus_per_job
    od_capacity = env.on_demand_capacity_vcpus if strategy.spot else env.spot_capacity_vcpus
    # With a fallback CE in the queue, jobs overflow to it while the Spot CE is at
    # its ceiling: with a backlog, the fallback runs at its own ceiling too, so
    # each attempt lands there with probability od / (spot + od).
    overflow = 0.0
    if strategy.spot and strategy.fallback and n * vcpus > env.spot_capacity_vcpus:
        overflow = od_capacity / (env.spot_capacity_vcpus + od_capacity)
    active = np.arange(n)
    for attempt in range(strategy.attempts):
        if overflow > 0 and active.size:
            on_demand[active[run_rng.random(active.size) < overflow]] = True
        if active.size == 0:
            break
        rem = remaining[active]
        overhead = restart if attempt > 0 else 0.0
        need = rem + overhead
        od = on_demand[active]
        # On-Demand attempts always finish.
        od_need = need[od]
        od_hours += float(od_need.sum())
        wall[active[od]] += od_need
        done[active[od]] = True
        remaining[active[od]] = 0.0
        spot_idx = active[~od]
        spot_need = need[~od]
        if spot_idx.size == 0:
            active = spot_idx
            break
        if env.hazard_per_hour > 0:
            reclaim = run_rng.exponential(1.0 / env.hazard_per_hour, spot_idx.size)
        else:
            reclaim = np.full(spot_idx.size, np.inf)
        finished = reclaim >= spot_need
        billed = np.where(finished, spot_need, reclaim)
        spot_hours += float(billed.sum())
        wall[spot_idx] += billed
        done[spot_idx[finished]] = True
        remaining[spot_idx[finished]] = 0.0
        hit = spot_idx[~finished]
        interruptions += int(hit.size)
        if hit.size == 0:
            active = hit
            break
        worked = np.maximum(reclaim[~finished] - overhead, 0.0)
        if interval > 0:
            saved = np.floor(worked / interval) * interval
            if final_save_possible and env.notice_rate > 0:
                noticed = run_rng.random(hit.size) < env.notice_rate
                saved = np.where(noticed, worked, saved)
            remaining[hit] -= saved
        # Placement of the retry: right after a reclaim the pool may be empty.
        short = run_rng.random(hit.size) < env.shortfall
        if strategy.fallback:
            on_demand[hit[short]] = True
        else:
            wall[hit[short]] += env.spot_wait_hours
        active = hit
    useful = float(work[done].sum()) * vcpus
    spot_vh, od_vh = spot_hours * vcpus, od_hours * vcpus
    longest = float(wall.max()) if n else 0.0
    if not strategy.spot:
        makespan = max(od_vh / od_capacity, longest)
    elif strategy.fallback:
        # The queue keeps both CEs busy while there is a backlog (fluid bound).
        capacity = env.spot_capacity_vcpus + od_capacity
        makespan = max((spot_vh + od_vh) / capacity, longest)
    else:
        makespan = max(spot_vh / env.spot_capacity_vcpus, longest)
    cost = spot_vh * env.spot_price_per_vcpu_hour + od_vh * env.on_demand_price_per_vcpu_hour
    return Result(
        name=strategy.name,
        jobs=n,
        completed=int(done.sum()),
        cost=cost,
        makespan_hours=makespan,
        spot_vcpu_hours=spot_vh,
        on_demand_vcpu_hours=od_vh,
        useful_vcpu_hours=useful,
        interruptions=interruptions,
    )


def compare(
    workload: Workload,
    strategies: tuple[Strategy, ...],
    env: Environment,
    *,
    seed: int = 0,
) -> list[Result]:
    """Every strategy on the same jobs (common random numbers), each with its own
    reproducible stream of interruptions."""
    import numpy as np

    workload.validate()
    work = durations(workload, np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]))
    return [
        simulate(workload, s, env, seed=seed + 1 + i, work=work) for i, s in enumerate(strategies)
    ]


def sweep(
    workload: Workload,
    strategies: tuple[Strategy, ...],
    env: Environment,
    monthly_rates: list[float],
    *,
    seed: int = 0,
    band_hours: float = HOURS_PER_MONTH,
) -> dict[str, list[Result]]:
    """Results per strategy for each monthly interruption rate (for the chart)."""
    out: dict[str, list[Result]] = {s.name: [] for s in strategies}
    for rate in monthly_rates:
        rated = replace(env, hazard_per_hour=hazard_per_hour(rate, band_hours))
        for result in compare(workload, strategies, rated, seed=seed):
            out[result.name].append(result)
    return out


def format_results(results: list[Result]) -> str:
    head = (
        f"{'strategy':<55} {'cost $':>10} {'done %':>7} {'makespan h':>10} "
        f"{'wasted vCPU-h':>13} {'interruptions':>13}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        rows.append(
            f"{r.name:<55} {r.cost:>10.2f} {r.completed_percent:>7.2f} "
            f"{r.makespan_hours:>10.1f} {r.wasted_vcpu_hours:>13.1f} {r.interruptions:>13d}"
        )
    return "\n".join(rows)


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or a one-line SimulationError."""
    # Imported by name: matplotlib is an optional extra (cfgen[chart]) without
    # type information in the base install.
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        return importlib.import_module("matplotlib.pyplot")
    except ImportError as exc:
        raise SimulationError(
            "--chart: matplotlib is not installed (pip install 'cfgen[chart]')"
        ) from exc


def chart(
    path: str,
    rates: list[float],
    series: dict[str, list[Result]],
    *,
    title: str,
    band_hours: float = HOURS_PER_MONTH,
) -> None:
    """Write a PNG of cost and completion against the monthly interruption rate."""
    plt = pyplot()
    fig: Any
    fig, (ax_cost, ax_done) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = [100 * r for r in rates]
    for name, results in series.items():
        ax_cost.plot(xs, [r.cost for r in results], marker="o", label=name)
        ax_done.plot(xs, [r.completed_percent for r in results], marker="o", label=name)
    period = "month" if band_hours == HOURS_PER_MONTH else f"{band_hours:g} h running"
    xlabel = f"Spot interruption rate (% per {period})"
    ax_cost.set_xlabel(xlabel)
    ax_cost.set_ylabel("expected cost (USD)")
    ax_done.set_xlabel(xlabel)
    ax_done.set_ylabel("jobs completed (%)")
    ax_done.legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
