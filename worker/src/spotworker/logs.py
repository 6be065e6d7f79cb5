"""Structured JSON logs: one line per event on stdout (CloudWatch Logs via awslogs).

With :meth:`EventLog.enable_metrics` (on Batch: the queue name is known), lines
whose event carries a number worth graphing also carry CloudWatch embedded
metric format members (spotworker.metrics).

Every line carries the job id, array index and attempt. Values are scrubbed of
anything that looks like a credential, as a second line of defence: the worker
never logs its environment or its client configuration in the first place.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from typing import Any, TextIO

from spotworker.metrics import MetricDeriver, emf_members

_SECRET_NAME = re.compile(r"secret|token|password|credential|session|access_key", re.I)
_SECRET_VALUE = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b")


def _scrub(name: str, value: Any) -> Any:
    if _SECRET_NAME.search(name):
        return "***"
    if isinstance(value, str):
        return _SECRET_VALUE.sub("***", value)
    return value


class EventLog:
    def __init__(self, stream: TextIO | None = None, **context: Any) -> None:
        self._stream = stream
        self._context = context
        self._lock = threading.Lock()
        self._queue = ""
        self._metrics: MetricDeriver | None = None

    def enable_metrics(self, queue: str) -> None:
        """Add EMF members (dimension JobQueue=queue) to lines with metric values."""
        self._queue = queue
        self._metrics = MetricDeriver()

    def bind(self, **context: Any) -> None:
        self._context.update(context)

    def event(self, name: str, **fields: Any) -> None:
        record: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            + f".{int(time.time() * 1000) % 1000:03d}Z",
            "event": name,
        }
        for key, value in {**self._context, **fields}.items():
            record[key] = _scrub(key, value)
        stream = self._stream or sys.stdout
        with self._lock:  # the deriver's totals follow the lines in order
            if self._metrics is not None:
                values = self._metrics.values(name, fields)
                if values:
                    record.update(emf_members(self._queue, values))
            line = json.dumps(record, separators=(",", ":"), default=str)
            stream.write(line + "\n")
            stream.flush()
