# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9535: jobs rules (timeout)."""

from __future__ import annotations

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import jobs as sup


class TimeoutTooShort(base.BatchRule):
    id = "E9535"
    shortdesc = "Job timeout below 60 seconds"
    description = "Timeout.AttemptDurationSeconds must be at least 60."
    source_url = sup.TIMEOUT_API

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jd in m.all_variants(mdl.BATCH_JD):
            timeout = jd.props.get("Timeout")
            if isinstance(timeout, dict) and "AttemptDurationSeconds" in timeout:
                n = m.number(timeout["AttemptDurationSeconds"])
                if not mdl.is_unknown(n) and n < 60:
                    out.add(
                        mdl.res_path(jd.logical_id, "Timeout", "AttemptDurationSeconds"),
                        f"AttemptDurationSeconds {n:g} is below the minimum of 60",
                    )
