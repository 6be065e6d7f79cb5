"""Shared by the dashboard rules: the body after substitution, and its metrics.

A DashboardBody is a JSON string; templates usually build it with Fn::Sub (or
Fn::Join) so that it can name the stack's own queues and log group. To check it,
every ``${...}`` of an Fn::Sub and every intrinsic part of an Fn::Join becomes
:data:`PLACEHOLDER`, a value that is valid JSON both inside a string and as a
number, so the text is exactly as valid as the body CloudWatch receives.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-sub.html
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cfgen import contract
from cfgen.lint.support.monitoring import BATCH_METRIC_NAMES

DASHBOARD = "AWS::CloudWatch::Dashboard"
BODY_STRUCTURE = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/"
    "CloudWatch-Dashboard-Body-Structure.html"
)
#: Stands for every substituted value (a JSON number, and harmless in a string).
PLACEHOLDER = "987654321"
_SUB = re.compile(r"\$\{(!?)([^}]*)\}")

#: What each namespace cfgen's templates graph publishes: metric names and the
#: exact dimension names every one of them carries.
#: AWS/Batch: https://docs.aws.amazon.com/batch/latest/userguide/using_cloudwatch_metrics.html
#: cfgen/Worker: the worker's EMF fields (spotworker.metrics = cfgen.contract).
#: cfgen/Cost: ``cfgen report --put-metrics`` (cfgen.contract).
PUBLISHED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AWS/Batch": (BATCH_METRIC_NAMES, ("JobQueueName",)),
    contract.WORKER_METRICS_NAMESPACE: (
        contract.WORKER_METRICS,
        (contract.METRIC_DIMENSION_QUEUE,),
    ),
    contract.COST_METRICS_NAMESPACE: (contract.COST_METRICS, (contract.METRIC_DIMENSION_QUEUE,)),
}


def substituted(value: Any) -> str | None:
    """The body's text with placeholders; None when it is not built of Sub/Join/text."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((fn, arg),) = value.items()
    if fn == "Fn::Sub":
        text = arg[0] if isinstance(arg, list) and arg else arg
        if not isinstance(text, str):
            return None
        return _SUB.sub(lambda mt: "${" + mt.group(2) + "}" if mt.group(1) else PLACEHOLDER, text)
    if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
        delimiter, parts = arg
        if not isinstance(delimiter, str) or not isinstance(parts, list):
            return None
        texts = []
        for part in parts:
            text = substituted(part) if isinstance(part, dict) and "Fn::Sub" in part else part
            texts.append(text if isinstance(text, str) else PLACEHOLDER)
        return delimiter.join(texts)
    return None


@dataclass(frozen=True)
class GraphedMetric:
    widget: int
    title: str
    namespace: str
    name: str
    dimensions: tuple[str, ...]


def graphed_metrics(body: Any) -> Iterator[GraphedMetric]:
    """Every metric line of the body's metric widgets ("." repeats the line above)."""
    widgets = body.get("widgets") if isinstance(body, dict) else None
    for i, widget in enumerate(widgets if isinstance(widgets, list) else []):
        props = widget.get("properties") if isinstance(widget, dict) else None
        if not isinstance(props, dict) or widget.get("type") != "metric":
            continue
        title = str(props.get("title") or f"widget {i}")
        previous: list[Any] = []
        for line in props.get("metrics") or []:
            if not isinstance(line, list) or not line or isinstance(line[0], dict):
                continue  # an expression (or nothing to check)
            items = line[:-1] if isinstance(line[-1], dict) else list(line)
            if items[:1] == ["..."]:
                previous = []
                continue  # repeats an unknown number of earlier values
            items = [
                previous[n] if v == "." and n < len(previous) else v for n, v in enumerate(items)
            ]
            previous = items
            if len(items) < 2 or not all(isinstance(v, str) for v in items):
                continue
            yield GraphedMetric(i, title, items[0], items[1], tuple(items[2::2]))
