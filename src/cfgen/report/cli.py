"""``cfgen report``: what a stack's jobs really cost, from the cost ledger (and Batch).

Read-only with the caller's credentials, except ``--put-metrics`` (CloudWatch
PutMetricData) and ``--chart FILE``. Bad input is one line naming the option, the
value and the rule (exit 2, nothing read or written); an AWS error is one line
(exit 1).
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from cfgen import clikit, contract
from cfgen.clikit import EXIT_FINDINGS, EXIT_OK, Parser, UsageError

PROG = "cfgen report"
DEFAULT_REGION = "us-east-1"
FORMATS = ("table", "csv", "json")
#: --since at most this far back: the ledger's lifecycle rule expires older records.
MAX_AGE_DAYS = contract.LEDGER_EXPIRATION_DAYS
_AGE = re.compile(r"^([0-9]{1,5})([dhm])$")
_JOB = re.compile(r"^[A-Za-z0-9._#-]{1,128}$")


def parser() -> Parser:
    p = Parser(
        prog=PROG,
        description=(
            "What the jobs of a cfgen stack really cost: per array job, queue and share,"
            " vCPU-hours and GiB-hours on Spot and On-Demand, cost (Spot price history of"
            " each instance type, AZ and hour; bundled estimate offline, labelled), the same"
            " work On-Demand, work lost to reclaims, and what `cfgen simulate` predicts for"
            " the same shape. Reads the worker's cost ledger (ledger/ in the data bucket);"
            " jobs without a record are filled from Batch, ECS and EC2 where possible."
        ),
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--stack", metavar="NAME", help="the cfgen stack (its outputs name the bucket and queues)"
    )
    where.add_argument(
        "--bucket", metavar="NAME", help="read the ledger of this data bucket only (no Batch)"
    )
    p.add_argument(
        "--since",
        default="7d",
        help=f"attempts started at or after: an age (7d, 12h, 30m), a date (2026-12-01) or a"
        f" UTC time (2026-12-01T10:00:00Z); at most {MAX_AGE_DAYS} days back (default 7d)",
    )
    p.add_argument(
        "--job", metavar="ID", help="one job (an array job's id): also its children's rows"
    )
    p.add_argument("--format", default="table", help=f"one of {', '.join(FORMATS)} (default table)")
    p.add_argument(
        "--chart", metavar="PNG", help="also write daily cost by capacity type and waste"
    )
    p.add_argument(
        "--put-metrics",
        action="store_true",
        help=f"publish daily totals per queue to CloudWatch ({contract.COST_METRICS_NAMESPACE})",
    )
    p.add_argument("--region", help=f"AWS region (default: the SDK's, else {DEFAULT_REGION})")
    p.add_argument(
        "--offline-prices",
        action="store_true",
        help="never ask EC2 for Spot price history (the bundled estimate, labelled)",
    )
    p.add_argument("--no-batch", action="store_true", help="do not fill jobs from Batch/ECS/EC2")
    p.add_argument("--profile", default="default", help="profile for the simulate comparison")
    p.add_argument(
        "--interruption", default=">20%", help="Spot band for the simulate comparison (>20%%)"
    )
    return p


def parse_since(text: str, now: datetime) -> datetime:
    shown = f"--since={text!r}"
    rule = "must be an age (7d, 12h, 30m), a date (2026-12-01) or a UTC time (2026-12-01T10:00:00Z)"
    age = _AGE.match(text)
    if age:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[age.group(2)]
        when = now - timedelta(**{unit: int(age.group(1))})
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{shown}: {rule}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        when = parsed.astimezone(UTC)
    if when > now:
        raise UsageError(f"{shown}: must not be in the future")
    if now - when > timedelta(days=MAX_AGE_DAYS):
        raise UsageError(
            f"{shown}: must be at most {MAX_AGE_DAYS} days back (ledger records expire then)"
        )
    return when


def _validate(args: Any, now: datetime) -> datetime:
    from cfgen.cost import simulate as sim
    from cfgen.cost.cli import _load_profile

    if args.format not in FORMATS:
        raise UsageError(f"--format={args.format!r}: must be one of {', '.join(FORMATS)}")
    since = parse_since(args.since, now)
    if args.job is not None and not _JOB.match(args.job):
        raise UsageError(
            f"--job={args.job!r}: must be a job id (letters, digits, '.', '_', '-', '#';"
            " at most 128; an array job's id, not a child's)"
        )
    if args.chart is not None:
        if not args.chart.lower().endswith(".png"):
            raise UsageError(f"--chart={args.chart!r}: must end in .png")
        clikit.check_output(args.chart, "--chart")
        try:
            sim.pyplot()  # before any AWS call: matplotlib is an optional extra
        except sim.SimulationError as exc:
            raise UsageError(str(exc)) from None
    try:
        sim.parse_band(args.interruption)
    except sim.SimulationError as exc:
        raise UsageError(str(exc)) from None
    _load_profile(args.profile)
    return since


def main(argv: list[str]) -> int:
    return clikit.run(PROG, lambda: _main(argv))


def _main(argv: list[str]) -> int:
    import boto3
    import botocore.exceptions

    from cfgen.cost.prices import PriceError, check_region

    args = parser().parse_args(argv)
    now = datetime.now(UTC)
    since = _validate(args, now)
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name or DEFAULT_REGION
    try:
        check_region(region)
    except PriceError as exc:
        raise UsageError(str(exc)) from None
    try:
        report = build(session, region, args, since=since, now=now)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(f"{PROG}: error: {clikit.one_line(str(exc))}", file=sys.stderr)
        return EXIT_FINDINGS
    from cfgen.report import output

    text = {"table": output.table, "csv": output.to_csv, "json": output.to_json}[args.format](
        report.report
    )
    print(text.rstrip("\n"))
    if args.chart:
        output.write_chart(args.chart, report.report.priced, report.report.title)
        print(f"chart written to {args.chart}", file=sys.stderr)
    if args.put_metrics:
        datums, skipped = output.metric_datums(report.report.priced, now=now)
        from cfgen.report.aws import put_daily_metrics

        try:
            sent = put_daily_metrics(session.client("cloudwatch", region_name=region), datums)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            print(f"{PROG}: error: --put-metrics: {clikit.one_line(str(exc))}", file=sys.stderr)
            return EXIT_FINDINGS
        tail = f"; {skipped} day(s) older than 14 days not sent" if skipped else ""
        print(
            f"{sent} datums put to CloudWatch namespace {contract.COST_METRICS_NAMESPACE}{tail}",
            file=sys.stderr,
        )
    return EXIT_OK


def _facts_from_batch(batch: Any, attempts: list[Any]) -> list[Any]:
    """Ledger attempts with the job size and share identifier Batch knows (if any)."""
    from dataclasses import replace

    from cfgen.report import aws

    facts = aws.job_facts(batch, {a.job_id for a in attempts})
    out = []
    for a in attempts:
        vcpus, memory, share = facts.get(a.job_id, (None, None, None))
        out.append(
            replace(
                a,
                vcpus=a.vcpus or vcpus,
                memory_mib=a.memory_mib or memory,
                share=a.share or share,
            )
        )
    return out


def _line(exc: Exception) -> str:
    return clikit.one_line(str(exc))[:300]


class Built:
    def __init__(self, report: Any) -> None:
        self.report = report


def build(session: Any, region: str, args: Any, *, since: datetime, now: datetime) -> Built:
    """Read everything and price it (no output)."""
    from cfgen.report import aws, compute, output
    from cfgen.report.pricing import PriceBook, history_from_api

    s3 = session.client("s3", region_name=region)
    notes: list[str] = []
    queues: list[str] = []
    if args.stack:
        info = aws.stack_info(session.client("cloudformation", region_name=region), args.stack)
        bucket, queues = info.bucket, info.queues
        title = f"cfgen report: stack {args.stack}, bucket {bucket}"
    else:
        bucket = args.bucket
        title = f"cfgen report: bucket {bucket}"
    title += f", attempts since {since:%Y-%m-%d %H:%M} UTC" + (
        f", job {args.job}" if args.job else ""
    )
    read = aws.read_ledger(s3, bucket, since=since, job=args.job)
    attempts = list(read.attempts)
    batch = session.client("batch", region_name=region)
    # Batch, ECS and EC2 only add to the ledger: a failure there (no permission, a
    # throttle) is a note under the report, never the end of it.
    import botocore.exceptions

    aws_errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
    if args.stack and not args.no_batch:
        try:
            attempts = _facts_from_batch(batch, attempts)
        except aws_errors as exc:
            notes.append(f"Batch DescribeJobs failed (no share or size filled): {_line(exc)}")
    if args.stack and not args.no_batch and (queues or args.job):
        covered = {(a.job_id, a.array_index or 0, a.attempt) for a in attempts}
        try:
            filled, more = aws.batch_attempts(
                batch,
                session.client("ecs", region_name=region),
                session.client("ec2", region_name=region),
                queues,
                since=since,
                covered=covered,
                job=args.job,
            )
        except aws_errors as exc:
            filled, more = [], [f"Jobs without a ledger record not filled: {_line(exc)}"]
        attempts.extend(filled)
        notes.extend(more)
    fargate_ces = {a.compute_environment for a in attempts if a.platform == "fargate"}
    ce_spot: dict[str, bool] = {}
    if fargate_ces and args.stack:
        try:
            ce_spot = aws.fargate_spot_environments(batch, {c for c in fargate_ces if c})
        except aws_errors as exc:
            notes.append(f"Compute environment types unknown (Fargate assumed): {_line(exc)}")
    book = PriceBook(region)
    pools = {
        (a.instance_type, a.availability_zone or "")
        for a in attempts
        if a.lifecycle == "spot" and a.instance_type
    }
    ec2 = session.client("ec2", region_name=region)
    if args.offline_prices:
        book.spot_detail = "bundled estimate (--offline-prices)"
    elif not pools:
        book.spot_detail = "none needed (no Spot attempts on EC2)"
    elif not aws.is_aws_endpoint(ec2):
        book.spot_detail = (
            f"bundled estimate: the EC2 endpoint {ec2.meta.endpoint_url} is not AWS's"
            " (an emulator's Spot prices are not prices), so it was not asked"
        )
    else:
        start = min(a.started for a in attempts)
        end = max(a.ended for a in attempts)
        book.history = history_from_api(aws.spot_history(ec2, pools, start, end, now=now))
        covered_pools = sum(1 for p in pools if p in book.history)
        book.spot_detail = (
            f"EC2 DescribeSpotPriceHistory for {covered_pools} of {len(pools)} instance type/AZ"
            " pool(s), per hour of each attempt; other pools: bundled estimate"
        )
    priced = compute.with_waste(
        [
            compute.price(
                a,
                book,
                fargate_spot=ce_spot.get(a.compute_environment or "")
                if a.platform == "fargate"
                else None,
            )
            for a in sorted(attempts, key=lambda a: (a.job_id, a.array_index or 0, a.attempt))
        ]
    )
    groups = compute.group(priced, per_job=args.job)
    try:
        prediction = compute.predict(priced, profile=args.profile, interruption=args.interruption)
    except UsageError as exc:  # e.g. a job larger than the profile's capacity
        prediction = None
        notes.append(f"No cfgen simulate comparison: {exc}")
    return Built(
        output.Report(
            title=title,
            groups=groups,
            priced=priced,
            problems=read.problems,
            spot_detail=book.spot_detail,
            prediction=prediction,
            notes=notes,
        )
    )
