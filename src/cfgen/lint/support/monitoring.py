"""Shared by the monitoring rules (src/cfgen/lint/rules/monitoring/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from cfgen.lint import model as mdl

BATCH_METRICS = "https://docs.aws.amazon.com/batch/latest/userguide/using_cloudwatch_metrics.html"
SPOT_NOTICE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html"
)
LAUNCH_TEMPLATES = "https://docs.aws.amazon.com/batch/latest/userguide/launch-templates.html"
AWSLOGS = "https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html"
UPDATES = "https://docs.aws.amazon.com/batch/latest/userguide/updating-compute-environments.html"
SLR = "https://docs.aws.amazon.com/batch/latest/userguide/using-service-linked-roles.html"


def metrics(
    m: mdl.Model, alarm: mdl.Variant
) -> Iterator[tuple[tuple[str | int, ...], Any, Any, Any]]:
    """(path below Properties, namespace, metric name, dimensions) of an alarm variant."""
    p = alarm.props
    if "MetricName" in p or "Namespace" in p:
        yield (), m.text(p.get("Namespace")), m.text(p.get("MetricName")), p.get("Dimensions")
    for i, q in enumerate(mdl.as_list(p.get("Metrics"))):
        stat = q.get("MetricStat") if isinstance(q, dict) else None
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        if isinstance(metric, dict):
            yield (
                ("Metrics", i, "MetricStat", "Metric"),
                m.text(metric.get("Namespace")),
                m.text(metric.get("MetricName")),
                metric.get("Dimensions"),
            )


# Every metric in the AWS Batch User Guide's metrics table ("Using CloudWatch
# Metrics with AWS Batch"): state-transition counts (unit Count) and durations
# (unit Milliseconds), all published with the single dimension JobQueueName.
BATCH_METRIC_NAMES: tuple[str, ...] = (
    # all jobs
    "JobsSubmitted",
    "JobsMovedToPending",
    "JobsMovedToRunnable",
    "JobsMovedToStarting",
    "JobsMovedToRunning",
    "JobsMovedToSucceeded",
    "JobsMovedToFailed",
    "JobsCancelled",
    "JobsTerminated",
    "JobsRetried",
    "JobSubmittedToRunnableDuration",
    "JobAttemptStartingToRunningDuration",
    "JobAttemptExecutionDuration",
    "JobAttemptDuration",
    # compute jobs only
    "JobSubmittedToFirstStartingDuration",
    "JobAttemptRunnableToStartingDuration",
    # service jobs only
    "JobsMovedToScheduled",
    "JobSubmittedToFirstScheduledDuration",
    "JobAttemptRunnableToScheduledDuration",
    "JobAttemptScheduledToStartingDuration",
    "JobsPreempted",
)
SPOT_METRIC = re.compile(r"spot.*(interrupt|terminat|reclaim)|(interrupt|terminat).*spot", re.I)


def ce_launch_templates(m: mdl.Model) -> Iterator[tuple[mdl.Variant, str]]:
    """(launch template variant, CE logical ID) for every LT a CE uses."""
    for ce in m.all_variants(mdl.BATCH_CE):
        cr = ce.props.get("ComputeResources")
        lt = cr.get("LaunchTemplate") if isinstance(cr, dict) else None
        if not isinstance(lt, dict):
            continue
        ref = lt.get("LaunchTemplateId", lt.get("LaunchTemplateName"))
        for v in m.linked_variants(ref, ce.scenario):
            yield v, ce.logical_id


def create_only(resource_type: str) -> list[tuple[str, ...]]:
    """Create-only property paths (below Properties) from cfn-lint's bundled schema."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type)
    out = []
    for p in schema.schema.get("createOnlyProperties", []):
        parts = tuple(str(p).split("/")[2:])  # "/properties/A/B" -> (A, B)
        if parts:
            out.append(parts)
    return out


def get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


#: Create-only properties that pick the kind of resource: written as a literal,
#: nothing short of a redesign changes them, so W9580 does not count them.
FIXED_KINDS = (("Type",), ("JobQueueType",))

_SLR_NAME = "aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"


def is_batch_slr(m: mdl.Model, value: Any) -> bool:
    """ServiceRole names Batch's service-linked role (ARN, path or Fn::Sub of it)."""
    text = m.text(value)
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) and sub else ""
    return isinstance(text, str) and text.endswith(_SLR_NAME)


def launch_template_users(m: mdl.Model) -> dict[str, tuple[mdl.Variant, list[str]]]:
    """Launch template logical ID -> (a variant of it, the CEs using it), once per template."""
    found: dict[str, tuple[mdl.Variant, list[str]]] = {}
    for lt, ce in ce_launch_templates(m):
        entry = found.setdefault(f"{lt.logical_id}\0{id(lt)}", (lt, []))
        if ce not in entry[1]:
            entry[1].append(ce)
    return found


def launch_template_data(m: mdl.Model) -> Iterator[tuple[mdl.Variant, dict[str, Any], str]]:
    """(launch template variant, its LaunchTemplateData, the CEs using it) once per template."""
    for lt, users in launch_template_users(m).values():
        data = lt.props.get("LaunchTemplateData")
        if isinstance(data, dict):
            yield lt, data, ", ".join(sorted(users))
