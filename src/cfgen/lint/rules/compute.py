# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""Rules for ``AWS::Batch::ComputeEnvironment`` (E9001-E9012, W9003/W9005/W9009)."""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfgen.lint import _model as mdl

_API_CR = "https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html"
_ALLOCATION = "https://docs.aws.amazon.com/batch/latest/userguide/allocation-strategies.html"
_FLEET_ROLE = "https://docs.aws.amazon.com/batch/latest/userguide/spot_fleet_IAM_role.html"
_FARGATE = "https://docs.aws.amazon.com/batch/latest/userguide/fargate.html"
_EC2_CONF = "https://docs.aws.amazon.com/batch/latest/APIReference/API_Ec2Configuration.html"
_CE_PARAMS = (
    "https://docs.aws.amazon.com/batch/latest/userguide/compute_environment_parameters.html"
)


def _managed(m: mdl.Model) -> list[tuple[mdl.Variant, dict[str, Any], Any]]:
    """(variant, ComputeResources, type) for every managed CE variant."""
    out = []
    for ce in m.all_variants(mdl.BATCH_CE):
        cr = ce.props.get("ComputeResources")
        if isinstance(cr, dict):
            out.append((ce, cr, m.ce_type(ce)))
    return out


def _present(m: mdl.Model, value: Any) -> bool:
    """Set, and not a parameter whose default is the empty string."""
    return value is not None and m.resolve(value) != ""


class SpotStrategyNeedsSpot(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Spot allocation strategy on a non-Spot compute environment"
    description = (
        "SPOT_CAPACITY_OPTIMIZED and SPOT_PRICE_CAPACITY_OPTIMIZED are valid only "
        "when ComputeResources.Type is SPOT; creation fails otherwise."
    )
    source_url = _ALLOCATION
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, ctype in _managed(m):
            strategy = m.text(cr.get("AllocationStrategy"))
            if strategy in mdl.SPOT_STRATEGIES and isinstance(ctype, str) and ctype != "SPOT":
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "AllocationStrategy"),
                    f"AllocationStrategy {strategy} requires ComputeResources.Type SPOT, "
                    f"not {ctype}",
                )
        return out.matches()


class BidPercentageOnlySpot(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "BidPercentage only with SPOT, between 1 and 100"
    description = "BidPercentage applies to SPOT compute resources only and must be 1-100."
    source_url = _API_CR
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, ctype in _managed(m):
            if "BidPercentage" not in cr:
                continue
            path = mdl.res_path(ce.logical_id, "ComputeResources", "BidPercentage")
            if isinstance(ctype, str) and ctype != "SPOT":
                out.add(path, f"BidPercentage is only valid with Type SPOT, not {ctype}")
            value = m.number(cr["BidPercentage"])
            if not mdl.is_unknown(value) and not 1 <= value <= 100:
                out.add(path, f"BidPercentage {value:g} is outside 1-100")
        return out.matches()


class BidPercentageCap(CloudFormationLintRule):
    id = "W9003"
    shortdesc = "Explicit BidPercentage caps the Spot price"
    description = (
        "AWS recommends leaving BidPercentage empty (pay at most the On-Demand price); "
        "a cap lowers the chance of getting capacity and raises interruptions. Any "
        "literal value is reported; a parameter is reported when its Default is below 100."
    )
    source_url = _ALLOCATION
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "cost"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, _ in _managed(m):
            if "BidPercentage" not in cr:
                continue
            raw = cr["BidPercentage"]
            value = m.number(raw)
            if m.is_param_ref(raw):
                if mdl.is_unknown(value) or value >= 100:
                    continue
            elif isinstance(raw, dict):
                continue
            shown = "?" if mdl.is_unknown(value) else f"{value:g}"
            out.add(
                mdl.res_path(ce.logical_id, "ComputeResources", "BidPercentage"),
                f"BidPercentage is set ({shown}); leave it unset so Spot may bid up to "
                "the On-Demand price",
            )
        return out.matches()


class SpotFleetRoleNeeded(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "SPOT with BEST_FIT needs SpotIamFleetRole"
    description = (
        "A SPOT compute environment with AllocationStrategy BEST_FIT (or none, which "
        "means BEST_FIT) needs SpotIamFleetRole."
    )
    source_url = _FLEET_ROLE
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "iam"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, ctype in _managed(m):
            if ctype != "SPOT":
                continue
            strategy = m.text(cr.get("AllocationStrategy", "BEST_FIT"))
            if strategy == "BEST_FIT" and not _present(m, cr.get("SpotIamFleetRole")):
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources"),
                    "SPOT with BEST_FIT allocation needs SpotIamFleetRole "
                    "(or use SPOT_PRICE_CAPACITY_OPTIMIZED)",
                )
        return out.matches()


class SpotFleetRoleUnneeded(CloudFormationLintRule):
    id = "W9005"
    shortdesc = "SpotIamFleetRole is not needed here"
    description = (
        "Only SPOT compute environments with BEST_FIT allocation use a Spot fleet role; "
        "elsewhere it is an unneeded IAM role (and a create-only property)."
    )
    source_url = _FLEET_ROLE
    tags: ClassVar[list[str]] = ["resources", "batch", "spot", "iam"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, ctype in _managed(m):
            if not _present(m, cr.get("SpotIamFleetRole")) or not isinstance(ctype, str):
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
        return out.matches()


_FARGATE_FORBIDDEN = (
    "AllocationStrategy",
    "BidPercentage",
    "InstanceTypes",
    "MinvCpus",
    "DesiredvCpus",
    "ImageId",
    "InstanceRole",
    "Ec2KeyPair",
    "Ec2Configuration",
    "LaunchTemplate",
    "PlacementGroup",
)


class FargateForbiddenProperties(CloudFormationLintRule):
    id = "E9006"
    shortdesc = "Property not allowed on a Fargate compute environment"
    description = "FARGATE and FARGATE_SPOT compute resources must not set " + ", ".join(
        _FARGATE_FORBIDDEN
    )
    source_url = _FARGATE
    tags: ClassVar[list[str]] = ["resources", "batch", "fargate"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, ctype in _managed(m):
            if ctype not in mdl.FARGATE_TYPES:
                continue
            for prop in _FARGATE_FORBIDDEN:
                if prop in cr:
                    out.add(
                        mdl.res_path(ce.logical_id, "ComputeResources", prop),
                        f"{prop} is not allowed with Type {ctype}",
                    )
        return out.matches()


def _when(scenario: mdl.Scenario) -> str:
    if not scenario:
        return ""
    conds = ", ".join(f"{k}={'true' if v else 'false'}" for k, v in sorted(scenario.items()))
    return f" when {conds}"


class SecurityGroupRequired(CloudFormationLintRule):
    id = "E9007"
    shortdesc = "Compute environment without a security group"
    description = (
        "EC2/SPOT compute environments need a security group in SecurityGroupIds or in "
        "their launch template; FARGATE/FARGATE_SPOT need SecurityGroupIds. A conditional "
        "list that can resolve empty is reported with the conditions that empty it."
    )
    source_url = _API_CR
    tags: ClassVar[list[str]] = ["resources", "batch", "network"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, ctype in _managed(m):
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
                + (_when(ce.scenario) if conditional else ""),
            )
        return out.matches()

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


class VcpuOrdering(CloudFormationLintRule):
    id = "E9008"
    shortdesc = "MinvCpus <= DesiredvCpus <= MaxvCpus"
    description = (
        "MinvCpus must not exceed DesiredvCpus, and DesiredvCpus must not exceed MaxvCpus."
    )
    source_url = _API_CR
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, _ in _managed(m):
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
        return out.matches()


class DesiredvCpusSet(CloudFormationLintRule):
    id = "W9009"
    shortdesc = "DesiredvCpus set in the template"
    description = (
        "Batch manages DesiredvCpus itself; a template value fights the scaler and an "
        "update that lowers it below the current value fails."
    )
    source_url = _API_CR
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, _ in _managed(m):
            if "DesiredvCpus" in cr:
                out.add(
                    mdl.res_path(ce.logical_id, "ComputeResources", "DesiredvCpus"),
                    "DesiredvCpus is set; let Batch scale between MinvCpus and MaxvCpus",
                )
        return out.matches()


_EOL_IMAGES = frozenset({"ECS_AL2", "ECS_AL2_NVIDIA", "ECS_AL1"})
_AL2023 = frozenset({"ECS_AL2023", "ECS_AL2023_NVIDIA"})


def _image_types(m: mdl.Model, cr: dict[str, Any]) -> list[tuple[int, list[str]]]:
    """(index, possible ImageType values: literal, or a parameter's Default + AllowedValues)."""
    out = []
    for i, conf in enumerate(mdl.as_list(cr.get("Ec2Configuration"))):
        if not isinstance(conf, dict) or "ImageType" not in conf:
            continue
        raw = conf["ImageType"]
        values: list[str] = []
        if m.is_param_ref(raw):
            param = m.parameters[raw["Ref"]]
            values = [
                str(v) for v in [param.get("Default"), *mdl.as_list(param.get("AllowedValues"))]
            ]
            values = [v for v in values if v != "None"]
        else:
            v = m.text(raw)
            values = [] if mdl.is_unknown(v) else [v]
        out.append((i, values))
    return out


class EndOfSupportImage(CloudFormationLintRule):
    id = "E9010"
    shortdesc = "Amazon Linux 2 / Amazon Linux ECS AMI"
    description = (
        "ImageType ECS_AL2, ECS_AL2_NVIDIA and ECS_AL1 select ECS AMIs past end of "
        "support; use ECS_AL2023 (ECS_AL2023_NVIDIA for GPU). A parameter is reported "
        "when its Default or any AllowedValues entry is one of them."
    )
    source_url = _EC2_CONF
    tags: ClassVar[list[str]] = ["resources", "batch", "ami"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, _ in _managed(m):
            for i, values in _image_types(m, cr):
                for v in values:
                    if v.upper() in _EOL_IMAGES:
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
        return out.matches()


class Al2023WithA1(CloudFormationLintRule):
    id = "E9011"
    shortdesc = "Amazon Linux 2023 ECS AMI with A1 instances"
    description = "The Amazon Linux 2023 ECS AMIs do not support A1 instance types."
    source_url = _EC2_CONF
    tags: ClassVar[list[str]] = ["resources", "batch", "ami", "arm64"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, _ in _managed(m):
            types = m.resolve_list(cr.get("InstanceTypes", []))
            if mdl.is_unknown(types):
                continue
            a1 = sorted({t for t in types if isinstance(t, str) and mdl.is_a1(t)})
            if not a1:
                continue
            for i, values in _image_types(m, cr):
                if any(v.upper() in _AL2023 for v in values):
                    out.add(
                        mdl.res_path(
                            ce.logical_id, "ComputeResources", "Ec2Configuration", i, "ImageType"
                        ),
                        f"ImageType ECS_AL2023 does not support A1 instances ({', '.join(a1)})",
                    )
        return out.matches()


class MixedArchitectureInCe(CloudFormationLintRule):
    id = "E9012"
    shortdesc = "arm64 and x86_64 instance types in one compute environment"
    description = (
        "A compute environment runs one container image architecture; mixing Graviton "
        "(arm64) and x86_64 instance types makes jobs fail on whichever host does not "
        "match the image. Architecture is derived from cfn-lint's EC2 instance-type data."
    )
    source_url = _CE_PARAMS
    tags: ClassVar[list[str]] = ["resources", "batch", "arm64"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for ce, cr, _ in _managed(m):
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
        return out.matches()
