# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9510, E9511: compute rules (images)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import compute as sup


class EndOfSupportImage(base.BatchRule):
    id = "E9510"
    shortdesc = "Amazon Linux 2 / Amazon Linux ECS AMI"
    description = (
        "ImageType ECS_AL2, ECS_AL2_NVIDIA and ECS_AL1 select ECS AMIs past end of "
        "support; use ECS_AL2023 (ECS_AL2023_NVIDIA for GPU). A parameter is reported "
        "when its Default or any AllowedValues entry is one of them."
    )
    source_url = sup.EC2_CONF
    tags: ClassVar[list[str]] = ["resources", "batch", "ami"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, _ in sup.managed(m):
            for i, values in sup.image_types(m, cr):
                for v in values:
                    if v.upper() in sup.EOL_IMAGES:
                        out.add(
                            mdl.res_path(
                                ce.logical_id,
                                "ComputeResources",
                                "Ec2Configuration",
                                i,
                                "ImageType",
                            ),
                            f"ImageType {v} is past end of support; use ECS_AL2023",
                        )


class Al2023WithA1(base.BatchRule):
    id = "E9511"
    shortdesc = "Amazon Linux 2023 ECS AMI with A1 instances"
    description = "The Amazon Linux 2023 ECS AMIs do not support A1 instance types."
    source_url = sup.EC2_CONF
    tags: ClassVar[list[str]] = ["resources", "batch", "ami", "arm64"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, _ in sup.managed(m):
            types = m.resolve_list(cr.get("InstanceTypes", []))
            if mdl.is_unknown(types):
                continue
            a1 = sorted({t for t in types if isinstance(t, str) and mdl.is_a1(t)})
            if not a1:
                continue
            for i, values in sup.image_types(m, cr):
                if any(v.upper() in sup.AL2023 for v in values):
                    out.add(
                        mdl.res_path(
                            ce.logical_id, "ComputeResources", "Ec2Configuration", i, "ImageType"
                        ),
                        f"ImageType ECS_AL2023 does not support A1 instances ({', '.join(a1)})",
                    )


class ImageNeverUpdates(base.BatchRule):
    id = "W9516"
    shortdesc = "EC2/SPOT compute environment without UpdateToLatestImageVersion: true"
    description = (
        "Batch does not upgrade the AMI of a compute environment after creating it; only "
        "with UpdateToLatestImageVersion: true (default false) does an infrastructure "
        "update move it to the latest Batch-supported ECS AMI. Without it the instances "
        "run the creation-day AMI, without OS and agent patches, for the life of the "
        "stack. Not reported when an AMI is pinned (ImageId, ImageIdOverride or a launch "
        "template ImageId), where the setting is ignored."
    )
    source_url = sup.AMIS
    tags: ClassVar[list[str]] = ["resources", "batch", "ami", "updates"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce, cr, ctype in sup.managed(m):
            if ctype not in mdl.EC2_TYPES or sup.pinned_ami(m, ce, cr):
                continue
            flag = m.resolve(cr.get("UpdateToLatestImageVersion", False))
            if mdl.is_unknown(flag) or flag is True or str(flag).lower() == "true":
                continue
            where = ("UpdateToLatestImageVersion",) if "UpdateToLatestImageVersion" in cr else ()
            out.add(
                mdl.res_path(ce.logical_id, "ComputeResources", *where),
                "UpdateToLatestImageVersion is not true: the AMI never updates after "
                "creation; set it to true",
                ce,
            )
