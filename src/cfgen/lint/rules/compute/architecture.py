# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9512: compute rules (architecture)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import compute as sup


class MixedArchitectureInCe(base.BatchRule):
    id = "E9512"
    shortdesc = "arm64 and x86_64 instance types in one compute environment"
    description = (
        "A compute environment runs one container image architecture; mixing Graviton "
        "(arm64) and x86_64 instance types makes jobs fail on whichever host does not "
        "match the image. Architecture is derived from cfn-lint's EC2 instance-type data."
    )
    source_url = sup.CE_PARAMS
    tags: ClassVar[list[str]] = ["resources", "batch", "arm64"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, _ in sup.managed(m):
            archs = mdl.ce_architectures(m, cr)
            if len(archs) > 1:
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "InstanceTypes"),
                    "InstanceTypes mix arm64 ("
                    + ", ".join(archs["arm64"])
                    + ") and x86_64 ("
                    + ", ".join(archs["x86_64"])
                    + ")",
                )
