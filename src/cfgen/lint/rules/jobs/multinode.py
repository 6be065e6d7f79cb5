# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9537: jobs rules (multinode)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import jobs as sup


class MultinodeOnSpotOnly(base.BatchRule):
    id = "E9537"
    shortdesc = "Multi-node job definition whose queues reach only Spot"
    description = (
        "Multi-node parallel jobs are not supported on Spot compute environments; the "
        "template's queues must reach an EC2 (On-Demand) compute environment."
    )
    source_url = sup.MNP
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        types = sup.queue_ce_types(m) - mdl.FARGATE_TYPES  # multi-node runs on EC2 only
        if types != {"SPOT"}:
            return
        for jd in m.all_variants(mdl.BATCH_JD):
            if sup.jd_type(m, jd) == "multinode":
                out.add(
                    mdl.res_path(jd.logical_id, "Type"),
                    "Multi-node job definition, but every job queue reaches only SPOT "
                    "(or Fargate) compute environments",
                )
