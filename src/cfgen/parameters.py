"""Deploy-time inputs: one declarative table of parameters, and what follows from it.

:data:`SPECS` lists every parameter once: name, console label and group, the
profile field it defaults from (whose ``config.RANGES`` bounds become its
MinValue/MaxValue and the range in its description), its constraints, and
whether a profile renders it. From the table come the Parameters, the
``AWS::CloudFormation::Interface`` groups and labels, the ``Params`` refs later
modules use, and the README's parameter table (cfgen.docs). Conditions and
Rules that only compare parameters live here too.

Which parameters exist depends on the profile's structure (no On-Demand
parameter without a fallback compute environment, no EC2 parameters on Fargate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

from troposphere import Equals, Join, Not, Parameter, Ref, Template

from cfgen import naming
from cfgen.config import (
    FARGATE_MEMORY,
    LOG_RETENTION_DAYS,
    RANGES,
    NetworkMode,
    Platform,
    Profile,
)
from cfgen.ec2 import INSTANCE_TYPE_PATTERN

#: Longest wait Batch allows an infrastructure update for running jobs (minutes).
#: https://docs.aws.amazon.com/batch/latest/APIReference/API_UpdatePolicy.html
MAX_UPDATE_TIMEOUT_MINUTES = 360

Text = str | Callable[[Profile], str]


def _ec2(cfg: Profile) -> bool:
    return cfg.compute.platform is Platform.EC2


def _fargate(cfg: Profile) -> bool:
    return cfg.compute.platform is Platform.FARGATE


def _public_fargate(cfg: Profile) -> bool:
    """Fargate jobs get a public IP only in public subnets (network_mode public)."""
    return _fargate(cfg) and cfg.compute.network_mode is NetworkMode.PUBLIC


def _endpoints(cfg: Profile) -> bool:
    return cfg.compute.network_mode is NetworkMode.ENDPOINTS


def _always(cfg: Profile) -> bool:
    return True


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def update_timeout_minutes(cfg: Profile) -> int:
    """The attempt timeout in whole minutes, within what Batch allows."""
    return min(MAX_UPDATE_TIMEOUT_MINUTES, math.ceil(cfg.job.timeout_seconds / 60))


@dataclass(frozen=True)
class Spec:
    """One CloudFormation parameter."""

    name: str
    #: Attribute of :class:`Params` that holds its Ref.
    attr: str
    group: str
    label: Text
    type: str
    #: ``{lo}``/``{hi}`` are replaced by the bounds of ``field``.
    description: Text
    #: Profile field (``section.key``) the default comes from; for numbers also
    #: the bounds (config.RANGES).
    field: str | None = None
    #: Default when it is not the profile field's value; None = no default (required).
    default: Callable[[Profile], str] | None = None
    when: Callable[[Profile], bool] = _always
    constraints: Mapping[str, Any] = _field(default_factory=dict)
    #: Number bounds when the profile field's RANGES do not apply.
    bounds: Callable[[Profile], tuple[int, int]] | None = None


def _text(value: Text, cfg: Profile) -> str:
    return value if isinstance(value, str) else value(cfg)


def _field_value(cfg: Profile, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(cfg, section), key)


def _fallback_name(cfg: Profile) -> str:
    return "On-Demand" if _ec2(cfg) else "Fargate (on-demand)"


# --------------------------------------------------------------------------- the table

SPECS: tuple[Spec, ...] = (
    # -- Network
    Spec(
        "VpcId",
        "vpc_id",
        "Network",
        "VPC",
        "AWS::EC2::VPC::Id",
        "VPC for the compute environments and their security group.",
    ),
    Spec(
        "SubnetIds",
        "subnet_ids",
        "Network",
        "Subnets",
        "List<AWS::EC2::Subnet::Id>",
        "Subnets of VpcId, ideally one per Availability Zone (more Spot pools). They need"
        " a route to the internet (NAT or public IP) or VPC endpoints for ECR, ECS, S3, Logs.",
    ),
    Spec(
        "RouteTableIds",
        "route_table_ids",
        "Network",
        "Route tables",
        "CommaDelimitedList",
        "Route tables of SubnetIds, for the S3 gateway endpoint.",
        when=_endpoints,
        constraints={
            "AllowedPattern": r"^rtb-[0-9a-f]{8,17}$",
            "ConstraintDescription": "must be rtb-... IDs",
        },
    ),
    # -- Compute
    Spec(
        "MaxvCpus",
        "max_vcpus",
        "Compute",
        lambda cfg: "Spot max vCPUs" if _ec2(cfg) else "Fargate Spot max vCPUs",
        "Number",
        "Most vCPUs the Spot compute environment scales to ({lo}-{hi}); it scales to 0 when idle.",
        field="compute.max_vcpus",
    ),
    Spec(
        "OnDemandMaxvCpus",
        "on_demand_max_vcpus",
        "Compute",
        lambda cfg: f"{_fallback_name(cfg)} fallback max vCPUs",
        "Number",
        lambda cfg: (
            f"Most vCPUs of the {_fallback_name(cfg)} fallback compute environment (order 2"
            " in the queue), used only when Spot has no capacity or is at MaxvCpus."
            " 0 = no fallback."
        ),
        field="compute.on_demand_max_vcpus",
        when=lambda cfg: cfg.compute.on_demand_fallback,
    ),
    Spec(
        "AssignPublicIp",
        "assign_public_ip",
        "Compute",
        "Public IP for jobs",
        "String",
        "ENABLED in public subnets without a NAT gateway (jobs must reach ECR and S3);"
        " DISABLED in private subnets. Inbound traffic stays closed either way.",
        default=lambda cfg: "ENABLED" if cfg.compute.assign_public_ip else "DISABLED",
        when=_public_fargate,
        constraints={"AllowedValues": ["ENABLED", "DISABLED"]},
    ),
    Spec(
        "InstanceTypes",
        "instance_types",
        "Compute",
        "Spot instance types",
        "CommaDelimitedList",
        lambda cfg: (
            f"Comma-separated {cfg.compute.architecture.value} instance types or families."
            " List many across families and sizes: more Spot pools, fewer interruptions."
            " Never mix arm64 and x86_64."
        ),
        default=lambda cfg: ",".join(cfg.compute.instance_types),
        when=_ec2,
        constraints={
            "AllowedPattern": INSTANCE_TYPE_PATTERN,
            "ConstraintDescription": (
                "each entry must be an instance type (c6i.large) or family (c6i), lower case"
            ),
        },
    ),
    Spec(
        "BidPercentage",
        "bid_percentage",
        "Compute",
        "Spot bid cap (%)",
        "Number",
        "Most you pay for Spot, in percent of On-Demand ({lo}-{hi}). 100 leaves it unset,"
        " as AWS recommends: a lower cap only adds interruptions.",
        field="compute.bid_percentage",
        when=_ec2,
    ),
    Spec(
        "RootVolumeGiB",
        "root_volume",
        "Compute",
        "Root volume (GiB)",
        "Number",
        "Size of each instance's encrypted gp3 root volume, GiB ({lo}-{hi}).",
        field="compute.root_volume_gib",
        when=_ec2,
        constraints={
            "ConstraintDescription": "must be a whole number from 30 (the AMI's size) to 16384"
        },
    ),
    Spec(
        "UpdateTimeoutMinutes",
        "update_timeout",
        "Compute",
        "Update waits for jobs (min)",
        "Number",
        "Minutes an infrastructure update (new AMI, instance types) lets running jobs finish"
        " before it replaces their instances ({lo}-{hi}); then they are stopped and retried.",
        default=lambda cfg: str(update_timeout_minutes(cfg)),
        bounds=lambda cfg: (1, MAX_UPDATE_TIMEOUT_MINUTES),
    ),
    Spec(
        "ServiceRoleArn",
        "service_role",
        "Compute",
        "Batch service role (optional)",
        "String",
        "Leave empty to use the AWS Batch service-linked role (required for in-place"
        " infrastructure updates of compute environments). Set only if your account"
        " policy demands a custom service role.",
        default=lambda cfg: "",
        constraints={
            "AllowedPattern": r"^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$",
            "ConstraintDescription": "must be empty or an IAM role ARN",
        },
    ),
    # -- Job
    Spec(
        "ContainerImage",
        "container_image",
        "Job",
        "Container image (optional)",
        "String",
        "Full image URI for the job. Empty = this stack's ECR repository with ImageTag."
        " Another private ECR repository needs its ARN in PullRepositoryArns.",
        default=lambda cfg: "",
        constraints={
            "MaxLength": "1024",
            "AllowedPattern": r"^$|^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$",
            "ConstraintDescription": "must be empty or an image reference such as repo/name:tag",
        },
    ),
    Spec(
        "ImageTag",
        "image_tag",
        "Job",
        "Image tag",
        "String",
        "Tag in this stack's ECR repository (tags are immutable: push a new tag, e.g. the"
        " git SHA, and update this; scripts/push-image.sh does both).",
        default=lambda cfg: "initial",
        constraints={
            "AllowedPattern": r"^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$",
            "ConstraintDescription": "must be a Docker tag: letters, digits, _ . - (at most 128)",
        },
    ),
    Spec(
        "RepositoryName",
        "repository_name",
        "Job",
        "ECR repository name (optional)",
        "String",
        "Name of this stack's ECR repository. Empty = a name CloudFormation generates"
        " (two stacks never collide); set one for CI pipelines that push by name.",
        default=lambda cfg: "",
        constraints={
            "MaxLength": "256",
            "AllowedPattern": (
                r"^$|^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"
            ),
            "ConstraintDescription": "must be empty or a lower-case ECR repository name",
        },
    ),
    Spec(
        "PullRepositoryArns",
        "pull_repository_arns",
        "Job",
        "Other ECR repositories (optional)",
        "CommaDelimitedList",
        "ARNs of other private ECR repositories ContainerImage may point to (comma-separated)."
        " Empty = only this stack's repository.",
        default=lambda cfg: "",
        constraints={
            "AllowedPattern": r"^$|^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$",
            "ConstraintDescription": "each entry must be an ECR repository ARN",
        },
    ),
    Spec(
        "JobVcpus",
        "job_vcpus",
        "Job",
        "vCPUs per job",
        "Number",
        lambda cfg: (
            "vCPUs reserved for each job."
            + ("" if _ec2(cfg) else " Fargate sizes: 0.25, 0.5, 1, 2, 4, 8 or 16.")
        ),
        default=lambda cfg: _num(cfg.job.vcpus),
    ),
    Spec(
        "JobMemoryMiB",
        "job_memory",
        "Job",
        "Memory per job (MiB)",
        "Number",
        "Memory reserved for each job, MiB. The OS and ECS agent keep part of each"
        " instance's memory: a job asking for exactly 4096 MiB does not fit a 4 GiB instance.",
        field="job.memory_mib",
        bounds=lambda cfg: (
            RANGES["job.memory_mib"][0],
            RANGES["job.memory_mib"][1] if _ec2(cfg) else FARGATE_MEMORY[16][-1],
        ),
    ),
    Spec(
        "JobAttempts",
        "job_attempts",
        "Job",
        "Attempts per job",
        "Number",
        lambda cfg: (
            "Attempts per job ({lo}-{hi}). Spot reclaims ("
            + ("Host EC2*" if _ec2(cfg) else "Your Spot Task was interrupted*")
            + "), start failures (Task failed to start*) and exit codes 75 and 143 are"
            " retried; any other failure ends the job at once."
        ),
        field="job.attempts",
    ),
    Spec(
        "JobTimeoutSeconds",
        "job_timeout",
        "Job",
        "Attempt timeout (s)",
        "Number",
        "Wall-clock limit of one attempt, seconds ({lo}-{hi}).",
        field="job.timeout_seconds",
    ),
    Spec(
        "RunnableTimeoutSeconds",
        "runnable_timeout",
        "Job",
        "Cancel if stuck RUNNABLE (s)",
        "Number",
        "Cancel a job that waited this long in RUNNABLE because no compute environment"
        " could get capacity ({lo}-{hi}), so it does not block the queue forever.",
        field="job.runnable_timeout_seconds",
    ),
    # -- Operations
    Spec(
        "LogRetentionDays",
        "log_retention",
        "Operations",
        "Log retention (days)",
        "Number",
        "How long CloudWatch Logs keeps job output, days.",
        field="storage.log_retention_days",
        constraints={"AllowedValues": [str(d) for d in LOG_RETENTION_DAYS]},
    ),
    Spec(
        "AlertEmail",
        "alert_email",
        "Operations",
        "Alert e-mail (optional)",
        "String",
        "E-mail address told about failed jobs (confirm the subscription mail). Empty = none.",
        default=lambda cfg: "",
        constraints={
            "MaxLength": "254",
            "AllowedPattern": r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            "ConstraintDescription": "must be empty or an e-mail address",
        },
    ),
    Spec(
        "RetryAlarmPercent",
        "retry_alarm_percent",
        "Operations",
        "Retry alarm threshold (%)",
        "Number",
        "Alert when, within an hour, this percentage or more of the queue's job"
        " attempts were retried (at least 10 attempts): Spot reclaims eating the work.",
        field="monitoring.retry_alarm_percent",
        when=lambda cfg: cfg.monitoring.retry_alarm,
    ),
)

#: Parameter groups in console order.
GROUPS = ("Network", "Compute", "Job", "Operations")


@dataclass(frozen=True)
class Params:
    """Refs to the parameters later modules use (None where not rendered)."""

    vpc_id: Ref
    subnet_ids: Ref
    max_vcpus: Ref
    container_image: Ref
    image_tag: Ref
    repository_name: Ref
    pull_repository_arns: Ref
    job_vcpus: Ref
    job_memory: Ref
    job_attempts: Ref
    job_timeout: Ref
    runnable_timeout: Ref
    update_timeout: Ref
    log_retention: Ref
    alert_email: Ref
    service_role: Ref
    instance_types: Ref | None
    bid_percentage: Ref | None
    on_demand_max_vcpus: Ref | None
    root_volume: Ref | None
    assign_public_ip: Ref | None
    retry_alarm_percent: Ref | None
    route_table_ids: Ref | None


def rendered_specs(cfg: Profile) -> list[Spec]:
    """The specs a profile renders, in table order."""
    return [s for s in SPECS if s.when(cfg)]


def parameter(spec: Spec, cfg: Profile) -> Parameter:
    """The CloudFormation parameter of one spec for one profile."""
    kwargs: dict[str, Any] = {"Type": spec.type}
    if spec.default is not None:
        kwargs["Default"] = spec.default(cfg)
    elif spec.field is not None:
        kwargs["Default"] = _num(_field_value(cfg, spec.field))
    description = _text(spec.description, cfg)
    constraints = dict(spec.constraints)
    if spec.type == "Number" and "AllowedValues" not in constraints:
        lo, hi = _bounds(spec, cfg)
        if spec.name == "JobVcpus" and not _ec2(cfg):
            constraints["AllowedValues"] = [_num(v) for v in FARGATE_MEMORY]
        else:
            constraints = {
                "MinValue": str(lo),
                "MaxValue": str(hi),
                "ConstraintDescription": f"must be a whole number from {lo} to {hi}",
                **constraints,
            }
        description = description.format(lo=lo, hi=hi)
    return Parameter(spec.name, Description=description, **kwargs, **constraints)


def _bounds(spec: Spec, cfg: Profile) -> tuple[int, int]:
    if spec.bounds is not None:
        return spec.bounds(cfg)
    if spec.field is not None and spec.field in RANGES:
        return RANGES[spec.field]
    if spec.name == "JobVcpus":
        return (1, 192)
    raise KeyError(f"parameter {spec.name}: no bounds")  # pragma: no cover


def add_parameters(t: Template, cfg: Profile) -> Params:
    specs = rendered_specs(cfg)
    refs: dict[str, Any] = {s.attr: None for s in SPECS}
    for spec in specs:
        t.add_parameter(parameter(spec, cfg))
        refs[spec.attr] = Ref(spec.name)
    params = Params(**refs)

    _add_conditions(t, params)
    t.add_rule(
        naming.SUBNETS_IN_VPC_RULE,
        {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::EachMemberEquals": [
                            {"Fn::ValueOfAll": ["AWS::EC2::Subnet::Id", "VpcId"]},
                            {"Ref": "VpcId"},
                        ]
                    },
                    "AssertDescription": "Every subnet in SubnetIds must belong to VpcId.",
                }
            ]
        },
    )
    if _fargate(cfg):
        _add_fargate_size_rules(t, params.job_vcpus, params.job_memory)

    t.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {
                        "Label": {"default": group},
                        "Parameters": [s.name for s in specs if s.group == group],
                    }
                    for group in GROUPS
                ],
                "ParameterLabels": {s.name: {"default": _text(s.label, cfg)} for s in specs},
            }
        }
    )
    return params


def _add_conditions(t: Template, p: Params) -> None:
    if p.bid_percentage is not None:
        t.add_condition(naming.HAS_BID_CAP, Not(Equals(p.bid_percentage, "100")))
    if p.on_demand_max_vcpus is not None:
        t.add_condition(naming.HAS_ON_DEMAND_FALLBACK, Not(Equals(p.on_demand_max_vcpus, "0")))
    t.add_condition(naming.USE_STACK_REPOSITORY, Equals(p.container_image, ""))
    t.add_condition(naming.HAS_REPOSITORY_NAME, Not(Equals(p.repository_name, "")))
    t.add_condition(naming.HAS_PULL_REPOSITORIES, Not(Equals(Join("", p.pull_repository_arns), "")))
    t.add_condition(naming.HAS_ALERT_EMAIL, Not(Equals(p.alert_email, "")))
    t.add_condition(naming.HAS_SERVICE_ROLE, Not(Equals(p.service_role, "")))


def _add_fargate_size_rules(t: Template, vcpus: Ref, memory: Ref) -> None:
    """Fargate runs only certain vCPU/memory pairs: reject others at deploy time."""
    for cpu, sizes in FARGATE_MEMORY.items():
        name = "FargateSize" + _num(cpu).replace(".", "p") + "Vcpu"
        t.add_rule(
            name,
            {
                "RuleCondition": {"Fn::Equals": [vcpus.to_dict(), _num(cpu)]},
                "Assertions": [
                    {
                        "Assert": {"Fn::Contains": [[str(m) for m in sizes], memory.to_dict()]},
                        "AssertDescription": (
                            f"With {_num(cpu)} Fargate vCPUs, JobMemoryMiB must be one of"
                            f" {sizes[0]}..{sizes[-1]} in steps of {sizes[1] - sizes[0]}."
                        ),
                    }
                ],
            },
        )
