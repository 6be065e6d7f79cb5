"""Shared by the compute rules (src/cfgen/lint/rules/compute/)."""

from __future__ import annotations

from typing import Any

from cfgen.lint import model as mdl

API_CR = "https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html"
ALLOCATION = "https://docs.aws.amazon.com/batch/latest/userguide/allocation-strategies.html"
FLEET_ROLE = "https://docs.aws.amazon.com/batch/latest/userguide/spot_fleet_IAM_role.html"
FARGATE = "https://docs.aws.amazon.com/batch/latest/userguide/fargate.html"
EC2_CONF = "https://docs.aws.amazon.com/batch/latest/APIReference/API_Ec2Configuration.html"
CE_PARAMS = "https://docs.aws.amazon.com/batch/latest/userguide/compute_environment_parameters.html"


def managed(m: mdl.Model) -> list[tuple[mdl.Variant, dict[str, Any], Any]]:
    """(variant, ComputeResources, type) for every managed CE variant."""
    out = []
    for ce in m.all_variants(mdl.BATCH_CE):
        cr = ce.props.get("ComputeResources")
        if isinstance(cr, dict):
            out.append((ce, cr, m.ce_type(ce)))
    return out


def present(m: mdl.Model, value: Any) -> bool:
    """Set, and not a parameter whose default is the empty string."""
    return value is not None and m.resolve(value) != ""


FARGATE_FORBIDDEN = (
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


def when(scenario: mdl.Scenario) -> str:
    if not scenario:
        return ""
    conds = ", ".join(f"{k}={'true' if v else 'false'}" for k, v in sorted(scenario.items()))
    return f" when {conds}"


EOL_IMAGES = frozenset({"ECS_AL2", "ECS_AL2_NVIDIA", "ECS_AL1"})
AL2023 = frozenset({"ECS_AL2023", "ECS_AL2023_NVIDIA"})


def image_types(m: mdl.Model, cr: dict[str, Any]) -> list[tuple[int, list[str]]]:
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


def literal_type(m: mdl.Model, logical_id: str) -> bool:
    """ComputeResources.Type is written as a literal (not a parameter or Fn::If)."""
    props = m.resources.get(logical_id, {}).get("Properties")
    cr = props.get("ComputeResources") if isinstance(props, dict) else None
    return isinstance(cr, dict) and isinstance(cr.get("Type"), str)


AMIS = "https://docs.aws.amazon.com/batch/latest/userguide/compute_resource_AMIs.html"


def pinned_ami(m: mdl.Model, ce: mdl.Variant, cr: dict[str, Any]) -> bool:
    """An AMI is set (ImageId, ImageIdOverride, or a launch template's ImageId), or may be."""
    if cr.get("ImageId") is not None:
        return True
    for conf in mdl.as_list(cr.get("Ec2Configuration")):
        if isinstance(conf, dict) and conf.get("ImageIdOverride") is not None:
            return True
    lt = cr.get("LaunchTemplate")
    if not isinstance(lt, dict):
        return False
    ref = lt.get("LaunchTemplateId", lt.get("LaunchTemplateName"))
    if m.target(ref) is None:
        return True  # a launch template outside this template may set one
    for v in m.linked_variants(ref, ce.scenario):
        data = v.props.get("LaunchTemplateData")
        if not isinstance(data, dict) or data.get("ImageId") is not None:
            return True
    return False
