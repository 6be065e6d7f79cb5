"""The task interface and the example task (per-key count, sum, min, max).

A task sees one input object at a time, one record (line) at a time:

* ``TaskFactory.open(key, snapshot)`` starts (snapshot None) or resumes an object.
* ``ObjectTask.feed(record)`` consumes one record (bytes, without the newline
  and without a trailing CR, never empty). It may return output lines (bytes,
  without newline) to stream out, or None. It raises :class:`BadRecord` for a
  record it rejects; the harness dead-letters it with its line number.
* ``ObjectTask.snapshot()`` returns JSON-able state; ``open(key, snapshot)``
  must rebuild an equal task from it (it is stored in the checkpoint).
  Raise :class:`SkipRecord` for a line that is not a record (a header).
* ``ObjectTask.finish()`` returns the object's final output lines.

Tasks must be deterministic: the same records in the same order produce the
same outputs and snapshots (exactly-once output relies on it).
"""

from __future__ import annotations

import csv
import decimal
import importlib
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from spotworker.config import Config
from spotworker.errors import ConfigError

JSONValue = Any


class BadRecord(ValueError):  # noqa: N818 - part of the task API
    """A record the task rejects; the message is the reason (dead-lettered)."""


class SkipRecord(Exception):  # noqa: N818 - control flow, not an error
    """A line that is neither a good nor a bad record (a CSV header, a comment)."""


class ObjectTask(Protocol):
    def feed(self, record: bytes) -> Iterable[bytes] | None: ...
    def finish(self) -> Iterable[bytes]: ...
    def snapshot(self) -> JSONValue: ...


class TaskFactory(Protocol):
    name: str

    def open(self, key: str, snapshot: JSONValue | None) -> ObjectTask: ...


# Exact decimal arithmetic; an inexact result raises instead of silently rounding.
_CTX = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])


def _reject_constant(name: str) -> Any:
    raise BadRecord(f"non-finite number {name}")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


class AggregateTask:
    """count, sum, min, max of a numeric field per key, over JSON Lines or CSV.

    Format by key suffix: ``.csv`` is CSV with a header line (one record per
    line, quoted fields allowed, no embedded newlines); anything else is JSON
    Lines (one object per line). Numbers are summed as decimals, exactly, and
    written as decimal strings.
    """

    def __init__(self, key: str, key_field: str, value_field: str) -> None:
        self.is_csv = key.lower().endswith(".csv")
        self.key_field = key_field
        self.value_field = value_field
        self.header: list[str] | None = None
        self.key_col = -1
        self.value_col = -1
        self.aggs: dict[str, list[Any]] = {}

    # -- records ---------------------------------------------------------
    def feed(self, record: bytes) -> None:
        if self.is_csv:
            key, value = self._parse_csv(record)
        else:
            key, value = self._parse_json(record)
        agg = self.aggs.get(key)
        if agg is None:
            self.aggs[key] = [1, value, value, value]
        else:
            agg[0] += 1
            agg[1] = _CTX.add(agg[1], value)
            agg[2] = min(agg[2], value)
            agg[3] = max(agg[3], value)

    def _parse_json(self, record: bytes) -> tuple[str, Decimal]:
        try:
            # One shared decoder on str: json.loads(bytes, parse_float=...) builds a
            # decoder and sniffs the encoding per call, at twice the cost.
            obj = _DECODER.decode(record.decode("utf-8"))
        except BadRecord:
            raise
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise BadRecord(f"invalid JSON: {exc}") from None
        if type(obj) is not dict:
            raise BadRecord("not a JSON object")
        key = obj.get(self.key_field)
        value = obj.get(self.value_field)
        if type(key) is not str or not key:
            raise BadRecord(f"field {self.key_field!r} missing or not a non-empty string")
        if type(value) is int:
            return key, Decimal(value)
        if type(value) is not Decimal:
            raise BadRecord(f"field {self.value_field!r} missing or not a number")
        return key, value

    def _parse_csv(self, record: bytes) -> tuple[str, Decimal]:
        try:
            text = record.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRecord(f"invalid UTF-8: {exc}") from None
        try:
            row = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration) as exc:
            raise BadRecord(f"invalid CSV: {exc}") from None
        if self.header is None:
            self._set_header(row)
            raise SkipRecord
        if len(row) != len(self.header):
            raise BadRecord(f"expected {len(self.header)} fields, got {len(row)}")
        if self.key_col < 0 or self.value_col < 0:
            raise BadRecord(f"header has no {self.key_field!r} or {self.value_field!r} column")
        key, raw = row[self.key_col], row[self.value_col]
        if not key:
            raise BadRecord(f"field {self.key_field!r} is empty")
        try:
            value = Decimal(raw.strip())
        except decimal.InvalidOperation:
            raise BadRecord(f"field {self.value_field!r} is not a number: {raw[:40]!r}") from None
        if not value.is_finite():
            raise BadRecord(f"field {self.value_field!r} is not finite")
        return key, value

    def _set_header(self, row: list[str]) -> None:
        self.header = [c.strip() for c in row]
        self.key_col = self.header.index(self.key_field) if self.key_field in self.header else -1
        self.value_col = (
            self.header.index(self.value_field) if self.value_field in self.header else -1
        )

    # -- state -----------------------------------------------------------
    def snapshot(self) -> JSONValue:
        return {
            "header": self.header,
            "aggs": {k: [a[0], str(a[1]), str(a[2]), str(a[3])] for k, a in self.aggs.items()},
        }

    def restore(self, snap: JSONValue) -> None:
        header = snap.get("header")
        if header is not None:
            self._set_header(list(header))
        self.aggs = {
            k: [int(a[0]), Decimal(a[1]), Decimal(a[2]), Decimal(a[3])]
            for k, a in snap["aggs"].items()
        }

    def finish(self) -> Iterable[bytes]:
        for key in sorted(self.aggs):
            count, total, lo, hi = self.aggs[key]
            yield json.dumps(
                {"key": key, "count": count, "sum": str(total), "min": str(lo), "max": str(hi)},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode("utf-8")


class AggregateFactory:
    name = "aggregate"

    def __init__(self, key_field: str = "key", value_field: str = "value") -> None:
        self.key_field = key_field
        self.value_field = value_field

    def open(self, key: str, snapshot: JSONValue | None) -> AggregateTask:
        task = AggregateTask(key, self.key_field, self.value_field)
        if snapshot is not None:
            task.restore(snapshot)
        return task


def merge_aggregate_lines(lines: Iterable[bytes], into: dict[str, list[Any]]) -> None:
    """Merge AggregateTask output lines into ``into`` (key -> [count, sum, min, max])."""
    for line in lines:
        if not line:
            continue
        rec = json.loads(line)
        count, total, lo, hi = (
            rec["count"],
            Decimal(rec["sum"]),
            Decimal(rec["min"]),
            Decimal(rec["max"]),
        )
        cur = into.get(rec["key"])
        if cur is None:
            into[rec["key"]] = [count, total, lo, hi]
        else:
            cur[0] += count
            cur[1] = _CTX.add(cur[1], total)
            cur[2] = min(cur[2], lo)
            cur[3] = max(cur[3], hi)


def load_task(cfg: Config) -> TaskFactory:
    """The configured task: the example, or ``package.module:factory`` called with cfg."""
    if cfg.task == "aggregate":
        return AggregateFactory(cfg.task_key_field, cfg.task_value_field)
    module_name, _, attr = cfg.task.partition(":")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"CFGEN_TASK={cfg.task!r}: cannot load ({exc})") from None
    result: TaskFactory = factory(cfg)
    return result
