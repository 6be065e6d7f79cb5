"""Tasks used by the tests to exercise the custom-task path (CFGEN_TASK=module:factory)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from spotworker.tasks import BadRecord, BatchResult, RecordBatch


class _Upper:
    """Map-style: one output line per record (streamed as bytes-<a>-<b> parts)."""

    def __init__(self, snapshot: Any) -> None:
        self.seen = int(snapshot or 0)

    def feed(self, record: bytes) -> Iterable[bytes] | None:
        try:
            obj = json.loads(record)
        except ValueError as exc:
            raise BadRecord(f"invalid JSON: {exc}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str):
            raise BadRecord("no key")
        self.seen += 1
        return [json.dumps({"n": self.seen, "KEY": obj["key"].upper()}).encode()]

    def finish(self) -> Iterable[bytes]:
        yield json.dumps({"total": self.seen}).encode()

    def snapshot(self) -> Any:
        return self.seen


class _Factory:
    name = "upper"

    def open(self, key: str, snapshot: Any) -> _Upper:
        return _Upper(snapshot)


def upper(cfg: Any) -> _Factory:
    return _Factory()


class _UpperBatch(_Upper):
    """The map task through the batch API: one output line per record, bad records by index."""

    def feed_batch(self, batch: RecordBatch) -> BatchResult:
        out: list[bytes] = []
        bad: list[tuple[int, str]] = []
        for i, line in enumerate(batch.lines):
            if not line:
                continue
            try:
                out.extend(self.feed(line) or ())
            except BadRecord as exc:
                bad.append((i, str(exc)))
        return BatchResult(output=out, bad=bad)


class _UpperBatchFactory:
    name = "upper"  # the same task as `upper`: a checkpoint of one resumes the other

    def open(self, key: str, snapshot: Any) -> _UpperBatch:
        return _UpperBatch(snapshot)


def upper_batch(cfg: Any) -> _UpperBatchFactory:
    return _UpperBatchFactory()


class _WrongIndex(_UpperBatch):
    def feed_batch(self, batch: RecordBatch) -> BatchResult:
        return BatchResult(bad=[(len(batch.lines), "beyond the batch")])


class _WrongIndexFactory:
    name = "wrong-index"

    def open(self, key: str, snapshot: Any) -> _WrongIndex:
        return _WrongIndex(snapshot)


def wrong_index(cfg: Any) -> _WrongIndexFactory:
    return _WrongIndexFactory()


class _EngineEnv:
    """Reports, per object, the engine thread setting its process runs with."""

    def feed(self, record: bytes) -> None:
        return None

    def finish(self) -> Iterable[bytes]:
        import os

        import polars as pl

        yield json.dumps(
            {
                "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS"),
                "thread_pool_size": pl.thread_pool_size(),
                "_RJEM_MALLOC_CONF": os.environ.get("_RJEM_MALLOC_CONF"),
            }
        ).encode()

    def snapshot(self) -> Any:
        return None


class _EngineEnvFactory:
    name = "engine_env"

    def open(self, key: str, snapshot: Any) -> _EngineEnv:
        return _EngineEnv()


def engine_env(cfg: Any) -> _EngineEnvFactory:
    return _EngineEnvFactory()
