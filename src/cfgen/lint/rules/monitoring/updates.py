# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""W9580, W9581: monitoring rules (updates)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import monitoring as sup


class CustomNameWithReplacement(base.BatchRule):
    id = "W9580"
    shortdesc = "Custom Batch name with properties that force replacement"
    description = (
        "CloudFormation replaces a resource by creating the new one first; with a custom "
        "ComputeEnvironmentName/JobQueueName the new name collides and the update fails. "
        "Reported when a named resource sets create-only properties (from cfn-lint's "
        "resource schema) that an update could change; a Type or JobQueueType written "
        "as a literal is not counted (nothing changes it short of a redesign)."
    )
    source_url = sup.UPDATES
    tags: ClassVar[list[str]] = ["resources", "batch", "updates"]

    _NAMES = ((mdl.BATCH_CE, "ComputeEnvironmentName"), (mdl.BATCH_JQ, "JobQueueName"))

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for rtype, name_prop in self._NAMES:
            others = [p for p in sup.create_only(rtype) if p != (name_prop,)]
            for v in m.all_variants(rtype):
                if v.props.get(name_prop) in (None, "") or m.resolve(v.props[name_prop]) == "":
                    continue
                written = m.resources[v.logical_id].get("Properties", {})
                hit = [
                    ".".join(p)
                    for p in others
                    if sup.get(v.props, p) is not None
                    and not (p in sup.FIXED_KINDS and isinstance(sup.get(written, p), str))
                ]
                if hit:
                    out.add(
                        mdl.res_path(v.logical_id, name_prop),
                        f"Custom {name_prop} with replacement-forcing {', '.join(hit)}: "
                        "changing them fails the update",
                    )


class CustomServiceRole(base.BatchRule):
    id = "W9581"
    shortdesc = "Compute environment with a custom ServiceRole"
    description = (
        "Without ServiceRole Batch uses its service-linked role, which in-place "
        "infrastructure updates (instance types, subnets, launch template) require; "
        "a custom role turns those updates into replacements. Not reported on UNMANAGED "
        "environments or when ServiceRole is the AWSServiceRoleForBatch role itself."
    )
    source_url = sup.SLR
    tags: ClassVar[list[str]] = ["resources", "batch", "iam", "updates"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce in m.all_variants(mdl.BATCH_CE):
            raw = ce.props.get("ServiceRole")
            if raw is None or m.resolve(raw) == "":
                continue
            if str(m.text(ce.props.get("Type", ""))).upper() == "UNMANAGED":
                continue
            if sup.is_batch_slr(m, raw):
                continue
            out.add(
                mdl.res_path(ce.logical_id, "ServiceRole"),
                "Custom ServiceRole blocks in-place infrastructure updates; omit it to "
                "use the Batch service-linked role",
                ce,
            )
