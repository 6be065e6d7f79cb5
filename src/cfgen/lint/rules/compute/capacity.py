# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9508, W9509: compute rules (capacity)."""

from __future__ import annotations

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import compute as sup


class VcpuOrdering(base.BatchRule):
    id = "E9508"
    shortdesc = "MinvCpus <= DesiredvCpus <= MaxvCpus"
    description = (
        "MinvCpus must not exceed DesiredvCpus, and DesiredvCpus must not exceed MaxvCpus."
    )
    source_url = sup.API_CR

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, _ in sup.managed(m):
            lo = m.number(cr.get("MinvCpus", 0))
            mid = m.number(cr["DesiredvCpus"]) if "DesiredvCpus" in cr else mdl.UNKNOWN
            hi = m.number(cr.get("MaxvCpus")) if "MaxvCpus" in cr else mdl.UNKNOWN
            path = mdl.res_path(ce.logical_id, "ComputeResources")
            if not mdl.is_unknown(mid):
                if not mdl.is_unknown(lo) and lo > mid:
                    out.add(path, f"MinvCpus {lo:g} is greater than DesiredvCpus {mid:g}")
                if not mdl.is_unknown(hi) and mid > hi:
                    out.add(path, f"DesiredvCpus {mid:g} is greater than MaxvCpus {hi:g}")
            if not mdl.is_unknown(lo) and not mdl.is_unknown(hi) and lo > hi:
                out.add(path, f"MinvCpus {lo:g} is greater than MaxvCpus {hi:g}")


class DesiredvCpusSet(base.BatchRule):
    id = "W9509"
    shortdesc = "DesiredvCpus set in the template"
    description = (
        "Batch manages DesiredvCpus itself; a template value fights the scaler and an "
        "update that lowers it below the current value fails."
    )
    source_url = sup.API_CR

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, _ in sup.managed(m):
            if "DesiredvCpus" in cr:
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "DesiredvCpus"),
                    "DesiredvCpus is set; let Batch scale between MinvCpus and MaxvCpus",
                )
