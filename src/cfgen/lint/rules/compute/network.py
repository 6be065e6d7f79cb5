# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9507: compute rules (network)."""

from __future__ import annotations

from typing import Any, ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import compute as sup


class SecurityGroupRequired(base.BatchRule):
    id = "E9507"
    shortdesc = "Compute environment without a security group"
    description = (
        "EC2/SPOT compute environments need a security group in SecurityGroupIds or in "
        "their launch template; FARGATE/FARGATE_SPOT need SecurityGroupIds. A conditional "
        "list that can resolve empty is reported with the conditions that empty it."
    )
    source_url = sup.API_CR
    tags: ClassVar[list[str]] = ["resources", "batch", "network"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if not isinstance(ctype, str):
                continue
            sgs = m.resolve_list(cr.get("SecurityGroupIds", []))
            if mdl.is_unknown(sgs) or any(x != "" for x in sgs):
                continue
            if ctype in mdl.EC2_TYPES and self._from_launch_template(m, ce, cr):
                continue
            raw = m.resources[ce.logical_id].get("Properties", {}).get("ComputeResources", {})
            conditional = isinstance(raw, dict) and "SecurityGroupIds" in raw
            where = ("SecurityGroupIds",) if conditional else ()
            out.add(
                mdl.res_path(ce.logical_id, "ComputeResources", *where),
                f"Type {ctype} compute environment has no security group"
                + (sup.when(ce.scenario) if conditional else ""),
            )

    @staticmethod
    def _from_launch_template(m: mdl.Model, ce: mdl.Variant, cr: dict[str, Any]) -> bool:
        lt = cr.get("LaunchTemplate")
        if not isinstance(lt, dict):
            return False
        ref = lt.get("LaunchTemplateId", lt.get("LaunchTemplateName"))
        variants = m.linked_variants(ref, ce.scenario)
        if m.target(ref) is None:
            return True  # a launch template outside this template: cannot decide
        for v in variants:
            data = v.props.get("LaunchTemplateData", {})
            if not isinstance(data, dict):
                return True
            groups = list(mdl.as_list(data.get("SecurityGroupIds")))
            groups += mdl.as_list(data.get("SecurityGroups"))
            for nic in mdl.as_list(data.get("NetworkInterfaces")):
                if isinstance(nic, dict):
                    groups += mdl.as_list(nic.get("Groups"))
            if not groups:
                return False
        return bool(variants)
