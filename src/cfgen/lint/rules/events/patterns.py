# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9540, E9541: events rules (patterns)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import events as sup


class JobStatusField(base.BatchRule):
    id = "E9540"
    shortdesc = "Batch event pattern filters detail.jobStatus"
    description = (
        "'Batch Job State Change' events carry the job state in detail.status; a "
        "pattern on detail.jobStatus never matches. SAM functions' EventBridgeRule/"
        "CloudWatchEvent events are checked as written."
    )
    source_url = sup.EVENTS
    tags: ClassVar[list[str]] = ["resources", "events", "batch"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for where, pattern, _ in sup.batch_patterns(m):
            detail = pattern.get("detail")
            if isinstance(detail, dict) and "jobStatus" in detail:
                out.add(
                    (*where, "detail", "jobStatus"),
                    "Filter on detail.status; Batch events have no detail.jobStatus",
                )


class InputPathMissing(base.BatchRule):
    id = "E9541"
    shortdesc = "InputPathsMap path not in the Batch job event"
    description = (
        "InputTransformer paths of a 'Batch Job State Change' rule must exist in the "
        "event (envelope fields, or detail fields of Batch's JobDetail); a missing path "
        "renders as an empty value. SAM functions' EventBridgeRule/CloudWatchEvent "
        "events are checked as written."
    )
    source_url = sup.EVENTS
    tags: ClassVar[list[str]] = ["resources", "events", "batch"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for _, _, targets in sup.batch_patterns(m):
            for where, xf in targets:
                paths = xf.get("InputPathsMap") if isinstance(xf, dict) else None
                if not isinstance(paths, dict):
                    continue
                for name, p in paths.items():
                    if isinstance(p, str) and sup.path_exists(p) is False:
                        out.add(
                            (*where, "InputPathsMap", name),
                            f"Path {p} does not exist in a Batch Job State Change event",
                        )
