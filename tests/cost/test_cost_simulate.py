"""The Monte Carlo model against closed forms, with fixed seeds."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from cfgen.cost import simulate as s

SPOT, OD = 0.015, 0.0425  # USD per vCPU-hour


def _env(hazard: float, **kw: float) -> s.Environment:
    values: dict[str, float] = {
        "hazard_per_hour": hazard,
        "spot_price_per_vcpu_hour": SPOT,
        "on_demand_price_per_vcpu_hour": OD,
        "restart_minutes": 0.0,
        "shortfall": 0.0,
        **kw,
    }
    return s.Environment(**values)  # type: ignore[arg-type]


FIXED = s.Workload(jobs=200_000, mean_hours=2.0, distribution="fixed")
NO_CKPT = s.Strategy("no checkpoints", attempts=3)


# ---------------------------------------------------------------- bands


@pytest.mark.parametrize("band", list(s.BANDS))
def test_band_hazard_reproduces_the_monthly_probability(band: str) -> None:
    p = s.parse_band(band)
    lam = s.hazard_per_hour(p)
    assert 1 - math.exp(-lam * s.HOURS_PER_MONTH) == pytest.approx(p)


def test_bands_are_midpoints_and_accept_en_dash_and_percent() -> None:
    assert s.parse_band("<5%") == 0.025
    assert s.parse_band("5\u201310%") == 0.075
    assert s.parse_band(" 15-20% ") == 0.175
    assert s.parse_band(">20%") == 0.25
    assert s.parse_band("12%") == pytest.approx(0.12)
    assert s.parse_band("0") == 0.0


@pytest.mark.parametrize("bad", ["20-25%", "abc", "100%", "-5%", ""])
def test_bad_band_is_a_one_line_error(bad: str) -> None:
    with pytest.raises(s.SimulationError, match="--interruption") as err:
        s.parse_band(bad)
    assert "\n" not in str(err.value)


def test_band_hours_scale_the_hazard() -> None:
    assert s.hazard_per_hour(0.25, 24) == pytest.approx(
        s.hazard_per_hour(0.25) * s.HOURS_PER_MONTH / 24
    )
    assert 1 - math.exp(-s.hazard_per_hour(0.1, 24) * 24) == pytest.approx(0.1)


def test_hazard_rejects_certain_interruption() -> None:
    with pytest.raises(s.SimulationError):
        s.hazard_per_hour(1.0)


# ---------------------------------------------------------- closed forms


def test_no_interruptions_cost_is_price_times_hours() -> None:
    work = s.Workload(jobs=5_000, mean_hours=3.0, cv=1.5, vcpus_per_job=2)
    env = _env(0.0, spot_capacity_vcpus=100)
    r = s.simulate(work, NO_CKPT, env, seed=7)
    hours = s.durations(work, np.random.default_rng(np.random.SeedSequence(7).spawn(2)[0]))
    assert r.completed == work.jobs
    assert r.interruptions == 0
    assert r.cost == pytest.approx(SPOT * 2 * hours.sum())
    assert r.wasted_vcpu_hours == pytest.approx(0.0, abs=1e-6)
    assert r.makespan_hours == pytest.approx(max(2 * hours.sum() / 100, hours.max()))


def test_on_demand_only_costs_on_demand_price_times_hours() -> None:
    r = s.simulate(FIXED, s.Strategy("od", spot=False, attempts=1), _env(0.5), seed=1)
    assert r.interruptions == 0
    assert r.completed == FIXED.jobs
    assert r.cost == pytest.approx(OD * 2.0 * FIXED.jobs)


def test_interruptions_with_full_checkpoints_are_poisson() -> None:
    """Saving all progress at each reclaim makes a job's Spot time exactly its
    duration d, and the reclaims during it a Poisson process: E[N] = lambda d."""
    lam = 0.2
    strategy = s.Strategy("ckpt", attempts=10, checkpoint_minutes=15)
    r = s.simulate(FIXED, strategy, _env(lam, notice_rate=1.0), seed=3)
    assert r.interruptions / FIXED.jobs == pytest.approx(lam * 2.0, abs=0.01)
    assert r.completed == FIXED.jobs
    assert r.cost == pytest.approx(SPOT * 2.0 * FIXED.jobs)
    assert r.wasted_vcpu_hours == pytest.approx(0.0, abs=1e-3)


def test_restart_without_checkpoints_matches_geometric_closed_forms() -> None:
    lam, d, attempts = 0.3, 2.0, 3
    q = 1 - math.exp(-lam * d)  # P(an attempt is reclaimed)
    r = s.simulate(FIXED, replace(NO_CKPT, attempts=attempts), _env(lam), seed=11)
    n = FIXED.jobs
    assert r.completed / n == pytest.approx(1 - q**attempts, abs=0.005)
    assert r.interruptions / n == pytest.approx(sum(q**k for k in range(1, attempts + 1)), abs=0.01)
    mean_attempt_hours = (1 - math.exp(-lam * d)) / lam  # E[min(T, d)]
    expected_billed = sum(q**k for k in range(attempts)) * mean_attempt_hours
    assert r.spot_vcpu_hours / n == pytest.approx(expected_billed, rel=0.01)


def test_single_attempt_waste_matches_closed_form() -> None:
    lam, d = 0.4, 2.0
    r = s.simulate(FIXED, replace(NO_CKPT, attempts=1), _env(lam), seed=5)
    expected = (1 - math.exp(-lam * d)) / lam - d * math.exp(-lam * d)
    assert r.wasted_vcpu_hours / FIXED.jobs == pytest.approx(expected, rel=0.01)


def test_periodic_checkpoints_lose_less_than_one_interval_per_reclaim() -> None:
    interval_min = 20
    strategy = s.Strategy("periodic", attempts=10, checkpoint_minutes=interval_min)
    r = s.simulate(FIXED, strategy, _env(0.3, notice_rate=0.0), seed=9)
    assert r.completed == FIXED.jobs
    assert 0 < r.wasted_vcpu_hours < r.interruptions * interval_min / 60
    # Uniform loss within an interval: about half an interval per reclaim.
    assert r.wasted_vcpu_hours / r.interruptions == pytest.approx(interval_min / 120, rel=0.05)


def test_grace_too_short_for_the_final_checkpoint_equals_no_notice() -> None:
    strategy = s.Strategy("ckpt", attempts=5, checkpoint_minutes=15)
    short = _env(0.3, notice_rate=1.0, grace_seconds=10, checkpoint_write_seconds=30)
    none = _env(0.3, notice_rate=0.0)
    a = s.simulate(FIXED, strategy, short, seed=4)
    b = s.simulate(FIXED, strategy, none, seed=4)
    assert a.cost == pytest.approx(b.cost)
    assert a.wasted_vcpu_hours == pytest.approx(b.wasted_vcpu_hours)


def test_fallback_moves_retries_to_on_demand() -> None:
    strategy = s.Strategy("fb", attempts=2, fallback=True)
    # Spot ceiling above the whole workload: no overflow, only shortfall retries.
    env = _env(0.3, shortfall=1.0, spot_capacity_vcpus=FIXED.jobs)
    r = s.simulate(FIXED, strategy, env, seed=2)
    assert r.completed == FIXED.jobs  # the On-Demand retry is never reclaimed
    assert r.on_demand_vcpu_hours == pytest.approx(2.0 * r.interruptions)
    assert r.cost == pytest.approx(SPOT * r.spot_vcpu_hours + OD * r.on_demand_vcpu_hours)


def test_without_fallback_a_shortfall_only_delays() -> None:
    strategy = replace(NO_CKPT, attempts=10)
    few = replace(FIXED, jobs=100)  # below capacity: the longest job sets the makespan
    quick = s.simulate(few, strategy, _env(0.3), seed=2)
    slow = s.simulate(few, strategy, _env(0.3, shortfall=1.0, spot_wait_hours=5), seed=2)
    assert slow.cost == pytest.approx(quick.cost)
    assert slow.on_demand_vcpu_hours == 0.0
    assert slow.makespan_hours >= quick.makespan_hours + 5


# ------------------------------------------------------- reproducibility


def test_same_seed_same_result_other_seed_other_result() -> None:
    work = s.Workload(jobs=20_000, mean_hours=4.0)
    env = _env(s.hazard_per_hour(0.25) * 50)
    strategies = s.standard_strategies()
    first = s.compare(work, strategies, env, seed=42)
    again = s.compare(work, strategies, env, seed=42)
    other = s.compare(work, strategies, env, seed=43)
    assert first == again
    assert first[2] != other[2]


def test_compare_runs_every_strategy_on_the_same_jobs() -> None:
    work = s.Workload(jobs=10_000, mean_hours=2.0)
    results = s.compare(work, s.standard_strategies(), _env(0.0), seed=1)
    assert len({round(r.useful_vcpu_hours, 6) for r in results}) == 1
    od_only, recipe, _cfgen, _escalation = results
    assert od_only.cost / recipe.cost == pytest.approx(OD / SPOT)


def test_backlog_overflows_to_the_fallback_ce() -> None:
    """More work than the Spot ceiling: the queue keeps the fallback CE busy too,
    so On-Demand runs od / (spot + od) of the work and both CEs share the makespan."""
    work = s.Workload(jobs=100_000, mean_hours=1.0, distribution="fixed")
    env = _env(0.0, spot_capacity_vcpus=240, on_demand_capacity_vcpus=16)
    r = s.simulate(work, s.Strategy("fb", attempts=5, fallback=True), env, seed=1)
    share = 16 / 256
    assert r.on_demand_vcpu_hours / r.billed_vcpu_hours == pytest.approx(share, abs=0.003)
    expected = work.jobs * ((1 - share) * SPOT + share * OD)
    assert r.cost == pytest.approx(expected, rel=0.005)
    assert r.makespan_hours == pytest.approx(work.jobs / 256)
    no_backlog = s.simulate(replace(work, jobs=200), s.Strategy("fb", fallback=True), env)
    assert no_backlog.on_demand_vcpu_hours == 0.0


def test_cfgen_default_beats_the_recipe_under_heavy_interruptions() -> None:
    work = s.Workload(jobs=20_000, mean_hours=6.0)
    env = _env(0.2, restart_minutes=1.0, shortfall=0.5)
    od_only, recipe, cfgen, _escalation = s.compare(work, s.standard_strategies(), env, seed=0)
    assert cfgen.completed_percent > recipe.completed_percent
    assert cfgen.wasted_vcpu_hours < recipe.wasted_vcpu_hours
    assert od_only.completed_percent == 100.0


def test_sweep_returns_one_result_per_rate() -> None:
    work = s.Workload(jobs=1_000, mean_hours=1.0)
    rates = [0.0, 0.1, 0.5]
    series = s.sweep(work, s.standard_strategies(), _env(0.0), rates, seed=0)
    assert all(len(v) == len(rates) for v in series.values())


# ------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("workload", "field"),
    [
        (s.Workload(jobs=0, mean_hours=1), "--jobs"),
        (s.Workload(jobs=-5, mean_hours=1), "--jobs"),
        (s.Workload(jobs=1, mean_hours=0), "--duration-hours"),
        (s.Workload(jobs=1, mean_hours=1, distribution="weibull"), "--distribution"),
        (s.Workload(jobs=1, mean_hours=1, vcpus_per_job=0), "--vcpus-per-job"),
    ],
)
def test_bad_workload(workload: s.Workload, field: str) -> None:
    with pytest.raises(s.SimulationError, match=field):
        s.simulate(workload, NO_CKPT, _env(0.0))


def test_bad_attempts_and_rates() -> None:
    with pytest.raises(s.SimulationError, match="attempts"):
        s.simulate(FIXED, replace(NO_CKPT, attempts=11), _env(0.0))
    with pytest.raises(s.SimulationError, match="--notice-rate"):
        s.simulate(FIXED, NO_CKPT, _env(0.0, notice_rate=1.5))


def test_importing_the_simulator_does_not_import_numpy() -> None:
    code = (
        "import sys, cfgen.cost.cli, cfgen.cost.simulate, cfgen.cost.estimate;"
        "assert 'numpy' not in sys.modules, 'numpy imported';"
        "assert 'boto3' not in sys.modules, 'boto3 imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rendering_a_template_does_not_import_numpy() -> None:
    code = (
        "import sys\n"
        "from cfgen.config import load_profile\n"
        "from cfgen.render import render\n"
        "assert render(load_profile('default'))\n"
        "assert 'numpy' not in sys.modules, 'numpy imported by rendering'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- escalation (issue 19)


def test_escalation_finishes_on_demand_what_reclaims_ended() -> None:
    # Every Spot attempt is reclaimed at once (hazard 1e9/h): without
    # escalation no job completes; with it every job runs its full work once
    # On-Demand, so cost = jobs x hours x On-Demand price exactly.
    work = s.Workload(jobs=1000, mean_hours=2.0, distribution="fixed")
    env = _env(1e9)
    plain = s.Strategy("spot", attempts=3)
    escalate = replace(plain, escalate=True)
    a = s.simulate(work, plain, env, seed=3)
    b = s.simulate(work, escalate, env, seed=3)
    assert a.completed == 0
    assert b.completed == 1000
    assert b.on_demand_vcpu_hours == pytest.approx(1000 * 2.0)
    assert b.cost == pytest.approx(1000 * 2.0 * OD, rel=1e-6)
    assert b.wasted_vcpu_hours == pytest.approx(0.0, abs=1e-3)


def test_escalation_changes_nothing_without_reclaims() -> None:
    work = s.Workload(jobs=1000, mean_hours=1.0, distribution="fixed")
    cfgen, escalation = s.standard_strategies()[2:]
    # Same seed: the same overflow draws; escalation acts only after the attempts.
    a = s.simulate(work, cfgen, _env(0.0), seed=5)
    b = s.simulate(work, escalation, _env(0.0), seed=5)
    assert (a.cost, a.completed, a.makespan_hours) == (b.cost, b.completed, b.makespan_hours)


def test_escalation_is_the_fourth_standard_row() -> None:
    rows = s.standard_strategies()
    assert len(rows) == 4
    assert rows[3].escalate and not any(r.escalate for r in rows[:3])
