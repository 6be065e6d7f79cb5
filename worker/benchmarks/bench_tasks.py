"""Tasks for the benchmark (CFGEN_TASK=bench_tasks:noop, with benchmarks/ on PYTHONPATH)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spotworker.tasks import BatchResult, RecordBatch


class _Noop:
    """Takes every batch and does nothing: what the harness itself costs."""

    def feed(self, record: bytes) -> None:
        return None

    def feed_batch(self, batch: RecordBatch) -> BatchResult:
        return BatchResult()

    def finish(self) -> Iterable[bytes]:
        return ()

    def snapshot(self) -> Any:
        return None


class _NoopFactory:
    name = "noop"

    def open(self, key: str, snapshot: Any) -> _Noop:
        return _Noop()


def noop(cfg: Any) -> _NoopFactory:
    return _NoopFactory()
