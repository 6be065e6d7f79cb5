# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9501, E9504, W9505, W9514, W9515: allocation strategy, Spot fleet role, Spot vs On-Demand."""

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
                    ce,
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
                    ce,
                )


class SpotFleetRoleUnneeded(base.BatchRule):
    id = "W9505"
    shortdesc = "SpotIamFleetRole is not needed here"
    description = (
        "Only SPOT compute environments with BEST_FIT allocation use a Spot fleet role; "
        "elsewhere it is an unneeded IAM role (and a create-only property). On a Type "
        "EC2 environment W9514 reports it instead."
    )
    source_url = sup.FLEET_ROLE
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "iam"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if not sup.present(m, cr.get("SpotIamFleetRole")) or not isinstance(ctype, str):
                continue
            strategy = m.text(cr.get("AllocationStrategy", "BEST_FIT"))
            if mdl.is_unknown(strategy) or ctype == "EC2":
                continue
            if ctype != "SPOT" or strategy != "BEST_FIT":
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "SpotIamFleetRole"),
                    f"SpotIamFleetRole is unused with Type {ctype} and AllocationStrategy "
                    f"{strategy}",
                    ce,
                )


class SpotSettingsOnDemand(base.BatchRule):
    id = "W9514"
    shortdesc = "Spot settings on an On-Demand (Type EC2) compute environment"
    description = (
        "BidPercentage and SpotIamFleetRole apply to SPOT compute resources only; Batch "
        "accepts and ignores them on Type EC2, so the environment the template meant "
        "for Spot runs On-Demand. Reported once, at ComputeResources.Type."
    )
    source_url = sup.API_CR
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "cost"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if ctype != "EC2" or not sup.literal_type(m, ce.logical_id):
                continue
            if m.text(cr.get("AllocationStrategy")) in mdl.SPOT_STRATEGIES:
                continue  # E9501 reports this environment
            spot = [p for p in ("BidPercentage", "SpotIamFleetRole") if sup.present(m, cr.get(p))]
            if spot:
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "Type"),
                    f"Type EC2 is On-Demand: {' and '.join(spot)} "
                    f"{'is' if len(spot) == 1 else 'are'} ignored; use Type SPOT for Spot",
                    ce,
                )


class SpotBestFit(base.BatchRule):
    id = "W9515"
    shortdesc = "Spot compute environment with BEST_FIT allocation"
    description = (
        "SPOT with AllocationStrategy BEST_FIT (the default when none is set) takes the "
        "legacy Spot Fleet path: it picks the single cheapest-fitting type, diversifies "
        "least, is interrupted most, and its infrastructure cannot be updated in place. "
        "Use SPOT_PRICE_CAPACITY_OPTIMIZED (AWS's recommendation for Spot). Without a "
        "SpotIamFleetRole E9504 reports the environment instead."
    )
    source_url = sup.ALLOCATION
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if ctype != "SPOT" or not sup.present(m, cr.get("SpotIamFleetRole")):
                continue
            strategy = m.text(cr.get("AllocationStrategy", "BEST_FIT"))
            if strategy != "BEST_FIT":
                continue
            where = ("AllocationStrategy",) if "AllocationStrategy" in cr else ()
            shown = "AllocationStrategy BEST_FIT" if where else "No AllocationStrategy (BEST_FIT)"
            out.add(
                mdl.res_path(ce.logical_id, "ComputeResources", *where),
                f"{shown} on SPOT: legacy Spot Fleet, least diversified, no in-place "
                "updates; use SPOT_PRICE_CAPACITY_OPTIMIZED",
                ce,
            )
