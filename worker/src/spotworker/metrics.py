"""CloudWatch metrics from the worker's own log lines: embedded metric format (EMF).

The worker never calls PutMetricData and needs no IAM permission for metrics:
CloudWatch Logs extracts a metric from every log event that carries an ``_aws``
member with ``CloudWatchMetrics`` directives (namespace, dimension sets, metric
names and units) and the values as root members. The awslogs driver sends the
container's stdout with PutLogEvents, where the ``x-amzn-logs-format: json/emf``
header is optional, and the stack's log group is of the Standard class (all
CloudWatch Logs features).
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Generation_PutLogEvents.html

The metrics are derived here, in one place, from the fields the events already
carry (``Harness.stats()``: cumulative ``bytes``/``records``/``bad`` and the
attempt's ``rate_*`` and ``elapsed_s``): no harness call site knows about them.
Counts are deltas since the previous event of the same attempt, so sums over
any period add up across attempts and shards.

Work redone after a resume is what attempts processed but never checkpointed:
``BytesProcessed - BytesCheckpointed`` over a period (a SIGKILLed attempt's
bytes since its last checkpoint, up to its last progress line; an attempt that
loses the commit race checkpointed its work, so it is not counted). The
dashboard graphs that difference.

The one dimension is the job queue's name (``AWS_BATCH_JQ_NAME``, set by Batch
in every job container): few series, never one per job.
https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html
The same names are spelled in ``cfgen.contract`` (tests/test_contract.py).
"""

from __future__ import annotations

import time
from typing import Any, Final

NAMESPACE: Final = "cfgen/Worker"
DIMENSION: Final = "JobQueue"
#: Environment variable Batch sets to the name of the job's queue.
ENV_JOB_QUEUE: Final = "AWS_BATCH_JQ_NAME"

BYTES_PROCESSED: Final = "BytesProcessed"
RECORDS_PROCESSED: Final = "RecordsProcessed"
BAD_RECORDS: Final = "BadRecords"
BYTES_CHECKPOINTED: Final = "BytesCheckpointed"
CHECKPOINTS: Final = "Checkpoints"
INTERRUPTIONS: Final = "Interruptions"
BYTES_PER_SECOND: Final = "BytesPerSecond"
RECORDS_PER_SECOND: Final = "RecordsPerSecond"
ATTEMPT_DURATION: Final = "AttemptDuration"

#: Every metric the worker emits and its CloudWatch unit.
UNITS: Final = {
    BYTES_PROCESSED: "Bytes",
    RECORDS_PROCESSED: "Count",
    BAD_RECORDS: "Count",
    BYTES_CHECKPOINTED: "Bytes",
    CHECKPOINTS: "Count",
    INTERRUPTIONS: "Count",
    BYTES_PER_SECOND: "Bytes/Second",
    RECORDS_PER_SECOND: "Count/Second",
    ATTEMPT_DURATION: "Seconds",
}

#: Cumulative stats fields -> the metric of their per-event delta.
_DELTAS: Final = (("bytes", BYTES_PROCESSED), ("records", RECORDS_PROCESSED), ("bad", BAD_RECORDS))
#: Events that end an attempt (their elapsed_s is the attempt's duration).
_ENDS: Final = frozenset({"done", "interrupt", "failed"})


class MetricDeriver:
    """Metric values of one event from its fields; keeps the attempt's last totals."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {field: 0 for field, _ in _DELTAS}
        self._checkpointed: float = 0

    def values(self, event: str, fields: dict[str, Any]) -> dict[str, float]:
        if event == "resume":  # the totals a resumed attempt starts from
            for field, _ in _DELTAS:
                self._last[field] = _num(fields.get(field)) or 0
            self._checkpointed = self._last["bytes"]
            return {}
        out: dict[str, float] = {}
        if "rate_bytes_s" in fields:  # an event carrying Harness.stats()
            for field, metric in _DELTAS:
                now = _num(fields.get(field))
                if now is None:
                    continue
                # Totals drop only when an object restarts (its input changed).
                out[metric] = max(now - self._last[field], 0)
                self._last[field] = now
            for field, metric in (
                ("rate_bytes_s", BYTES_PER_SECOND),
                ("rate_records_s", RECORDS_PER_SECOND),
            ):
                rate = _num(fields.get(field))
                if rate is not None:
                    out[metric] = rate
        if event == "checkpoint":
            out[CHECKPOINTS] = 1
            done = _num(fields.get("bytes"))
            if done is not None:
                out[BYTES_CHECKPOINTED] = max(done - self._checkpointed, 0)
                self._checkpointed = done
        if event == "interrupt":
            out[INTERRUPTIONS] = 1
        if event in _ENDS:
            elapsed = _num(fields.get("elapsed_s"))
            if elapsed is not None:
                out[ATTEMPT_DURATION] = elapsed
        return out


def emf_members(queue: str, values: dict[str, float]) -> dict[str, Any]:
    """The root members that make a log line an EMF document with these values."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in values],
                }
            ],
        },
        DIMENSION: queue,
        **values,
    }


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
