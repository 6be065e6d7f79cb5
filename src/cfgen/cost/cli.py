"""``cfgen cost`` and ``cfgen simulate``: argument parsing and exit codes only.

Usage errors and bad values print one line on stderr naming the field, the
value and the rule, and return 2; nothing is written.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cfgen import clikit
from cfgen.clikit import Parser, UsageError, finite, int_in
from cfgen.config import RANGES

if TYPE_CHECKING:
    from cfgen.config import Profile
    from cfgen.cost.estimate import Estimate
    from cfgen.cost.simulate import Environment, Result, Workload

DEFAULT_REGION = "us-east-1"
_MAX_VCPUS = RANGES["compute.max_vcpus"]


def _load_profile(name: str) -> Profile:
    from cfgen.config import load_profile

    return load_profile(name)


# ---------------------------------------------------------------- cfgen cost


def _cost_parser() -> Parser:
    parser = Parser(
        prog="cfgen cost",
        description=(
            "Hourly cost of a profile at full scale: per instance type and blended as the "
            "allocation strategy spreads it, Spot against On-Demand."
        ),
    )
    parser.add_argument("--profile", default="default", help="profile name or TOML path")
    parser.add_argument(
        "--region", default=DEFAULT_REGION, help=f"AWS region (default {DEFAULT_REGION})"
    )
    parser.add_argument(
        "--max-vcpus",
        type=int_in("max_vcpus", *_MAX_VCPUS),
        help="full scale in vCPUs (default: the profile's max_vcpus)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="use the bundled Spot estimate and network rates even when AWS credentials exist",
    )
    parser.add_argument(
        "--memory-gib-per-vcpu",
        type=finite("memory_gib_per_vcpu", 0, 120),
        help="Fargate only: task memory per vCPU in GB, above 0, at most 120"
        " (default: the profile's job size)",
    )
    parser.add_argument(
        "--data-gb-per-month",
        type=finite("data_gb_per_month"),
        help="GB a month between jobs and S3/ECR: adds NAT against VPC endpoint charges"
        " (default: the profile's cost.data_gb_per_month; 0 there = none)",
    )
    return parser


def _fargate_memory(profile: Profile, override: float | None) -> float:
    if override is not None:
        if not override > 0:
            raise UsageError(f"--memory-gib-per-vcpu: {override:g} must be above 0")
        return override
    job = getattr(profile, "job", None)
    vcpus = float(getattr(job, "vcpus", 1) or 1)
    memory_mib = float(getattr(job, "memory_mib", 2048))
    return memory_mib / 1024.0 / vcpus


def cost_main(argv: list[str]) -> int:
    """Entry point of ``python -m cfgen cost``."""
    return clikit.run("cfgen cost", lambda: _cost(argv))


def _cost(argv: list[str]) -> int:
    from cfgen.cost import estimate as est
    from cfgen.cost.prices import PriceError, check_region

    args = _cost_parser().parse_args(argv)
    try:
        check_region(args.region)
        profile = _load_profile(args.profile)
        result = est.estimate(
            profile.compute,
            args.region,
            max_vcpus=args.max_vcpus,
            offline=args.offline,
            memory_gib_per_vcpu=_fargate_memory(profile, args.memory_gib_per_vcpu),
        )
        transfer = _network(profile, args.region, args.data_gb_per_month, offline=args.offline)
    except PriceError as exc:
        raise UsageError(str(exc)) from None
    print(est.format_estimate(result, profile.name))
    if transfer:
        print()
        print(transfer)
    return 0


def _network(profile: Profile, region: str, data_gb: float | None, *, offline: bool) -> str:
    """The data-transfer block: for ``--data-gb-per-month``, else for the profile's
    ``cost.data_gb_per_month`` (empty when neither asks for one)."""
    from cfgen.config import data_gb_per_month_rule

    volume_from = ""
    if data_gb is None:
        data_gb = profile.cost.data_gb_per_month
        if not data_gb > 0:
            return ""
        volume_from = "cost.data_gb_per_month of the profile"
    rule = data_gb_per_month_rule(data_gb)
    if rule:
        raise UsageError(f"--data-gb-per-month: {data_gb:g} {rule}")
    from cfgen.config import Platform
    from cfgen.cost import network
    from cfgen.endpoints import interface_services

    platform = Platform(str(profile.compute.platform))
    comparison = network.compare(
        region,
        data_gb,
        interface_endpoints=len(interface_services(platform)),
        quote=network.network_quote(region, offline=offline),
    )
    return network.format_comparison(
        comparison, str(profile.compute.network_mode), volume_from=volume_from
    )


def _workload_transfer(profile: Profile, region: str, jobs: int, gb_per_job: float | None) -> str:
    """The data-transfer block for ``simulate --gb-per-job`` (empty without it)."""
    if gb_per_job is None:
        return ""
    if not gb_per_job >= 0:
        raise UsageError(f"--gb-per-job: {gb_per_job:g} must be 0 or more")
    from cfgen.config import Platform
    from cfgen.cost import network
    from cfgen.endpoints import interface_services

    platform = Platform(str(profile.compute.platform))
    comparison = network.compare(
        region, jobs * gb_per_job, interface_endpoints=len(interface_services(platform))
    )
    return network.format_workload(
        comparison, str(profile.compute.network_mode), jobs=jobs, gb_per_job=gb_per_job
    )


# ------------------------------------------------------------ cfgen simulate


def _simulate_parser() -> Parser:
    from cfgen.cost import simulate as sim

    parser = Parser(
        prog="cfgen simulate",
        description=(
            "Monte Carlo model of a workload on Spot with interruptions, retries, "
            "checkpoints and an On-Demand fallback; compares On-Demand only, the recipe's "
            "style and cfgen's default side by side. Prices: the bundled tables. "
            f"Bounds: --jobs at most {sim.MAX_JOBS:,}, --chart-jobs at most "
            f"{sim.MAX_CHART_JOBS:,} (memory grows with jobs), --duration-hours at most "
            f"{sim.MAX_MEAN_HOURS:g}, every number finite."
        ).replace("%", "%%"),
    )
    add = parser.add_argument
    add("--profile", default="default", help="profile whose instance types set the prices")
    add("--region", default=DEFAULT_REGION, help=f"AWS region (default {DEFAULT_REGION})")
    add(
        "--jobs",
        type=int_in("jobs", 1, sim.MAX_JOBS),
        default=10_000,
        help=f"number of jobs, 1-{sim.MAX_JOBS} (default 10000)",
    )
    add(
        "--duration-hours",
        type=finite("duration_hours", 0, sim.MAX_MEAN_HOURS),
        default=2.0,
        help=f"mean job duration, above 0, at most {sim.MAX_MEAN_HOURS:g} (default 2)",
    )
    add("--distribution", default="lognormal", help=f"one of {', '.join(sim.DISTRIBUTIONS)}")
    add(
        "--cv",
        type=finite("cv", 0, 100),
        default=1.0,
        help="lognormal coefficient of variation (default 1)",
    )
    add(
        "--vcpus-per-job",
        type=int_in("vcpus_per_job", 1, _MAX_VCPUS[1]),
        help="vCPUs per job (default: the profile's job size)",
    )
    add(
        "--interruption",
        default=">20%",
        help=(
            "Spot Instance Advisor band ("
            + ", ".join(sim.BANDS).replace("%", "%%")
            + ") or a monthly %% (default >20%%)"
        ),
    )
    number = finite("number")
    add(
        "--band-hours",
        type=number,
        default=730.0,
        help="running hours a band's probability refers to (default 730, a month)",
    )
    add("--checkpoint-minutes", type=number, default=15.0, help="cfgen's interval (default 15)")
    add("--grace-seconds", type=number, help="SIGTERM to SIGKILL (default: the profile's, 110)")
    add("--checkpoint-write-seconds", type=number, default=30.0, help="default 30")
    add("--notice-rate", type=number, default=0.9, help="reclaims noticed in time (0.9)")
    add("--restart-minutes", type=number, default=1.0, help="start-up per retry (default 1)")
    add("--shortfall", type=number, default=0.5, help="P(no Spot for a retry) (default 0.5)")
    add("--spot-wait-hours", type=number, default=0.5, help="wait without fallback (0.5)")
    add(
        "--max-vcpus",
        type=int_in("max_vcpus", *_MAX_VCPUS),
        help="Spot capacity (default: the profile's max_vcpus)",
    )
    add("--gb-per-job", type=number, help="GB each job moves to/from S3: adds data transfer")
    add(
        "--seed",
        type=int_in("seed", 0, sim.MAX_SEED),
        default=0,
        help=f"random seed, 0-{sim.MAX_SEED} (default 0)",
    )
    add("--chart", metavar="PNG", help="also write cost and completion vs interruption rate")
    add(
        "--chart-jobs",
        type=int_in("chart_jobs", 1, sim.MAX_CHART_JOBS),
        default=20_000,
        help=f"jobs per chart point, at most {sim.MAX_CHART_JOBS} (default 20000)",
    )
    return parser


def simulate_main(argv: list[str]) -> int:
    """Entry point of ``python -m cfgen simulate``."""
    return clikit.run("cfgen simulate", lambda: _simulate(argv))


def _simulate(argv: list[str]) -> int:
    from cfgen.cost import simulate as sim
    from cfgen.cost.prices import PriceError

    args = _simulate_parser().parse_args(argv)
    try:
        return _simulate_run(args)
    except (PriceError, sim.SimulationError) as exc:
        raise UsageError(str(exc)) from None


@dataclass(frozen=True)
class _Run:
    profile: Profile
    workload: Workload
    env: Environment
    monthly: float
    quote: Estimate


def _simulate_run(args: argparse.Namespace) -> int:
    from cfgen.cost import simulate as sim

    chart_path = _check_chart_path(args.chart) if args.chart else None
    if chart_path is not None:
        sim.pyplot()  # fail before simulating when matplotlib is missing
    run = _simulate_inputs(args)
    transfer = _workload_transfer(run.profile, run.quote.region, args.jobs, args.gb_per_job)
    strategies = sim.standard_strategies(args.checkpoint_minutes)
    results = sim.compare(run.workload, strategies, run.env, seed=args.seed)
    if chart_path is not None:
        rates = [0.0, *sim.BANDS.values(), 0.35, 0.5]
        small = replace(run.workload, jobs=min(args.jobs, args.chart_jobs))
        series = sim.sweep(
            small, strategies, run.env, rates, seed=args.seed, band_hours=args.band_hours
        )
        _write_chart(chart_path, rates, series, run.profile.name, small, band_hours=args.band_hours)
    print(
        _simulate_header(
            run.profile.name,
            args,
            workload=run.workload,
            env=run.env,
            monthly=run.monthly,
            quote=run.quote,
        )
    )
    print()
    print(sim.format_results(results))
    if transfer:
        print()
        print(transfer)
    if chart_path is not None:
        print(f"\nchart written to {chart_path}")
    return 0


def _simulate_inputs(args: argparse.Namespace) -> _Run:
    from cfgen.cost import estimate as est
    from cfgen.cost import simulate as sim
    from cfgen.cost.prices import check_region

    monthly = sim.parse_band(args.interruption)
    hazard = sim.hazard_per_hour(monthly, args.band_hours)  # validates --band-hours
    check_region(args.region)
    profile = _load_profile(args.profile)
    job = profile.job
    vcpus = args.vcpus_per_job or max(1, round(float(job.vcpus)))
    grace = args.grace_seconds
    if grace is None:
        grace = float(job.stop_timeout_seconds)
    compute = profile.compute
    scale = args.max_vcpus or compute.max_vcpus
    if vcpus > scale:
        raise UsageError(f"--vcpus-per-job: {vcpus} must not exceed capacity {scale} vCPUs")
    quote = est.estimate(
        compute,
        args.region,
        max_vcpus=scale,
        offline=True,
        memory_gib_per_vcpu=_fargate_memory(profile, None),
    )
    workload = sim.Workload(
        jobs=args.jobs,
        mean_hours=args.duration_hours,
        distribution=args.distribution,
        cv=args.cv,
        vcpus_per_job=vcpus,
    )
    env = sim.Environment(
        hazard_per_hour=hazard,
        spot_price_per_vcpu_hour=quote.spot_per_vcpu,
        on_demand_price_per_vcpu_hour=quote.fallback_per_vcpu,
        spot_capacity_vcpus=scale,
        on_demand_capacity_vcpus=max(compute.on_demand_max_vcpus or 16, vcpus),
        grace_seconds=grace,
        checkpoint_write_seconds=args.checkpoint_write_seconds,
        notice_rate=args.notice_rate,
        restart_minutes=args.restart_minutes,
        shortfall=args.shortfall,
        spot_wait_hours=args.spot_wait_hours,
    )
    return _Run(profile, workload, env, monthly, quote)


def _simulate_header(
    profile_name: str,
    args: argparse.Namespace,
    *,
    workload: Workload,
    env: Environment,
    monthly: float,
    quote: Estimate,
) -> str:

    dist = workload.distribution + (
        f" (cv {workload.cv:g})" if workload.distribution == "lognormal" else ""
    )
    return "\n".join(
        [
            f"Workload: {workload.jobs} jobs x {workload.vcpus_per_job} vCPU, "
            f"{dist} duration, mean {workload.mean_hours:g} h; seed {args.seed}",
            f"Spot interruptions: {args.interruption} per month -> p = {100 * monthly:g}% "
            f"-> hazard {env.hazard_per_hour:.3e}/h (= -ln(1-p)/{args.band_hours:g} h)",
            f"Prices ({profile_name}, {quote.region}, bundled): Spot "
            f"{env.spot_price_per_vcpu_hour:.5f} $/vCPU-h blended, On-Demand "
            f"{env.on_demand_price_per_vcpu_hour:.5f} $/vCPU-h",
            f"Capacity: Spot {env.spot_capacity_vcpus} vCPUs, On-Demand fallback "
            f"{env.on_demand_capacity_vcpus} vCPUs; grace {env.grace_seconds:g} s, "
            f"checkpoint write {env.checkpoint_write_seconds:g} s, notice reaches the job "
            f"{100 * env.notice_rate:g}%, retry start-up {env.restart_minutes:g} min, "
            f"no Spot for a retry {100 * env.shortfall:g}%",
        ]
    )


def _check_chart_path(text: str) -> Path:
    if Path(text).suffix.lower() != ".png":
        raise UsageError(f"--chart: {text!r} must end in .png")
    clikit.check_output(text, "--chart")
    return Path(text)


def _write_chart(
    path: Path,
    rates: list[float],
    series: dict[str, list[Result]],
    profile_name: str,
    workload: Workload,
    *,
    band_hours: float,
) -> None:
    """Render into a private folder, then write like every output (cfgen.clikit):
    no partial PNG, and a device or pipe is written in place."""
    from cfgen.cost import simulate as sim

    title = (
        f"cfgen simulate: profile {profile_name}, {workload.jobs} jobs, "
        f"mean {workload.mean_hours:g} h ({workload.distribution})"
    )
    with tempfile.TemporaryDirectory(prefix="cfgen-chart-") as folder:
        tmp = Path(folder) / "chart.png"
        sim.chart(str(tmp), rates, series, title=title, band_hours=band_hours)
        clikit.write_output(path, tmp.read_bytes(), "--chart")
