"""The stack's CloudWatch dashboard: success rate, Spot reclaims, backlog, throughput, savings.

Emits Dashboard (AWS::CloudWatch::Dashboard) unless the profile sets
``monitoring.dashboard = false``. No name is set (CloudFormation names it, so
two stacks per account keep working); an update of the body changes nothing
that runs.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-dashboard.html

Every graph uses only metrics somebody really publishes, with their real
dimensions (lint rule E9553 holds dashboards to that, E9554 to valid JSON):
- ``AWS/Batch``: Batch's job state-transition counts and durations, dimension
  ``JobQueueName``, free, on a best-effort basis, only when jobs change state.
  https://docs.aws.amazon.com/batch/latest/userguide/using_cloudwatch_metrics.html
- ``cfgen/Worker``: the worker's embedded-metric-format log fields
  (spotworker.metrics), dimension ``JobQueue``; extracted by CloudWatch Logs
  from the job's log lines (awslogs, Standard log class), no PutMetricData.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
- ``cfgen/Cost``: the cost ledger's daily totals, published by
  ``cfgen report --put-metrics``; empty until somebody runs it.
- a Logs Insights query of the stack's log group (the worker's failure lines).

The body is compact JSON (no indentation) inside one Fn::Sub: the template
must stay under the 51,200 bytes of ``--template-body``.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from troposphere import Ref, Select, Split, Sub, Template
from troposphere.cloudwatch import Dashboard

from cfgen import contract, naming
from cfgen.config import Profile
from cfgen.queues import QueueRef
from cfgen.tags import stack_tags

BATCH: Final = "AWS/Batch"
BATCH_DIMENSION: Final = "JobQueueName"
WORKER: Final = contract.WORKER_METRICS_NAMESPACE
COST: Final = contract.COST_METRICS_NAMESPACE
QUEUE_DIMENSION: Final = contract.METRIC_DIMENSION_QUEUE
HOUR: Final = 3600
DAY: Final = 86400
#: The Logs Insights query of the failure widget: the worker's own lines for a
#: failed or interrupted attempt (event, reason, error, exit code).
FAILURE_QUERY: Final = (
    "fields @timestamp,job_id,attempt,event,reason,error,exit_code"
    "|filter event in ['failed','interrupt']|sort @timestamp desc|limit 50"
)
DOC: Final = "docs/dashboard.md"


@dataclass(frozen=True)
class Widget:
    """One widget: what it shows and what to do when it turns red (README, docs)."""

    title: str
    #: Which of the recipe's four measures it answers ("" for none).
    measure: str
    shows: str
    red: str


SUCCESS = Widget(
    "Jobs per hour, success %",
    "success and failure rates",
    "AWS/Batch JobsSubmitted, JobsMovedToSucceeded, JobsMovedToFailed; "
    "succeeded / (succeeded + failed)",
    "failures rise: read the failure table below and `cfgen doctor`",
)
RECLAIMS = Widget(
    "Spot reclaims: retried/started attempts",
    "Spot interruption frequency",
    "AWS/Batch JobsRetried against JobsMovedToStarting per hour, and the retried %",
    "retried % high: add instance types or subnets (RetryRateAlarm watches the same ratio)",
)
BACKLOG = Widget(
    "Jobs waiting in RUNNABLE",
    "",
    "running sum of JobsMovedToRunnable minus JobsMovedToStarting since the graph's start; "
    "longest wait (JobAttemptRunnableToStartingDuration)",
    "backlog grows: raise MaxvCpus or add capacity; see the JobQueueBlocked alert",
)
THROUGHPUT = Widget(
    "Worker throughput",
    "resource efficiency",
    "cfgen/Worker BytesProcessed per second (all jobs), BytesPerSecond per attempt, BadRecords",
    "per-attempt rate falls: the job is short of CPU or S3 is throttling",
)
REDONE = Widget(
    "Work redone, interruptions",
    "Spot interruption frequency",
    "cfgen/Worker BytesProcessed minus BytesCheckpointed (work paid twice), "
    "Interruptions, Checkpoints",
    "redone bytes high: checkpoint more often (CFGEN_CHECKPOINT_SECONDS)",
)
SAVINGS = Widget(
    "Savings (cfgen report --put-metrics)",
    "savings vs On-Demand",
    "cfgen/Cost SpotCost, OnDemandCost, OnDemandEquivalentCost, ReclaimWasteCost; "
    "savings = equivalent - spot - on-demand",
    "empty: run `cfgen report --put-metrics` daily; waste high: see reclaims",
)
FAILURES = Widget(
    "Last failures",
    "success and failure rates",
    "Logs Insights: the worker's failed and interrupt lines "
    "(job, attempt, reason, error, exit code)",
    "a reason repeats: fix it before resubmitting",
)
NOTES = Widget("What this shows", "", f"what each graph means and what to do ({DOC})", "")
WIDGETS: Final = (SUCCESS, RECLAIMS, BACKLOG, THROUGHPUT, REDONE, SAVINGS, FAILURES, NOTES)

NOTES_MARKDOWN: Final = "What each graph means, what to do when red: " + DOC + " (cfgen)"


#: The recipe's four recommended measures, in its order.
MEASURES: Final = (
    "success and failure rates",
    "Spot interruption frequency",
    "savings vs On-Demand",
    "resource efficiency",
)


def widgets_markdown() -> str:
    """The README's table of the dashboard's widgets, then where each measure is."""
    lines = [
        "| widget | shows | when it turns red |",
        "|---|---|---|",
        *(f"| {w.title} | {w.shows} | {w.red or '-'} |" for w in WIDGETS),
        "",
        "| the recipe's measure | on the dashboard |",
        "|---|---|",
    ]
    for measure in MEASURES:
        titles = ", ".join(f"*{w.title}*" for w in WIDGETS if w.measure == measure)
        lines.append(f"| {measure} | {titles} |")
    return "\n".join(lines) + "\n"


def add_dashboard(
    t: Template, cfg: Profile, *, queues: tuple[QueueRef, ...], log_group: Ref
) -> Dashboard | None:
    """The dashboard of the stack's queues (those that always exist)."""
    if not cfg.monitoring.dashboard:
        return None
    shown = [q for q in queues if q.condition is None]
    names = {f"Q{i}": _queue_name(q.logical_id) for i, q in enumerate(shown)}
    # ${<logical ID>} in Fn::Sub is that resource's Ref: the log group's name.
    body = dashboard_body(
        [f"${{{v}}}" for v in names], "${AWS::Region}", f"${{{log_group.data['Ref']}}}"
    )
    return t.add_resource(
        Dashboard(
            naming.DASHBOARD,
            DashboardBody=Sub(body, **names),
            Tags=stack_tags(cfg, component="monitoring"),
        )
    )


def _queue_name(queue_id: str) -> object:
    """The queue's name: what follows "/" in its ARN, the queue's Ref (the "/"
    appended keeps index 1 for tools that cannot resolve it: see
    monitoring._add_retry_alarm)."""
    return Select(1, Split("/", Sub(f"${{{queue_id}}}/")))


def dashboard_body(queues: list[str], region: str, log_group: str) -> str:
    """The DashboardBody JSON for these queue names (placeholders or real values)."""

    def per_queue(ns: str, dim: str, metric: str, prefix: str, **opts: Any) -> list[Any]:
        """One line per queue; an id only where an expression uses it (prefix)."""
        lines: list[Any] = []
        for i, q in enumerate(queues):
            props = {"id": f"{prefix}{i}", **opts} if prefix else opts
            lines.append([ns, metric, dim, q, props] if props else [ns, metric, dim, q])
        return lines

    def batch(metric: str, prefix: str, **opts: Any) -> list[Any]:
        return per_queue(BATCH, BATCH_DIMENSION, metric, prefix, **opts)

    def worker(metric: str, prefix: str, **opts: Any) -> list[Any]:
        return per_queue(WORKER, QUEUE_DIMENSION, metric, prefix, **opts)

    def cost(metric: str, prefix: str, **opts: Any) -> list[Any]:
        return per_queue(COST, QUEUE_DIMENSION, metric, prefix, **opts)

    def total(prefix: str) -> str:
        """Sum over the queues of one metric (FILL: a quiet queue has no data)."""
        terms = [f"FILL({prefix}{i},0)" for i in range(len(queues))] or ["0"]
        return terms[0] if len(terms) == 1 else "(" + "+".join(terms) + ")"

    def expr(expression: str, label: str, ident: str, **opts: Any) -> list[Any]:
        return [{"expression": expression, "label": label, "id": ident, **opts}]

    hidden = {"visible": False}
    right = {"yAxis": "right"}
    widgets = [
        _metric(
            SUCCESS,
            0,
            0,
            region=region,
            period=HOUR,
            stat="Sum",
            metrics=[
                *batch("JobsSubmitted", ""),
                *batch("JobsMovedToSucceeded", "s"),
                *batch("JobsMovedToFailed", "f"),
                expr(
                    f"100*{total('s')}/({total('s')}+{total('f')})",
                    "success %",
                    "rate",
                    **right,
                ),
            ],
        ),
        _metric(
            RECLAIMS,
            8,
            0,
            region=region,
            period=HOUR,
            stat="Sum",
            metrics=[
                *batch("JobsRetried", "r"),
                *batch("JobsMovedToStarting", "a"),
                expr(f"100*{total('r')}/{total('a')}", "retried %", "pct", **right),
            ],
        ),
        _metric(
            BACKLOG,
            16,
            0,
            region=region,
            period=300,
            stat="Sum",
            metrics=[
                *batch("JobsMovedToRunnable", "ri", **hidden),
                *batch("JobsMovedToStarting", "ro", **hidden),
                expr(f"RUNNING_SUM({total('ri')}-{total('ro')})", "RUNNABLE (net)", "q"),
                *batch("JobAttemptRunnableToStartingDuration", "", stat="Maximum", **right),
            ],
        ),
        _metric(
            THROUGHPUT,
            0,
            6,
            region=region,
            period=300,
            stat="Sum",
            metrics=[
                *worker("BytesProcessed", "b", **hidden),
                expr(f"{total('b')}/PERIOD(b0)", "bytes/s", "bps"),
                *worker("BytesPerSecond", "", stat="Average"),
                *worker("BadRecords", "", **right),
            ],
        ),
        _metric(
            REDONE,
            8,
            6,
            region=region,
            period=HOUR,
            stat="Sum",
            metrics=[
                *worker("BytesProcessed", "p", **hidden),
                *worker("BytesCheckpointed", "c", **hidden),
                # Not clamped at 0: an hour whose checkpoint covers bytes read
                # the hour before dips below 0 (docs/dashboard.md).
                expr(f"{total('p')}-{total('c')}", "bytes redone", "re"),
                *worker("Interruptions", "", **right),
                *worker("Checkpoints", "", **right),
            ],
        ),
        _metric(
            SAVINGS,
            16,
            6,
            region=region,
            period=DAY,
            stat="Sum",
            metrics=[
                *cost(contract.COST_METRIC_SPOT, "cs"),
                *cost(contract.COST_METRIC_ON_DEMAND, "co"),
                *cost(contract.COST_METRIC_ON_DEMAND_EQUIVALENT, "ce"),
                *cost(contract.COST_METRIC_WASTE, ""),
                expr(f"{total('ce')}-{total('cs')}-{total('co')}", "savings", "sv"),
            ],
        ),
        {
            "type": "log",
            "x": 0,
            "y": 12,
            "width": 16,
            "properties": {
                "title": FAILURES.title,
                "region": region,
                "view": "table",
                "query": f"SOURCE '{log_group}'|{FAILURE_QUERY}",
            },
        },
        {
            "type": "text",
            "x": 16,
            "y": 12,
            "width": 8,
            "properties": {"markdown": NOTES_MARKDOWN},
        },
    ]
    return json.dumps({"widgets": widgets}, separators=(",", ":"))


def _metric(
    widget: Widget,
    x: int,
    y: int,
    *,
    region: str,
    period: int,
    stat: str,
    metrics: list[Any],
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 8,  # height: 6, the default
        "properties": {
            "title": widget.title,
            "region": region,
            "period": period,
            "stat": stat,
            "metrics": metrics,
        },
    }
