"""``cfgen doctor``: why a live stack's jobs are stuck or failing. Read-only.

1. the stack's compute environments and job queues: state, status, statusReason
   (DescribeComputeEnvironments, DescribeJobQueues);
2. every RUNNABLE job with its statusReason mapped through the catalogue
   (ListJobs RUNNABLE, DescribeJobs) -- Batch sets the reason on the job at the
   head of a blocked queue:
   https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html
3. recent FAILED jobs: each attempt's statusReason, container reason and exit
   code, and the last lines of its log stream (GetLogEvents; a stream that does
   not exist is reported, not fatal);
4. how many attempts of recent FAILED and SUCCEEDED jobs ended in a Spot
   reclaim ("Host EC2 (instance ...) terminated.").
https://docs.aws.amazon.com/batch/latest/APIReference/API_AttemptDetail.html
"""

from __future__ import annotations

from typing import Any

from cfgen.preflight.catalogue import Entry, explain, is_spot_reclaim
from cfgen.preflight.report import Check, Report, Status

#: Recent jobs looked at per status (ListJobs returns the newest first).
RECENT_JOBS = 20


class DoctorError(Exception):
    """The stack cannot be read: one line, exit 2."""


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _code(err: Exception) -> str:
    response = getattr(err, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _with_entry(check: str, status: Status, what: str, reason: str) -> Check:
    """A line for a status reason: the catalogue's cause and fix when the reason is known."""
    entry: Entry | None = explain(reason)
    if entry is None:
        return Check(check, status, f"{what}: {reason}" if reason else what)
    severity = entry.severity if status is not Status.PASS else status
    return Check(
        check,
        severity,
        f"{what}: {reason} -- {entry.cause} [{entry.key}]",
        entry.fix,
        entry.source,
    )


def diagnose(
    session: Any, stack: str, *, region: str, job_id: str | None = None, log_lines: int = 5
) -> Report:
    cfn = session.client("cloudformation", region_name=region)
    batch = session.client("batch", region_name=region)
    logs = session.client("logs", region_name=region)
    try:
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    except _errors() as err:
        raise DoctorError(f"stack={stack!r}: {err}") from None
    by_type: dict[str, list[str]] = {}
    for r in resources:
        if r.get("PhysicalResourceId") and r.get("ResourceType"):
            by_type.setdefault(r["ResourceType"], []).append(r["PhysicalResourceId"])
    report = Report(f"cfgen doctor: stack {stack} ({region})")
    try:
        if job_id:
            report.extend(_job(batch, logs, job_id, log_lines, full=True))
            return report
        ces = by_type.get("AWS::Batch::ComputeEnvironment", [])
        queues = by_type.get("AWS::Batch::JobQueue", [])
        report.extend(_compute_environments(batch, ces))
        report.extend(_queues(batch, queues))
        for queue in queues:
            report.extend(_runnable(batch, queue))
            report.extend(_failed(batch, logs, queue, log_lines))
            report.extend(_reclaims(batch, queue))
    except _errors() as err:
        raise DoctorError(f"stack={stack!r}: {err}") from None
    return report


def _compute_environments(batch: Any, arns: list[str]) -> list[Check]:
    if not arns:
        return []
    out = []
    for ce in batch.describe_compute_environments(computeEnvironments=arns)["computeEnvironments"]:
        name, status, state = ce["computeEnvironmentName"], ce.get("status"), ce.get("state")
        reason = ce.get("statusReason", "")
        what = f"compute environment {name}: {state}, {status}"
        if status == "INVALID":
            check = _with_entry("compute-environment", Status.FAIL, what, reason)
            if check.status is not Status.FAIL:
                check = Check(check.check, Status.FAIL, check.message, check.fix, check.source)
            if not check.fix:
                check = Check(
                    check.check,
                    Status.FAIL,
                    check.message,
                    "fix the reason above and update the stack",
                    "https://docs.aws.amazon.com/batch/latest/userguide/invalid_compute_environment.html",
                )
            out.append(check)
        elif state != "ENABLED":
            out.append(
                Check(
                    "compute-environment",
                    Status.WARN,
                    what,
                    f"aws batch update-compute-environment --compute-environment {name} "
                    "--state ENABLED",
                )
            )
        else:
            desired = ce.get("computeResources", {}).get("desiredvCpus", 0)
            out.append(Check("compute-environment", Status.PASS, f"{what}, {desired} vCPU"))
    return out


def _queues(batch: Any, arns: list[str]) -> list[Check]:
    if not arns:
        return []
    out = []
    for q in batch.describe_job_queues(jobQueues=arns)["jobQueues"]:
        name, status, state = q["jobQueueName"], q.get("status"), q.get("state")
        what = f"job queue {name}: {state}, {status}"
        if state != "ENABLED" or status == "INVALID":
            out.append(
                _with_entry("job-queue", Status.FAIL, what, q.get("statusReason", ""))
                if status == "INVALID"
                else Check(
                    "job-queue",
                    Status.FAIL,
                    f"{what}: jobs are not scheduled",
                    f"aws batch update-job-queue --job-queue {name} --state ENABLED",
                )
            )
        else:
            out.append(Check("job-queue", Status.PASS, what))
    return out


def _list(batch: Any, queue: str, status: str) -> list[dict[str, Any]]:
    resp = batch.list_jobs(jobQueue=queue, jobStatus=status, maxResults=RECENT_JOBS)
    jobs: list[dict[str, Any]] = resp.get("jobSummaryList", [])
    return jobs


def _describe(batch: Any, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    jobs: list[dict[str, Any]] = batch.describe_jobs(jobs=ids[:100])["jobs"]
    order = {j: i for i, j in enumerate(ids)}
    return sorted(jobs, key=lambda j: order.get(j["jobId"], 0))


def _runnable(batch: Any, queue: str) -> list[Check]:
    jobs = _describe(batch, [j["jobId"] for j in _list(batch, queue, "RUNNABLE")])
    if not jobs:
        return [Check("runnable", Status.PASS, "no job is waiting in RUNNABLE")]
    out = []
    for job in jobs:
        what = f"job {job['jobName']} ({job['jobId']}) RUNNABLE"
        reason = job.get("statusReason", "")
        if not reason:
            out.append(
                Check("runnable", Status.INFO, f"{what}: waiting its turn (no blocking reason)")
            )
        else:
            out.append(_with_entry("runnable", Status.WARN, what, reason))
    return out


def _failed(batch: Any, logs: Any, queue: str, log_lines: int) -> list[Check]:
    ids = [j["jobId"] for j in _list(batch, queue, "FAILED")]
    out: list[Check] = []
    for job in _describe(batch, ids):
        out.extend(_job_checks(logs, job, log_lines))
    if not out:
        out.append(Check("failed", Status.PASS, "no recent failed job"))
    return out


def _job(batch: Any, logs: Any, job_id: str, log_lines: int, *, full: bool) -> list[Check]:
    jobs = _describe(batch, [job_id])
    if not jobs:
        raise DoctorError(f"job={job_id!r}: no such job")
    job = jobs[0]
    status = job.get("status", "")
    out = [
        _with_entry(
            "job",
            Status.INFO,
            f"job {job['jobName']} ({job_id}) {status}",
            job.get("statusReason", "") if status != "SUCCEEDED" else "",
        )
    ]
    if status == "RUNNABLE" and not job.get("statusReason"):
        out[0] = Check("job", Status.INFO, f"{out[0].message}: waiting its turn")
    out.extend(_job_checks(logs, job, log_lines, include_job=False))
    reclaims = sum(1 for a in job.get("attempts", []) if is_spot_reclaim(a.get("statusReason")))
    out.append(
        Check(
            "spot-reclaims",
            Status.INFO,
            f"{reclaims} of {len(job.get('attempts', []))} attempts ended in a Spot reclaim",
        )
    )
    return out


def _job_checks(
    logs: Any, job: dict[str, Any], log_lines: int, *, include_job: bool = True
) -> list[Check]:
    name = f"job {job['jobName']} ({job['jobId']})"
    out: list[Check] = []
    attempts = job.get("attempts", [])
    if include_job:
        out.append(
            _with_entry(
                "failed",
                Status.WARN,
                f"{name} FAILED after {len(attempts)} attempt(s)",
                job.get("statusReason", ""),
            )
        )
    group = (
        job.get("container", {}).get("logConfiguration", {}).get("options", {}).get("awslogs-group")
    ) or "/aws/batch/job"
    for n, attempt in enumerate(attempts, start=1):
        container = attempt.get("container", {})
        reason = attempt.get("statusReason", "")
        detail = container.get("reason", "")
        code = container.get("exitCode")
        what = f"{name} attempt {n}" + (f" exit {code}" if code is not None else "")
        # The container reason (CannotPullContainerError ...) says more than "Task failed to start".
        shown = detail if detail and explain(detail) else reason or detail
        out.append(_with_entry("attempt", Status.WARN, what, shown))
        stream = container.get("logStreamName")
        if stream and log_lines:
            out.append(_log_tail(logs, group, stream, log_lines, what))
    return out


def _log_tail(logs: Any, group: str, stream: str, n: int, what: str) -> Check:
    try:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream, limit=n, startFromHead=False
        ).get("events", [])
    except _errors() as err:
        if _code(err) != "ResourceNotFoundException":
            raise
        return Check(
            "logs",
            Status.INFO,
            f"{what}: log stream {group}/{stream} does not exist (the container never started,"
            " or the logs expired)",
        )
    lines = [str(e.get("message", "")).rstrip() for e in events][-n:]
    body = " | ".join(lines) if lines else "(empty)"
    return Check("logs", Status.INFO, f"{what}: last {len(lines)} log line(s): {body}")


def _reclaims(batch: Any, queue: str) -> list[Check]:
    attempts = reclaimed = 0
    for status in ("FAILED", "SUCCEEDED"):
        for job in _describe(batch, [j["jobId"] for j in _list(batch, queue, status)]):
            for a in job.get("attempts", []):
                attempts += 1
                reclaimed += is_spot_reclaim(a.get("statusReason"))
    message = f"{reclaimed} of {attempts} recent attempts ended in a Spot reclaim"
    if attempts and reclaimed * 10 >= attempts * 3:
        return [
            Check(
                "spot-reclaims",
                Status.WARN,
                message,
                "add instance types and families (deeper Spot pools), or let the On-Demand"
                " fallback take more",
                "https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html",
            )
        ]
    return [Check("spot-reclaims", Status.INFO, message)]
