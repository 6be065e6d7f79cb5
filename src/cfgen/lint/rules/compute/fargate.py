# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9506: compute rules (fargate)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import compute as sup


class FargateForbiddenProperties(base.BatchRule):
    id = "E9506"
    shortdesc = "Property not allowed on a Fargate compute environment"
    description = "FARGATE and FARGATE_SPOT compute resources must not set " + ", ".join(
        sup.FARGATE_FORBIDDEN
    )
    source_url = sup.FARGATE
    tags: ClassVar[list[str]] = ["resources", "batch", "fargate"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if ctype not in mdl.FARGATE_TYPES:
                continue
            for prop in sup.FARGATE_FORBIDDEN:
                if prop in cr:
                    out.add(
                        mdl.res_path(ce.logical_id, "ComputeResources", prop),
                        f"{prop} is not allowed with Type {ctype}",
                    )
