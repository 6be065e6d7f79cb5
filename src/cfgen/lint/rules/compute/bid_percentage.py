# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9502, W9503: compute rules (bid percentage)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import compute as sup


class BidPercentageOnlySpot(base.BatchRule):
    id = "E9502"
    shortdesc = "BidPercentage only with SPOT, between 1 and 100"
    description = "BidPercentage applies to SPOT compute resources only and must be 1-100."
    source_url = sup.API_CR
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if "BidPercentage" not in cr:
                continue
            path = mdl.res_path(ce.logical_id, "ComputeResources", "BidPercentage")
            if isinstance(ctype, str) and ctype != "SPOT":
                out.add(path, f"BidPercentage is only valid with Type SPOT, not {ctype}")
            value = m.number(cr["BidPercentage"])
            if not mdl.is_unknown(value) and not 1 <= value <= 100:
                out.add(path, f"BidPercentage {value:g} is outside 1-100")


class BidPercentageCap(base.BatchRule):
    id = "W9503"
    shortdesc = "Explicit BidPercentage caps the Spot price"
    description = (
        "AWS recommends leaving BidPercentage empty (pay at most the On-Demand price); "
        "a cap lowers the chance of getting capacity and raises interruptions. Any "
        "literal value is reported; a parameter is reported when its Default is below 100."
    )
    source_url = sup.ALLOCATION
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "cost"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, _ in sup.managed(m):
            if "BidPercentage" not in cr:
                continue
            raw = cr["BidPercentage"]
            value = m.number(raw)
            if m.is_param_ref(raw):
                if mdl.is_unknown(value) or value >= 100:
                    continue
            elif isinstance(raw, dict):
                continue
            shown = "?" if mdl.is_unknown(value) else f"{value:g}"
            out.add(
                mdl.res_path(ce.logical_id, "ComputeResources", "BidPercentage"),
                f"BidPercentage is set ({shown}); leave it unset so Spot may bid up to "
                "the On-Demand price",
            )
