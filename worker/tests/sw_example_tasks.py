"""Tasks used by the tests to exercise the custom-task path (CFGEN_TASK=module:factory)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from spotworker.tasks import BadRecord


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
