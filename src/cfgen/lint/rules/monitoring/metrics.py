# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9550, E9551, W9552: monitoring rules (metrics)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import monitoring as sup


class BatchMetric(base.BatchRule):
    id = "E9550"
    shortdesc = "Alarm on an AWS/Batch metric Batch does not publish"
    description = (
        "AWS Batch publishes the metrics of its metrics table (JobsSubmitted, "
        "JobsMovedToFailed, JobsRetried, JobAttemptRunnableToStartingDuration, ...) "
        "with exactly the JobQueueName dimension; an alarm on another name, or using "
        "JobQueue, ComputeEnvironment or no dimension, watches a series that never "
        "receives data. Names AWS adds later: configure_rules E9550 "
        "extra_metric_names in .cfnlintrc."
    )
    source_url = sup.BATCH_METRICS
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "batch"]

    def __init__(self) -> None:
        super().__init__()
        self.config_definition = {
            "metric_names": {
                "default": list(sup.BATCH_METRIC_NAMES),
                "type": "list",
                "itemtype": "string",
            },
            "extra_metric_names": {"default": [], "type": "list", "itemtype": "string"},
        }
        self.configure()

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        names = set(self.config.get("metric_names") or []) | set(
            self.config.get("extra_metric_names") or []
        )
        for alarm in m.all_variants("AWS::CloudWatch::Alarm"):
            for where, ns, name, dims in sup.metrics(m, alarm):
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


class Ec2SpotTerminationMetric(base.BatchRule):
    id = "E9551"
    shortdesc = "Alarm on a non-existent AWS/EC2 Spot termination metric"
    description = (
        "EC2 reports Spot interruptions as EventBridge events and instance metadata "
        "notices, not as an AWS/EC2 CloudWatch metric; such an alarm never fires."
    )
    source_url = sup.SPOT_NOTICE
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "spot"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for alarm in m.all_variants("AWS::CloudWatch::Alarm"):
            for where, ns, name, _ in sup.metrics(m, alarm):
                if ns == "AWS/EC2" and isinstance(name, str) and sup.SPOT_METRIC.search(name):
                    out.add(
                        mdl.res_path(alarm.logical_id, *where, "MetricName"),
                        f"AWS/EC2 has no metric {name}; use the EC2 Spot Instance "
                        "Interruption Warning event",
                    )


class BatchMetricMissingDataBreaching(base.BatchRule):
    id = "W9552"
    shortdesc = "AWS/Batch alarm treats missing data as breaching"
    description = (
        "AWS Batch emits its AWS/Batch metrics only when jobs change state, so an idle "
        "queue has no data points; TreatMissingData: breaching then raises the alarm in "
        "every quiet period. Use notBreaching (or missing)."
    )
    source_url = sup.BATCH_METRICS
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "batch"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for alarm in m.all_variants("AWS::CloudWatch::Alarm"):
            treat = m.text(alarm.props.get("TreatMissingData"))
            if treat != "breaching":
                continue
            if any(ns == "AWS/Batch" for _, ns, _, _ in sup.metrics(m, alarm)):
                out.add(
                    mdl.res_path(alarm.logical_id, "TreatMissingData"),
                    "AWS/Batch metrics have no data while the queue is idle; breaching "
                    "alarms in every quiet period",
                )
