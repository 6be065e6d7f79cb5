"""Check results and how they are printed: one line per check, a summary, or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"  #: jobs may run, but something is likely to hurt (cost, delays)
    FAIL = "fail"  #: jobs cannot run (or never leave RUNNABLE) until it is fixed
    INFO = "info"  #: a fact worth showing (doctor), neither good nor bad


@dataclass(frozen=True)
class Check:
    """One finding: which check, its verdict, what it saw, and how to fix it."""

    check: str
    status: Status
    message: str
    fix: str = ""
    source: str = ""


@dataclass
class Report:
    title: str
    checks: list[Check] = field(default_factory=list)

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def extend(self, checks: list[Check]) -> None:
        self.checks.extend(checks)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status is status)

    @property
    def can_run(self) -> bool:
        return self.count(Status.FAIL) == 0

    def summary(self) -> str:
        parts = [
            f"{self.count(Status.PASS)} passed",
            f"{self.count(Status.WARN)} warning{'' if self.count(Status.WARN) == 1 else 's'}",
            f"{self.count(Status.FAIL)} failed",
        ]
        verdict = "jobs can run" if self.can_run else "jobs cannot run until the failures are fixed"
        return f"summary: {', '.join(parts)}: {verdict}"

    def text(self) -> str:
        width = max((len(c.check) for c in self.checks), default=0)
        lines = [self.title]
        for c in self.checks:
            lines.append(f"{c.status.value.upper():<4}  {c.check:<{width}}  {c.message}")
            if c.fix:
                lines.append(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def json(self) -> str:
        data = {
            "title": self.title,
            "checks": [asdict(c) | {"status": c.status.value} for c in self.checks],
            "summary": {s.value: self.count(s) for s in Status},
            "can_run": self.can_run,
        }
        return json.dumps(data, indent=2) + "\n"
