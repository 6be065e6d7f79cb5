"""What ``cfgen report`` reads from AWS (read-only, the caller's credentials), and
``--put-metrics``, its one write (CloudWatch PutMetricData, only when asked).

* CloudFormation ``DescribeStacks``: the stack's outputs (cfgen.contract OUTPUTS):
  the data bucket and the job queues.
* S3 ``ListObjectsV2`` + ``GetObject`` under the ledger prefix.
* Batch ``ListJobs`` (per queue and status, ``filters`` AFTER_CREATED_AT) and
  ``DescribeJobs`` for jobs the ledger does not cover: each attempt's
  ``startedAt``/``stoppedAt``, ``statusReason``, ``container.exitCode`` and
  ``container.containerInstanceArn``, the job's ``resourceRequirements`` and
  ``shareIdentifier``
  (https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html);
  ECS ``DescribeContainerInstances`` for the instance's ``ec2InstanceId``
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeContainerInstances.html)
  and EC2 ``DescribeInstances`` while the instance still exists: type, AZ and
  ``InstanceLifecycle`` (``spot``; absent for On-Demand:
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html).
  Jobs Batch no longer returns (its job history is not kept forever) and that have
  no ledger record are not seen at all; the report covers what it can find.
* Batch ``DescribeComputeEnvironments``: FARGATE_SPOT or FARGATE per compute
  environment name (the ECS task metadata does not say which).
* EC2 ``DescribeSpotPriceHistory`` per instance type and AZ over the report's window
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotPriceHistory.html:
  StartTime at most 90 days back; the answer includes the last price change before
  StartTime, the price in effect at the start),
  only from AWS's own endpoints (an emulator's prices are not Spot prices:
  moto answers 0.00001 for every pool, docs/moto-notes.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cfgen import contract
from cfgen.clikit import UsageError
from cfgen.cost.prices import is_aws_endpoint as _is_aws_url
from cfgen.report.records import Attempt, Problem, parse_record

#: The most ledger objects one report reads (a year of a busy stack is ~10^5).
MAX_RECORDS = 200_000
#: Ledger objects larger than this are not read (a record is ~1 KB).
MAX_RECORD_BYTES = 64 * 1024
#: CloudWatch PutMetricData: at most 1000 datums per call.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
PUT_BATCH = 1000


@dataclass
class StackInfo:
    name: str
    bucket: str
    queues: list[str]  # job queue ARNs


def stack_info(cfn: Any, name: str) -> StackInfo:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except Exception as exc:
        if "does not exist" in str(exc):
            raise UsageError(
                f"--stack={name!r}: no such stack in this account and region"
            ) from None
        raise
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
    bucket = outputs.get(contract.OUT_DATA_BUCKET)
    if not bucket:
        raise UsageError(
            f"--stack={name!r}: output {contract.OUT_DATA_BUCKET} missing (not a cfgen stack?)"
        )
    queues = [v for k, v in sorted(outputs.items()) if k.endswith(contract.OUT_JOB_QUEUE) and v]
    return StackInfo(name, bucket, queues)


@dataclass
class LedgerRead:
    attempts: list[Attempt] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    listed: int = 0


def read_ledger(
    s3: Any, bucket: str, *, since: datetime | None = None, job: str | None = None
) -> LedgerRead:
    """Every record under the ledger prefix (of one job with ``job``), started at or
    after ``since``; unusable objects are Problems."""
    prefix = contract.LEDGER.key + (f"{job}/" if job else "")
    out = LedgerRead()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            out.listed += 1
            if out.listed > MAX_RECORDS:
                out.problems.append(Problem(key, f"more than {MAX_RECORDS} records: rest skipped"))
                return out
            if since is not None and obj["LastModified"] < since:
                continue  # written (at its end) before the window: started before it too
            if obj.get("Size", 0) > MAX_RECORD_BYTES:
                out.problems.append(Problem(key, f"{obj['Size']} bytes: not a ledger record"))
                continue
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            parsed = parse_record(key, body)
            if isinstance(parsed, Problem):
                out.problems.append(parsed)
            elif since is None or parsed.started >= since:
                out.attempts.append(parsed)
    return out


# --------------------------------------------------------------------------- Batch

_CI_ARN = re.compile(r"^arn:[^:]+:ecs:[^:]+:\d+:container-instance/([^/]+)/[^/]+$")
_STATUSES = ("SUCCEEDED", "FAILED")


def batch_attempts(
    batch: Any,
    ecs: Any,
    ec2: Any,
    queues: Iterable[str],
    *,
    since: datetime,
    covered: set[tuple[str, int, int]],
    job: str | None = None,
) -> tuple[list[Attempt], list[str]]:
    """Attempts of finished jobs in ``queues`` since ``since`` that the ledger does not
    cover (``covered``: (job, index, attempt)), filled from Batch, ECS and EC2; plus
    one-line notes of what could not be filled."""
    ids: list[str] = []
    if job:
        ids = [job]
    else:
        # With filters, ListJobs returns jobs of every status: keep the finished ones.
        after = str(int(since.timestamp() * 1000))
        for queue in queues:
            kwargs: dict[str, Any] = {
                "jobQueue": queue,
                "filters": [{"name": "AFTER_CREATED_AT", "values": [after]}],
            }
            for page in batch.get_paginator("list_jobs").paginate(**kwargs):
                ids.extend(
                    j["jobId"]
                    for j in page.get("jobSummaryList", [])
                    if j.get("status") in _STATUSES
                )
    described: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(set(ids)), 100):  # DescribeJobs takes at most 100 ids
        described.extend(batch.describe_jobs(jobs=chunk)["jobs"])
    children: list[str] = []
    for j in described:
        size = (j.get("arrayProperties") or {}).get("size")
        if size and "index" not in (j.get("arrayProperties") or {}):
            children.extend(f"{j['jobId']}:{i}" for i in range(int(size)))
    for chunk in _chunks(children, 100):
        described.extend(batch.describe_jobs(jobs=chunk)["jobs"])
    attempts: list[Attempt] = []
    notes: list[str] = []
    instances: dict[str, dict[str, Any] | None] = {}
    for j in described:
        props = j.get("arrayProperties") or {}
        if props.get("size") and "index" not in props:
            continue  # an array parent: its children carry the attempts
        parent, _, idx = str(j["jobId"]).partition(":")
        raw_index = props.get("index")
        index: int | None = int(idx) if idx.isdigit() else raw_index
        share_id: str | None = j.get("shareIdentifier")
        vcpus, memory = _requirements(j)
        queue_name = str(j.get("jobQueue", "")).rsplit("/", 1)[-1] or None
        for n, att in enumerate(j.get("attempts", []), start=1):
            if (parent, index or 0, n) in covered:
                continue
            started, stopped = att.get("startedAt"), att.get("stoppedAt")
            if not started or not stopped:
                continue
            container = att.get("container") or {}
            code = container.get("exitCode")
            reason = "done" if code == 0 else "failed" if code is not None else "unknown"
            inst = _instance(ecs, ec2, str(container.get("containerInstanceArn", "")), instances)
            missing = ["ledger record (job does not run the worker, or the attempt was killed)"]
            if inst is None:
                missing.append("instance (terminated, or Fargate)")
            attempts.append(
                Attempt(
                    job_id=parent,
                    array_index=index,
                    attempt=n,
                    started=_ms_time(started),
                    ended=_ms_time(stopped),
                    exit_reason=reason,
                    exit_code=code if isinstance(code, int) else None,
                    queue=queue_name,
                    share=share_id,
                    platform="ec2" if inst else "unknown",
                    instance_type=(inst or {}).get("InstanceType"),
                    lifecycle=(
                        None
                        if inst is None
                        else "spot"
                        if inst.get("InstanceLifecycle") == "spot"
                        else "on-demand"
                    ),
                    availability_zone=(inst or {}).get("Placement", {}).get("AvailabilityZone"),
                    instance_id=(inst or {}).get("InstanceId"),
                    vcpus=vcpus,
                    memory_mib=memory,
                    source="batch",
                    status_reason=att.get("statusReason"),
                    missing=tuple(missing),
                )
            )
    return attempts, notes


def job_facts(
    batch: Any, ids: Iterable[str]
) -> dict[str, tuple[Decimal | None, int | None, str | None]]:
    """Job id -> (vCPUs, MiB, share identifier) from DescribeJobs, for ledger records:
    the worker cannot see its share identifier, and an EC2 task's metadata may lack
    task-level Limits. Asked of the parent jobs only (array children run with the
    parent's resourceRequirements and share). Jobs Batch no longer knows are left out."""
    out: dict[str, tuple[Decimal | None, int | None, str | None]] = {}
    for chunk in _chunks(sorted(set(ids)), 100):
        for j in batch.describe_jobs(jobs=chunk).get("jobs", []):
            vcpus, memory = _requirements(j)
            out[str(j["jobId"])] = (vcpus, memory, j.get("shareIdentifier"))
    return out


def _requirements(job: dict[str, Any]) -> tuple[Decimal | None, int | None]:
    vcpus: Decimal | None = None
    memory: int | None = None
    container = job.get("container") or {}
    for req in container.get("resourceRequirements", []):
        try:
            if req.get("type") == "VCPU":
                vcpus = Decimal(str(req["value"]))
            elif req.get("type") == "MEMORY":
                memory = int(req["value"])
        except (ValueError, ArithmeticError):
            continue
    return vcpus, memory


def _instance(
    ecs: Any, ec2: Any, arn: str, cache: dict[str, dict[str, Any] | None]
) -> dict[str, Any] | None:
    if arn in cache:
        return cache[arn]
    cache[arn] = None
    match = _CI_ARN.match(arn)
    if not match:
        return None
    try:
        found = ecs.describe_container_instances(cluster=match.group(1), containerInstances=[arn])
        ids = [c["ec2InstanceId"] for c in found.get("containerInstances", [])]
        if ids:
            reservations = ec2.describe_instances(InstanceIds=ids[:1])["Reservations"]
            cache[arn] = reservations[0]["Instances"][0] if reservations else None
    except Exception:
        cache[arn] = None
    return cache[arn]


def _ms_time(ms: int) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(ms / 1000, UTC)


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def fargate_spot_environments(batch: Any, names: Iterable[str]) -> dict[str, bool]:
    """Compute environment name -> True for FARGATE_SPOT, False for FARGATE/EC2/SPOT."""
    wanted = sorted({n for n in names if n})
    out: dict[str, bool] = {}
    for chunk in _chunks(wanted, 100):
        for ce in batch.describe_compute_environments(computeEnvironments=chunk).get(
            "computeEnvironments", []
        ):
            kind = (ce.get("computeResources") or {}).get("type", "")
            out[ce["computeEnvironmentName"]] = kind == "FARGATE_SPOT"
    return out


# --------------------------------------------------------------------------- Spot prices


#: DescribeSpotPriceHistory's StartTime reaches at most this far back.
SPOT_HISTORY_DAYS = 90


def spot_history(
    ec2: Any,
    pools: set[tuple[str, str]],
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """DescribeSpotPriceHistory items for the pools over [start, end].

    EC2 adds the last change before StartTime (the price in effect at the start).
    StartTime is clamped to 90 days back (the API's limit): older attempts find no
    history and are priced with the bundled estimate, labelled."""
    oldest = (now or datetime.now(start.tzinfo)) - timedelta(days=SPOT_HISTORY_DAYS - 1)
    start = max(start, oldest)
    items: list[dict[str, Any]] = []
    types = sorted({t for t, _ in pools})
    for chunk in _chunks(types, 100):
        kwargs: dict[str, Any] = {
            "InstanceTypes": chunk,
            "ProductDescriptions": ["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
            "StartTime": start,
            "EndTime": end,
        }
        for page in ec2.get_paginator("describe_spot_price_history").paginate(**kwargs):
            for item in page.get("SpotPriceHistory", []):
                if (item["InstanceType"], item.get("AvailabilityZone", "")) in pools:
                    items.append(item)
    return items


def is_aws_endpoint(client: Any) -> bool:
    return _is_aws_url(str(client.meta.endpoint_url))


# --------------------------------------------------------------------------- metrics


def put_daily_metrics(cloudwatch: Any, datums: list[dict[str, Any]]) -> int:
    """PutMetricData in batches; returns the number of datums sent."""
    for i in range(0, len(datums), PUT_BATCH):
        cloudwatch.put_metric_data(
            Namespace=contract.COST_METRICS_NAMESPACE, MetricData=datums[i : i + PUT_BATCH]
        )
    return len(datums)
