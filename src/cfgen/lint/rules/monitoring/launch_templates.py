# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""W9560, W9561: monitoring rules (launch templates)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import monitoring as sup


class LaunchTemplateImds(base.BatchRule):
    id = "W9560"
    shortdesc = "Compute environment launch template without IMDSv2"
    description = (
        "Launch templates used by a compute environment should set "
        "MetadataOptions.HttpTokens: required so containers cannot use IMDSv1."
    )
    source_url = sup.LAUNCH_TEMPLATES
    tags: ClassVar[list[str]] = ["resources", "batch", "security"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for lt, data, ce in sup.launch_template_data(m):
            opts = data.get("MetadataOptions")
            tokens = m.text(opts.get("HttpTokens")) if isinstance(opts, dict) else None
            if mdl.is_unknown(tokens) or tokens == "required":
                continue
            out.add(
                mdl.res_path(lt.logical_id, "LaunchTemplateData", "MetadataOptions", "HttpTokens"),
                f"Launch template used by {ce} does not require IMDSv2 (HttpTokens: required)",
            )


class LaunchTemplateEncryption(base.BatchRule):
    id = "W9561"
    shortdesc = "Compute environment launch template with unencrypted EBS"
    description = (
        "Block device mappings of a compute environment's launch template should set "
        "Ebs.Encrypted: true."
    )
    source_url = sup.LAUNCH_TEMPLATES
    tags: ClassVar[list[str]] = ["resources", "batch", "security"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for lt, data, ce in sup.launch_template_data(m):
            for i, bdm in enumerate(mdl.as_list(data.get("BlockDeviceMappings"))):
                ebs = bdm.get("Ebs") if isinstance(bdm, dict) else None
                if not isinstance(ebs, dict):
                    continue
                enc = m.resolve(ebs.get("Encrypted", False))
                if mdl.is_unknown(enc) or enc is True or str(enc).lower() == "true":
                    continue
                out.add(
                    mdl.res_path(
                        lt.logical_id, "LaunchTemplateData", "BlockDeviceMappings", i, "Ebs"
                    ),
                    f"EBS volume of the launch template used by {ce} is not encrypted",
                )
