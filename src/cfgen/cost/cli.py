"""``cfgen cost`` and ``cfgen simulate``: argument parsing and exit codes only.

Usage errors and bad values print one line on stderr naming the field, the
value and the rule, and return 2; nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from cfgen.config import Profile
    from cfgen.cost.estimate import Estimate
    from cfgen.cost.simulate import Environment, Result, Workload

DEFAULT_REGION = "us-east-1"


class UsageError(Exception):
    """One-line usage error; the entry points turn it into exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # --help: argparse has printed the help; let the entry point return.
        if message:
            raise UsageError(message.strip())
        raise _HelpShown(status)


class _HelpShown(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _positive_int(field: str) -> type[int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{value} must be at least 1")
        return value

    parse.__name__ = field
    return parse  # type: ignore[return-value]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _load_profile(name: str) -> Profile:
    from cfgen.config import ConfigError, load_profile

    try:
        return load_profile(name)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _fail(prog: str, message: str) -> int:
    text = message if message.startswith(prog) else f"{prog}: {message}"
    print(text.splitlines()[0] if text else prog, file=sys.stderr)
    return 2


# ---------------------------------------------------------------- cfgen cost


def _cost_parser() -> _Parser:
    parser = _Parser(
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
        type=_positive_int("max_vcpus"),
        help="full scale in vCPUs (default: the profile's max_vcpus)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="use the bundled Spot estimate even when AWS credentials exist",
    )
    parser.add_argument(
        "--memory-gib-per-vcpu",
        type=_number,
        help="Fargate only: task memory per vCPU in GB (default: the profile's job size)",
    )
    parser.add_argument(
        "--data-gb-per-month",
        type=_number,
        help="GB a month between jobs and S3/ECR: adds NAT against VPC endpoint charges",
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
    from cfgen.cost import estimate as est
    from cfgen.cost.prices import PriceError, check_region

    prog = "cfgen cost"
    try:
        args = _cost_parser().parse_args(argv)
        check_region(args.region)
        profile = _load_profile(args.profile)
        result = est.estimate(
            profile.compute,
            args.region,
            max_vcpus=args.max_vcpus,
            offline=args.offline,
            memory_gib_per_vcpu=_fargate_memory(profile, args.memory_gib_per_vcpu),
        )
        transfer = _network(profile, args.region, args.data_gb_per_month)
    except _HelpShown as shown:
        return shown.status
    except (UsageError, PriceError) as exc:
        return _fail(prog, str(exc))
    print(est.format_estimate(result, profile.name))
    if transfer:
        print()
        print(transfer)
    return 0


def _network(profile: Profile, region: str, data_gb: float | None) -> str:
    """The data-transfer block for ``--data-gb-per-month`` (empty without it)."""
    if data_gb is None:
        return ""
    if not data_gb >= 0:
        raise UsageError(f"--data-gb-per-month: {data_gb:g} must be 0 or more")
    from cfgen.config import Platform
    from cfgen.cost import network
    from cfgen.endpoints import interface_services

    platform = Platform(str(profile.compute.platform))
    comparison = network.compare(
        region, data_gb, interface_endpoints=len(interface_services(platform))
    )
    return network.format_comparison(comparison, str(profile.compute.network_mode))


# ------------------------------------------------------------ cfgen simulate


def _simulate_parser() -> _Parser:
    from cfgen.cost.simulate import BANDS, DISTRIBUTIONS

    parser = _Parser(
        prog="cfgen simulate",
        description=(
            "Monte Carlo model of a workload on Spot with interruptions, retries, "
            "checkpoints and an On-Demand fallback; compares On-Demand only, the recipe's "
            "style and cfgen's default side by side. Prices: the bundled tables."
        ),
    )
    add = parser.add_argument
    add("--profile", default="default", help="profile whose instance types set the prices")
    add("--region", default=DEFAULT_REGION, help=f"AWS region (default {DEFAULT_REGION})")
    add("--jobs", type=int, default=10_000, help="number of jobs (default 10000)")
    add("--duration-hours", type=_number, default=2.0, help="mean job duration (default 2)")
    add("--distribution", default="lognormal", help=f"one of {', '.join(DISTRIBUTIONS)}")
    add("--cv", type=_number, default=1.0, help="lognormal coefficient of variation (default 1)")
    add("--vcpus-per-job", type=int, help="vCPUs per job (default: the profile's job size)")
    add(
        "--interruption",
        default=">20%",
        help=(
            "Spot Instance Advisor band ("
            + ", ".join(BANDS).replace("%", "%%")
            + ") or a monthly %% (default >20%%)"
        ),
    )
    add(
        "--band-hours",
        type=_number,
        default=730.0,
        help="running hours a band's probability refers to (default 730, a month)",
    )
    add("--checkpoint-minutes", type=_number, default=15.0, help="cfgen's interval (default 15)")
    add("--grace-seconds", type=_number, help="SIGTERM to SIGKILL (default: the profile's, 110)")
    add("--checkpoint-write-seconds", type=_number, default=30.0, help="default 30")
    add("--notice-rate", type=_number, default=0.9, help="reclaims noticed in time (0.9)")
    add("--restart-minutes", type=_number, default=1.0, help="start-up per retry (default 1)")
    add("--shortfall", type=_number, default=0.5, help="P(no Spot for a retry) (default 0.5)")
    add("--spot-wait-hours", type=_number, default=0.5, help="wait without fallback (0.5)")
    add("--max-vcpus", type=int, help="Spot capacity (default: the profile's max_vcpus)")
    add("--gb-per-job", type=_number, help="GB each job moves to/from S3: adds data transfer")
    add("--seed", type=int, default=0, help="random seed (default 0)")
    add("--chart", metavar="PNG", help="also write cost and completion vs interruption rate")
    add("--chart-jobs", type=int, default=20_000, help="jobs per chart point (default 20000)")
    return parser


def simulate_main(argv: list[str]) -> int:
    """Entry point of ``python -m cfgen simulate``."""
    from cfgen.cost import estimate as est
    from cfgen.cost import simulate as sim
    from cfgen.cost.prices import PriceError, check_region

    prog = "cfgen simulate"
    try:
        args = _simulate_parser().parse_args(argv)
        if args.jobs < 1:
            raise UsageError(f"--jobs: {args.jobs} must be at least 1")
        if args.max_vcpus is not None and args.max_vcpus < 1:
            raise UsageError(f"--max-vcpus: {args.max_vcpus} must be at least 1")
        if args.chart_jobs < 1:
            raise UsageError(f"--chart-jobs: {args.chart_jobs} must be at least 1")
        if args.vcpus_per_job is not None and args.vcpus_per_job < 1:
            raise UsageError(f"--vcpus-per-job: {args.vcpus_per_job} must be at least 1")
        chart_path = _check_chart_path(args.chart) if args.chart else None
        if chart_path is not None:
            sim.pyplot()  # fail before simulating when matplotlib is missing
        monthly = sim.parse_band(args.interruption)
        sim.hazard_per_hour(monthly, args.band_hours)  # validates --band-hours
        check_region(args.region)
        profile = _load_profile(args.profile)
        job = getattr(profile, "job", None)
        vcpus = args.vcpus_per_job or max(1, round(float(getattr(job, "vcpus", 1))))
        grace = args.grace_seconds
        if grace is None:
            grace = float(getattr(job, "stop_timeout_seconds", 110))
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
            hazard_per_hour=sim.hazard_per_hour(monthly, args.band_hours),
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
        transfer = _workload_transfer(profile, args.region, args.jobs, args.gb_per_job)
        strategies = sim.standard_strategies(args.checkpoint_minutes)
        results = sim.compare(workload, strategies, env, seed=args.seed)
        if chart_path is not None:
            rates = [0.0, *sim.BANDS.values(), 0.35, 0.5]
            small = sim.Workload(
                jobs=min(args.jobs, args.chart_jobs),
                mean_hours=workload.mean_hours,
                distribution=workload.distribution,
                cv=workload.cv,
                vcpus_per_job=vcpus,
            )
            series = sim.sweep(
                small, strategies, env, rates, seed=args.seed, band_hours=args.band_hours
            )
            _write_chart(chart_path, rates, series, profile.name, small, band_hours=args.band_hours)
    except _HelpShown as shown:
        return shown.status
    except (UsageError, PriceError, sim.SimulationError) as exc:
        return _fail(prog, str(exc))
    print(
        _simulate_header(
            profile.name, args, workload=workload, env=env, monthly=monthly, quote=quote
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


def _workload_transfer(profile: Profile, region: str, jobs: int, gb_per_job: float | None) -> str:
    """The data-transfer block for ``--gb-per-job`` (empty without it)."""
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
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise UsageError(f"--chart: {text!r} must end in .png")
    if path.is_dir():
        raise UsageError(f"--chart: {text!r} is a directory")
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise UsageError(f"--chart: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"--chart: folder {str(folder)!r} is not writable")
    return path


def _write_chart(
    path: Path,
    rates: list[float],
    series: dict[str, list[Result]],
    profile_name: str,
    workload: Workload,
    *,
    band_hours: float,
) -> None:
    """Render to a temporary file in the same folder, then rename: no partial PNG."""
    from cfgen.cost import simulate as sim

    title = (
        f"cfgen simulate: profile {profile_name}, {workload.jobs} jobs, "
        f"mean {workload.mean_hours:g} h ({workload.distribution})"
    )
    fd, tmp = tempfile.mkstemp(prefix=".cfgen-chart-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        sim.chart(tmp, rates, series, title=title, band_hours=band_hours)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
