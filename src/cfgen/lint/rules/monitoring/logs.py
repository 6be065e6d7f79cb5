# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9570: monitoring rules (logs)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import monitoring as sup


class DefaultBatchLogGroup(base.BatchRule):
    id = "E9570"
    shortdesc = "Template creates the account-wide /aws/batch/job log group"
    description = (
        "/aws/batch/job is the default log group of every Batch job in the account and "
        "region; a stack that creates it fails where it exists and deletes everyone's "
        "logs with the stack. Use a stack-specific group and awslogs-group."
    )
    source_url = sup.AWSLOGS
    tags: ClassVar[list[str]] = ["resources", "logs", "batch"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for lg in m.all_variants("AWS::Logs::LogGroup"):
            if m.text(lg.props.get("LogGroupName")) == "/aws/batch/job":
                out.add(
                    mdl.res_path(lg.logical_id, "LogGroupName"),
                    "Log group /aws/batch/job is Batch's account-wide default group",
                )
