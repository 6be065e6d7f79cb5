# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9501, E9504, W9505: compute rules (allocation)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import compute as sup


class SpotStrategyNeedsSpot(base.BatchRule):
    id = "E9501"
    shortdesc = "Spot allocation strategy on a non-Spot compute environment"
    description = (
        "SPOT_CAPACITY_OPTIMIZED and SPOT_PRICE_CAPACITY_OPTIMIZED are valid only "
        "when ComputeResources.Type is SPOT; creation fails otherwise."
    )
    source_url = sup.ALLOCATION
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            strategy = m.text(cr.get("AllocationStrategy"))
            if strategy in mdl.SPOT_STRATEGIES and isinstance(ctype, str) and ctype != "SPOT":
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "AllocationStrategy"),
                    f"AllocationStrategy {strategy} requires ComputeResources.Type SPOT, "
                    f"not {ctype}",
                )


class SpotFleetRoleNeeded(base.BatchRule):
    id = "E9504"
    shortdesc = "SPOT with BEST_FIT needs SpotIamFleetRole"
    description = (
        "A SPOT compute environment with AllocationStrategy BEST_FIT (or none, which "
        "means BEST_FIT) needs SpotIamFleetRole."
    )
    source_url = sup.FLEET_ROLE
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "iam"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if ctype != "SPOT":
                continue
            strategy = m.text(cr.get("AllocationStrategy", "BEST_FIT"))
            if strategy == "BEST_FIT" and not sup.present(m, cr.get("SpotIamFleetRole")):
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources"),
                    "SPOT with BEST_FIT allocation needs SpotIamFleetRole "
                    "(or use SPOT_PRICE_CAPACITY_OPTIMIZED)",
                )


class SpotFleetRoleUnneeded(base.BatchRule):
    id = "W9505"
    shortdesc = "SpotIamFleetRole is not needed here"
    description = (
        "Only SPOT compute environments with BEST_FIT allocation use a Spot fleet role; "
        "elsewhere it is an unneeded IAM role (and a create-only property)."
    )
    source_url = sup.FLEET_ROLE
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "iam"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if not sup.present(m, cr.get("SpotIamFleetRole")) or not isinstance(ctype, str):
                continue
            strategy = m.text(cr.get("AllocationStrategy", "BEST_FIT"))
            if mdl.is_unknown(strategy):
                continue
            if ctype != "SPOT" or strategy != "BEST_FIT":
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "SpotIamFleetRole"),
                    f"SpotIamFleetRole is unused with Type {ctype} and AllocationStrategy "
                    f"{strategy}",
                )
