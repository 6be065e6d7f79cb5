# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9502, W9503: BidPercentage range and Spot price caps."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import compute as sup


class BidPercentageRange(base.BatchRule):
    id = "E9502"
    shortdesc = "BidPercentage outside 1-100"
    description = (
        "BidPercentage must be 1-100 (percent of the On-Demand price). On a non-SPOT "
        "environment Batch ignores it: W9514 reports that."
    )
    source_url = sup.API_CR
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, _ in sup.managed(m):
            if "BidPercentage" not in cr:
                continue
            value = m.number(cr["BidPercentage"])
            if not mdl.is_unknown(value) and not 1 <= value <= 100:
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "BidPercentage"),
                    f"BidPercentage {value:g} is outside 1-100",
                    ce,
                )


class BidPercentageCap(base.BatchRule):
    id = "W9503"
    shortdesc = "BidPercentage below 100 caps the Spot price"
    description = (
        "AWS recommends leaving BidPercentage empty (pay at most the On-Demand price); "
        "a cap below 100 lowers the chance of getting capacity and raises interruptions. "
        "Reported on SPOT environments for a value (or a parameter's Default) of 1-99; "
        "100 caps nothing."
    )
    source_url = sup.ALLOCATION
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "cost"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if ctype != "SPOT" or "BidPercentage" not in cr:
                continue
            value = m.number(cr["BidPercentage"])
            if mdl.is_unknown(value) or not 1 <= value < 100:
                continue
            out.add(
                mdl.res_path(ce.logical_id, "ComputeResources", "BidPercentage"),
                f"BidPercentage {value:g} caps the Spot price below On-Demand; leave it "
                "unset so Spot may bid up to the On-Demand price",
                ce,
            )
