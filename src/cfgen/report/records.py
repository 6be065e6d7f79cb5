"""Attempts: parsed from ledger records (worker/src/spotworker/ledger.py) or from Batch.

A record that does not parse, is not a JSON object, has a format this version does
not know or misses the fields it needs becomes a :class:`Problem` (key and reason),
never an exception: one bad object must not hide the cost of every other job.
Records of a newer format are read for the fields of format 1 (newer versions only
add fields) and flagged in ``notes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cfgen import contract

#: Exit reasons of an attempt ("unknown": a Batch attempt without an exit code).
REASONS = ("done", "interrupted", "failed", "unknown")


@dataclass(frozen=True)
class Problem:
    """A ledger object the report could not use, and why (one line)."""

    key: str
    reason: str


@dataclass(frozen=True)
class Attempt:
    job_id: str  # the job (the parent's id for array children)
    array_index: int | None
    attempt: int
    started: datetime
    ended: datetime
    exit_reason: str
    exit_code: int | None = None
    queue: str | None = None
    compute_environment: str | None = None
    share: str | None = None
    #: "ec2", "fargate" or "unknown"
    platform: str = "unknown"
    instance_type: str | None = None
    #: "spot", "on-demand" or None (unknown)
    lifecycle: str | None = None
    availability_zone: str | None = None
    instance_id: str | None = None
    vcpus: Decimal | None = None
    memory_mib: int | None = None
    bytes: int | None = None
    records: int | None = None
    resumed_bytes: int | None = None
    end_bytes: int | None = None
    #: "ledger" (the worker's record) or "batch" (filled from DescribeJobs/ECS/EC2)
    source: str = "ledger"
    #: Batch's statusReason of the attempt ("Host EC2 (instance i-...) terminated." ...)
    status_reason: str | None = None
    key: str | None = None
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def shard(self) -> tuple[str, int]:
        return (self.job_id, self.array_index if self.array_index is not None else 0)

    @property
    def seconds(self) -> Decimal:
        """Billed duration in seconds (millisecond precision, exact)."""
        delta = self.ended - self.started
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        return Decimal(max(ms, 0)) / 1000

    @property
    def reclaimed(self) -> bool:
        """Ended by a Spot reclaim or another stop (SIGTERM, Host EC2 terminated)."""
        if self.exit_reason == "interrupted":
            return True
        reason = self.status_reason or ""
        return reason.startswith("Host EC2") or "Spot Task was interrupted" in reason

    def with_missing(self, *names: str) -> Attempt:
        return replace(self, missing=tuple(sorted(set(self.missing) | set(names))))


def parse_time(value: Any) -> datetime:
    """An ISO-8601 UTC time like 2026-12-01T10:00:00.000Z (or epoch milliseconds)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str):
        raise ValueError(f"time {value!r} is not a string")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone")
    return parsed.astimezone(UTC)


def _opt_int(raw: Any, name: str) -> int | None:
    if raw is None:
        return None
    if type(raw) is not int or raw < 0:
        raise ValueError(f"{name} {raw!r} is not a non-negative integer")
    return raw


def _opt_str(raw: Any, name: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError(f"{name} {raw!r} is not a string")
    return raw or None


def _opt_decimal(raw: Any, name: str) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"{name} {raw!r} is not a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"{name} {raw!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} {raw!r} must be a positive number")
    return value


def _dict(raw: Any, name: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{name} is not an object")
    return raw


def parse_record(key: str, data: bytes) -> Attempt | Problem:
    """One ledger object: an Attempt, or a Problem saying why it cannot be used."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return Problem(key, f"not JSON ({type(exc).__name__})")
    if not isinstance(raw, dict):
        return Problem(key, "not a JSON object")
    fmt = raw.get("format")
    if type(fmt) is not int or fmt < 1:
        return Problem(
            key,
            f"format {fmt!r} unknown (this cfgen reads formats 1 to {contract.LEDGER_FORMAT})",
        )
    try:
        return _from_v1(key, raw, newer=fmt > contract.LEDGER_FORMAT)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        return Problem(key, f"format {fmt}: {exc}"[:300])


def _from_v1(key: str, raw: dict[str, Any], *, newer: bool) -> Attempt:
    job = _opt_str(raw["job_id"], "job_id")
    if job is None:
        raise ValueError("job_id is empty")
    attempt = _opt_int(raw["attempt"], "attempt")
    if not attempt:
        raise ValueError("attempt must be 1 or more")
    started, ended = parse_time(raw["started_at"]), parse_time(raw["ended_at"])
    if ended < started:
        raise ValueError("ended_at is before started_at")
    exit_ = _dict(raw.get("exit"), "exit")
    reason = exit_.get("reason", "unknown")
    if reason not in REASONS:
        reason = "unknown"
    work = _dict(raw.get("work"), "work")
    host = _dict(raw.get("host"), "host")
    lifecycle = _opt_str(host.get("lifecycle"), "host.lifecycle")
    if lifecycle not in (None, "spot", "on-demand"):
        # IMDS also knows "scheduled" (Scheduled Instances): priced as On-Demand.
        lifecycle = "on-demand"
    platform = host.get("platform") if host.get("platform") in ("ec2", "fargate") else "unknown"
    missing = raw.get("missing") or []
    return Attempt(
        job_id=job,
        array_index=_opt_int(raw.get("array_index"), "array_index"),
        attempt=attempt,
        started=started,
        ended=ended,
        exit_reason=reason,
        exit_code=_opt_int(exit_.get("code"), "exit.code"),
        queue=_opt_str(raw.get("queue"), "queue"),
        compute_environment=_opt_str(raw.get("compute_environment"), "compute_environment"),
        platform=str(platform),
        instance_type=_opt_str(host.get("instance_type"), "host.instance_type"),
        lifecycle=lifecycle,
        availability_zone=_opt_str(host.get("availability_zone"), "host.availability_zone"),
        instance_id=_opt_str(host.get("instance_id"), "host.instance_id"),
        vcpus=_opt_decimal(host.get("vcpus"), "host.vcpus"),
        memory_mib=_opt_int(host.get("memory_mib"), "host.memory_mib"),
        bytes=_opt_int(work.get("bytes"), "work.bytes"),
        records=_opt_int(work.get("records"), "work.records"),
        resumed_bytes=_opt_int(work.get("resumed_bytes"), "work.resumed_bytes"),
        end_bytes=_opt_int(work.get("end_bytes"), "work.end_bytes"),
        source="ledger",
        key=key,
        missing=tuple(sorted(str(m) for m in missing if isinstance(m, str))),
        notes=(f"format {raw['format']}: read as format 1",) if newer else (),
    )
