# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""Rules for alarms, log groups, launch templates and update safety (E9050-W9081)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from cfgen.lint import _model as mdl

_BATCH_METRICS = "https://docs.aws.amazon.com/batch/latest/userguide/using_cloudwatch_metrics.html"
_SPOT_NOTICE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html"
)
_LAUNCH_TEMPLATES = "https://docs.aws.amazon.com/batch/latest/userguide/launch-templates.html"
_AWSLOGS = "https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html"
_UPDATES = "https://docs.aws.amazon.com/batch/latest/userguide/updating-compute-environments.html"
_SLR = "https://docs.aws.amazon.com/batch/latest/userguide/using-service-linked-roles.html"


def _metrics(
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


class BatchMetric(CloudFormationLintRule):
    id = "E9050"
    shortdesc = "Alarm on an AWS/Batch metric Batch does not publish"
    description = (
        "AWS Batch publishes the metrics of its metrics table (JobsSubmitted, "
        "JobsMovedToFailed, JobsRetried, JobAttemptRunnableToStartingDuration, ...) "
        "with exactly the JobQueueName dimension; an alarm on another name, or using "
        "JobQueue, ComputeEnvironment or no dimension, watches a series that never "
        "receives data. Names AWS adds later: configure_rules E9050 "
        "extra_metric_names in .cfnlintrc."
    )
    source_url = _BATCH_METRICS
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "batch"]

    def __init__(self) -> None:
        super().__init__()
        self.config_definition = {
            "metric_names": {
                "default": list(BATCH_METRIC_NAMES),
                "type": "list",
                "itemtype": "string",
            },
            "extra_metric_names": {"default": [], "type": "list", "itemtype": "string"},
        }
        self.configure()

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        names = set(self.config.get("metric_names") or []) | set(
            self.config.get("extra_metric_names") or []
        )
        for alarm in m.all_variants("AWS::CloudWatch::Alarm"):
            for where, ns, name, dims in _metrics(m, alarm):
                if ns != "AWS/Batch":
                    continue
                base = mdl.res_path(alarm.logical_id, *where)
                if names and isinstance(name, str) and name not in names:
                    out.add((*base, "MetricName"), f"AWS/Batch publishes no metric {name}")
                dim_names = [
                    m.text(d.get("Name")) for d in mdl.as_list(dims) if isinstance(d, dict)
                ]
                if any(mdl.is_unknown(n) for n in dim_names) or (
                    dims is not None and not isinstance(dims, list)
                ):
                    continue
                if dim_names != ["JobQueueName"]:
                    shown = ", ".join(str(n) for n in dim_names) or "none"
                    out.add(
                        (*base, "Dimensions"),
                        f"AWS/Batch metrics carry exactly the JobQueueName dimension, not {shown}",
                    )
        return out.matches()


_SPOT_METRIC = re.compile(r"spot.*(interrupt|terminat|reclaim)|(interrupt|terminat).*spot", re.I)


class Ec2SpotTerminationMetric(CloudFormationLintRule):
    id = "E9051"
    shortdesc = "Alarm on a non-existent AWS/EC2 Spot termination metric"
    description = (
        "EC2 reports Spot interruptions as EventBridge events and instance metadata "
        "notices, not as an AWS/EC2 CloudWatch metric; such an alarm never fires."
    )
    source_url = _SPOT_NOTICE
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "spot"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for alarm in m.all_variants("AWS::CloudWatch::Alarm"):
            for where, ns, name, _ in _metrics(m, alarm):
                if ns == "AWS/EC2" and isinstance(name, str) and _SPOT_METRIC.search(name):
                    out.add(
                        mdl.res_path(alarm.logical_id, *where, "MetricName"),
                        f"AWS/EC2 has no metric {name}; use the EC2 Spot Instance "
                        "Interruption Warning event",
                    )
        return out.matches()


class BatchMetricMissingDataBreaching(CloudFormationLintRule):
    id = "W9052"
    shortdesc = "AWS/Batch alarm treats missing data as breaching"
    description = (
        "AWS Batch emits its AWS/Batch metrics only when jobs change state, so an idle "
        "queue has no data points; TreatMissingData: breaching then raises the alarm in "
        "every quiet period. Use notBreaching (or missing)."
    )
    source_url = _BATCH_METRICS
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for alarm in m.all_variants("AWS::CloudWatch::Alarm"):
            treat = m.text(alarm.props.get("TreatMissingData"))
            if treat != "breaching":
                continue
            if any(ns == "AWS/Batch" for _, ns, _, _ in _metrics(m, alarm)):
                out.add(
                    mdl.res_path(alarm.logical_id, "TreatMissingData"),
                    "AWS/Batch metrics have no data while the queue is idle; breaching "
                    "alarms in every quiet period",
                )
        return out.matches()


def _ce_launch_templates(m: mdl.Model) -> Iterator[tuple[mdl.Variant, str]]:
    """(launch template variant, CE logical ID) for every LT a CE uses."""
    for ce in m.all_variants(mdl.BATCH_CE):
        cr = ce.props.get("ComputeResources")
        lt = cr.get("LaunchTemplate") if isinstance(cr, dict) else None
        if not isinstance(lt, dict):
            continue
        ref = lt.get("LaunchTemplateId", lt.get("LaunchTemplateName"))
        for v in m.linked_variants(ref, ce.scenario):
            yield v, ce.logical_id


class LaunchTemplateImds(CloudFormationLintRule):
    id = "W9060"
    shortdesc = "Compute environment launch template without IMDSv2"
    description = (
        "Launch templates used by a compute environment should set "
        "MetadataOptions.HttpTokens: required so containers cannot use IMDSv1."
    )
    source_url = _LAUNCH_TEMPLATES
    tags: ClassVar[list[str]] = ["resources", "batch", "security"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for lt, ce in _ce_launch_templates(m):
            data = lt.props.get("LaunchTemplateData")
            if not isinstance(data, dict):
                continue
            opts = data.get("MetadataOptions")
            tokens = m.text(opts.get("HttpTokens")) if isinstance(opts, dict) else None
            if mdl.is_unknown(tokens) or tokens == "required":
                continue
            out.add(
                mdl.res_path(lt.logical_id, "LaunchTemplateData", "MetadataOptions", "HttpTokens"),
                f"Launch template used by {ce} does not require IMDSv2 (HttpTokens: required)",
            )
        return out.matches()


class LaunchTemplateEncryption(CloudFormationLintRule):
    id = "W9061"
    shortdesc = "Compute environment launch template with unencrypted EBS"
    description = (
        "Block device mappings of a compute environment's launch template should set "
        "Ebs.Encrypted: true."
    )
    source_url = _LAUNCH_TEMPLATES
    tags: ClassVar[list[str]] = ["resources", "batch", "security"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for lt, ce in _ce_launch_templates(m):
            data = lt.props.get("LaunchTemplateData")
            if not isinstance(data, dict):
                continue
            for i, bdm in enumerate(mdl.as_list(data.get("BlockDeviceMappings"))):
                ebs = bdm.get("Ebs") if isinstance(bdm, dict) else None
                if not isinstance(ebs, dict):
                    continue
                enc = m.resolve(ebs.get("Encrypted", False))
                if mdl.is_unknown(enc) or enc is True or str(enc).lower() == "true":
                    continue
                out.add(
                    mdl.res_path(
                        lt.logical_id, "LaunchTemplateData", "BlockDeviceMappings", i, "Ebs"
                    ),
                    f"EBS volume of the launch template used by {ce} is not encrypted",
                )
        return out.matches()


class DefaultBatchLogGroup(CloudFormationLintRule):
    id = "E9070"
    shortdesc = "Template creates the account-wide /aws/batch/job log group"
    description = (
        "/aws/batch/job is the default log group of every Batch job in the account and "
        "region; a stack that creates it fails where it exists and deletes everyone's "
        "logs with the stack. Use a stack-specific group and awslogs-group."
    )
    source_url = _AWSLOGS
    tags: ClassVar[list[str]] = ["resources", "logs", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for lg in m.all_variants("AWS::Logs::LogGroup"):
            if m.text(lg.props.get("LogGroupName")) == "/aws/batch/job":
                out.add(
                    mdl.res_path(lg.logical_id, "LogGroupName"),
                    "Log group /aws/batch/job is Batch's account-wide default group",
                )
        return out.matches()


def create_only(resource_type: str) -> list[tuple[str, ...]]:
    """Create-only property paths (below Properties) from cfn-lint's bundled schema."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type)
    out = []
    for p in schema.schema.get("createOnlyProperties", []):
        parts = tuple(str(p).split("/")[2:])  # "/properties/A/B" -> (A, B)
        if parts:
            out.append(parts)
    return out


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


class CustomNameWithReplacement(CloudFormationLintRule):
    id = "W9080"
    shortdesc = "Custom Batch name with properties that force replacement"
    description = (
        "CloudFormation replaces a resource by creating the new one first; with a custom "
        "ComputeEnvironmentName/JobQueueName the new name collides and the update fails. "
        "Reported when a named resource sets create-only properties (from cfn-lint's "
        "resource schema) that an update could change."
    )
    source_url = _UPDATES
    tags: ClassVar[list[str]] = ["resources", "batch", "updates"]

    _NAMES = ((mdl.BATCH_CE, "ComputeEnvironmentName"), (mdl.BATCH_JQ, "JobQueueName"))

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for rtype, name_prop in self._NAMES:
            others = [p for p in create_only(rtype) if p != (name_prop,)]
            for v in m.all_variants(rtype):
                if v.props.get(name_prop) in (None, "") or m.resolve(v.props[name_prop]) == "":
                    continue
                hit = [".".join(p) for p in others if _get(v.props, p) is not None]
                if hit:
                    out.add(
                        mdl.res_path(v.logical_id, name_prop),
                        f"Custom {name_prop} with replacement-forcing {', '.join(hit)}: "
                        "changing them fails the update",
                    )
        return out.matches()


class CustomServiceRole(CloudFormationLintRule):
    id = "W9081"
    shortdesc = "Compute environment with a custom ServiceRole"
    description = (
        "Without ServiceRole Batch uses its service-linked role, which in-place "
        "infrastructure updates (instance types, subnets, launch template) require; "
        "a custom role turns those updates into replacements."
    )
    source_url = _SLR
    tags: ClassVar[list[str]] = ["resources", "batch", "iam", "updates"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce in m.all_variants(mdl.BATCH_CE):
            raw = ce.props.get("ServiceRole")
            if raw is None or m.resolve(raw) == "":
                continue
            out.add(
                mdl.res_path(ce.logical_id, "ServiceRole"),
                "Custom ServiceRole blocks in-place infrastructure updates; omit it to "
                "use the Batch service-linked role",
            )
        return out.matches()
