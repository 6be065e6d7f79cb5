"""Deploy-time inputs: Parameters, Conditions, Rules and the console interface.

Emits Parameters VpcId, SubnetIds, MaxvCpus, BidPercentage, InstanceTypes,
OnDemandMaxvCpus, ContainerImage, ImageTag, RepositoryName, JobVcpus, JobMemoryMiB,
JobAttempts, JobTimeoutSeconds, RunnableTimeoutSeconds, RootVolumeGiB,
LogRetentionDays, AlertEmail, ServiceRoleArn, MonthlyBudgetUsd, RetryAlarmPercent;
Conditions HasBidCap, HasOnDemandFallback, UseStackRepository, HasRepositoryName,
HasAlertEmail, HasServiceRole, HasBudget; Rule SubnetsInVpc; and
``AWS::CloudFormation::Interface`` metadata (ParameterGroups, ParameterLabels).

Which parameters exist depends on the profile's structure (no On-Demand
parameter without a fallback compute environment, no EC2 parameters on Fargate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import Equals, Not, Parameter, Ref, Template

from cfgen import naming
from cfgen.config import FARGATE_MEMORY, LOG_RETENTION_DAYS, RANGES, Platform, Profile
from cfgen.ec2 import INSTANCE_TYPE_PATTERN


@dataclass(frozen=True)
class Params:
    """Refs to the parameters later modules use (None where not rendered)."""

    vpc_id: Ref
    subnet_ids: Ref
    max_vcpus: Ref
    container_image: Ref
    image_tag: Ref
    repository_name: Ref
    job_vcpus: Ref
    job_memory: Ref
    job_attempts: Ref
    job_timeout: Ref
    runnable_timeout: Ref
    log_retention: Ref
    alert_email: Ref
    service_role: Ref
    instance_types: Ref | None
    bid_percentage: Ref | None
    on_demand_max_vcpus: Ref | None
    root_volume: Ref | None
    assign_public_ip: Ref | None
    monthly_budget: Ref | None
    retry_alarm_percent: Ref | None


def add_parameters(t: Template, cfg: Profile) -> Params:
    c, j, s = cfg.compute, cfg.job, cfg.storage
    ec2 = c.platform is Platform.EC2
    groups: list[tuple[str, list[str]]] = []
    labels: dict[str, str] = {}

    def param(name: str, label: str, **kwargs: Any) -> Ref:
        t.add_parameter(Parameter(name, **kwargs))
        labels[name] = label
        return Ref(name)

    def number(
        name: str,
        label: str,
        field: str,
        default: int,
        *,
        description: str,
        hi: int | None = None,
        constraint: str | None = None,
    ) -> Ref:
        """A whole-number parameter bounded like the profile field it defaults from."""
        lo, top = RANGES[field]
        top = top if hi is None else hi
        return param(
            name,
            label,
            Type="Number",
            Default=str(default),
            MinValue=str(lo),
            MaxValue=str(top),
            Description=description,
            ConstraintDescription=constraint or f"must be a whole number from {lo} to {top}",
        )

    # -- Network
    vpc_id = param(
        "VpcId",
        "VPC",
        Type="AWS::EC2::VPC::Id",
        Description="VPC for the compute environments and their security group.",
    )
    subnet_ids = param(
        "SubnetIds",
        "Subnets",
        Type="List<AWS::EC2::Subnet::Id>",
        Description=(
            "Subnets of VpcId, ideally one per Availability Zone (more Spot pools). They need"
            " a route to the internet (NAT or public IP) or VPC endpoints for ECR, ECS, S3, Logs."
        ),
    )
    groups.append(("Network", ["VpcId", "SubnetIds"]))

    # -- Compute
    compute_names = ["MaxvCpus"]
    max_vcpus = number(
        "MaxvCpus",
        "Spot max vCPUs" if ec2 else "Fargate Spot max vCPUs",
        "compute.max_vcpus",
        c.max_vcpus,
        description=(
            "Most vCPUs the Spot compute environment scales to (1-100000); it scales to 0"
            " when idle."
        ),
    )
    instance_types = bid = on_demand = root_volume = assign_public_ip = None
    if c.on_demand_fallback:
        fallback = "On-Demand" if ec2 else "Fargate (on-demand)"
        on_demand = number(
            "OnDemandMaxvCpus",
            f"{fallback} fallback max vCPUs",
            "compute.on_demand_max_vcpus",
            c.on_demand_max_vcpus,
            description=(
                f"Most vCPUs of the {fallback} fallback compute environment (order 2 in the"
                " queue), used only when Spot has no capacity or is at MaxvCpus."
                " 0 = no fallback."
            ),
        )
        compute_names.append("OnDemandMaxvCpus")
    if not ec2:
        assign_public_ip = param(
            "AssignPublicIp",
            "Public IP for jobs",
            Type="String",
            Default="ENABLED" if c.assign_public_ip else "DISABLED",
            AllowedValues=["ENABLED", "DISABLED"],
            Description=(
                "ENABLED in public subnets without a NAT gateway (jobs must reach ECR and S3);"
                " DISABLED in private subnets. Inbound traffic stays closed either way."
            ),
        )
        compute_names.append("AssignPublicIp")
    if ec2:
        instance_types = param(
            "InstanceTypes",
            "Spot instance types",
            Type="CommaDelimitedList",
            Default=",".join(c.instance_types),
            AllowedPattern=INSTANCE_TYPE_PATTERN,
            ConstraintDescription=(
                "each entry must be an instance type (c6i.large) or family (c6i), lower case"
            ),
            Description=(
                f"Comma-separated {c.architecture.value} instance types or families. List many"
                " across families and sizes: more Spot pools, fewer interruptions. Never mix"
                " arm64 and x86_64."
            ),
        )
        bid = number(
            "BidPercentage",
            "Spot bid cap (%)",
            "compute.bid_percentage",
            c.bid_percentage,
            description=(
                "Most you pay for Spot, in percent of On-Demand (1-100). 100 leaves it unset,"
                " as AWS recommends: a lower cap only adds interruptions."
            ),
        )
        compute_names += ["InstanceTypes", "BidPercentage"]
        root_volume = number(
            "RootVolumeGiB",
            "Root volume (GiB)",
            "compute.root_volume_gib",
            c.root_volume_gib,
            description="Size of each instance's encrypted gp3 root volume, GiB (30-16384).",
            constraint="must be a whole number from 30 (the AMI's size) to 16384",
        )
        compute_names.append("RootVolumeGiB")
    service_role = param(
        "ServiceRoleArn",
        "Batch service role (optional)",
        Type="String",
        Default="",
        AllowedPattern=r"^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$",
        ConstraintDescription="must be empty or an IAM role ARN",
        Description=(
            "Leave empty to use the AWS Batch service-linked role (required for in-place"
            " infrastructure updates of compute environments). Set only if your account"
            " policy demands a custom service role."
        ),
    )
    compute_names.append("ServiceRoleArn")
    groups.append(("Compute", compute_names))

    # -- Job
    container_image = param(
        "ContainerImage",
        "Container image (optional)",
        Type="String",
        Default="",
        MaxLength="1024",
        AllowedPattern=r"^$|^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$",
        ConstraintDescription="must be empty or an image reference such as repo/name:tag",
        Description=(
            "Full image URI for the job. Empty = this stack's ECR repository with ImageTag."
        ),
    )
    image_tag = param(
        "ImageTag",
        "Image tag",
        Type="String",
        Default="initial",
        AllowedPattern=r"^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$",
        ConstraintDescription="must be a Docker tag: letters, digits, _ . - (at most 128)",
        Description=(
            "Tag in this stack's ECR repository (tags are immutable: push a new tag, e.g. the"
            " git SHA, and update this; scripts/push-image.sh does both)."
        ),
    )
    repository_name = param(
        "RepositoryName",
        "ECR repository name (optional)",
        Type="String",
        Default="",
        MaxLength="256",
        AllowedPattern=r"^$|^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$",
        ConstraintDescription="must be empty or a lower-case ECR repository name",
        Description=(
            "Name of this stack's ECR repository. Empty = a name CloudFormation generates"
            " (two stacks never collide); set one for CI pipelines that push by name."
        ),
    )
    vcpu_range: dict[str, Any] = (
        {"MinValue": "1", "MaxValue": "192", "ConstraintDescription": "must be 1-192"}
        if ec2
        else {"AllowedValues": [_num(v) for v in FARGATE_MEMORY]}
    )
    job_vcpus = param(
        "JobVcpus",
        "vCPUs per job",
        Type="Number",
        Default=_num(j.vcpus),
        Description="vCPUs reserved for each job."
        + ("" if ec2 else " Fargate sizes: 0.25, 0.5, 1, 2, 4, 8 or 16."),
        **vcpu_range,
    )
    job_memory = number(
        "JobMemoryMiB",
        "Memory per job (MiB)",
        "job.memory_mib",
        j.memory_mib,
        description=(
            "Memory reserved for each job, MiB. The OS and ECS agent keep part of each"
            " instance's memory: a job asking for exactly 4096 MiB does not fit a 4 GiB instance."
        ),
        hi=None if ec2 else FARGATE_MEMORY[16][-1],
    )
    job_attempts = number(
        "JobAttempts",
        "Attempts per job",
        "job.attempts",
        j.attempts,
        description=(
            "Attempts per job (1-10). Spot reclaims (Host EC2*) and exit codes 75 and 143 are"
            " retried; any other failure ends the job at once."
        ),
    )
    job_timeout = number(
        "JobTimeoutSeconds",
        "Attempt timeout (s)",
        "job.timeout_seconds",
        j.timeout_seconds,
        description="Wall-clock limit of one attempt, seconds (at least 60).",
    )
    runnable_timeout = number(
        "RunnableTimeoutSeconds",
        "Cancel if stuck RUNNABLE (s)",
        "job.runnable_timeout_seconds",
        j.runnable_timeout_seconds,
        description=(
            "Cancel a job that waited this long in RUNNABLE because no compute environment"
            " could get capacity (600-86400), so it does not block the queue forever."
        ),
    )
    groups.append(
        (
            "Job",
            [
                "ContainerImage",
                "ImageTag",
                "RepositoryName",
                "JobVcpus",
                "JobMemoryMiB",
                "JobAttempts",
                "JobTimeoutSeconds",
                "RunnableTimeoutSeconds",
            ],
        )
    )

    # -- Operations
    log_retention = param(
        "LogRetentionDays",
        "Log retention (days)",
        Type="Number",
        Default=str(s.log_retention_days),
        AllowedValues=[str(d) for d in LOG_RETENTION_DAYS],
        Description="How long CloudWatch Logs keeps job output, days.",
    )
    alert_email = param(
        "AlertEmail",
        "Alert e-mail (optional)",
        Type="String",
        Default="",
        MaxLength="254",
        AllowedPattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
        ConstraintDescription="must be empty or an e-mail address",
        Description=(
            "E-mail address told about failed jobs (confirm the subscription mail). Empty = none."
        ),
    )
    operations = ["LogRetentionDays", "AlertEmail"]
    monthly_budget = None
    if cfg.monitoring.budget:
        monthly_budget = number(
            "MonthlyBudgetUsd",
            "Monthly budget (USD)",
            "monitoring.monthly_budget_usd",
            cfg.monitoring.monthly_budget_usd,
            description=(
                "Monthly cost budget in USD for resources tagged with this stack's"
                " cfgen-stack tag (activate it as a cost allocation tag). Alerts at 80% actual"
                " and 100% forecast go to the alert topic and e-mail. 0 = no budget."
            ),
            constraint="must be a whole number of USD, 0 for none",
        )
        operations.append("MonthlyBudgetUsd")
    retry_alarm_percent = None
    if cfg.monitoring.retry_alarm:
        retry_alarm_percent = number(
            "RetryAlarmPercent",
            "Retry alarm threshold (%)",
            "monitoring.retry_alarm_percent",
            cfg.monitoring.retry_alarm_percent,
            description=(
                "Alert when, within an hour, this percentage or more of the queue's job"
                " attempts were retried (at least 10 attempts): Spot reclaims eating the work."
            ),
        )
        operations.append("RetryAlarmPercent")
    groups.append(("Operations", operations))

    # -- Conditions
    if bid is not None:
        t.add_condition(naming.HAS_BID_CAP, Not(Equals(bid, "100")))
    if on_demand is not None:
        t.add_condition(naming.HAS_ON_DEMAND_FALLBACK, Not(Equals(on_demand, "0")))
    t.add_condition(naming.USE_STACK_REPOSITORY, Equals(container_image, ""))
    t.add_condition(naming.HAS_REPOSITORY_NAME, Not(Equals(repository_name, "")))
    t.add_condition(naming.HAS_ALERT_EMAIL, Not(Equals(alert_email, "")))
    t.add_condition(naming.HAS_SERVICE_ROLE, Not(Equals(service_role, "")))
    if monthly_budget is not None:
        t.add_condition(naming.HAS_BUDGET, Not(Equals(monthly_budget, "0")))

    # -- Rules: parameters that depend on each other
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

    if not ec2:
        _add_fargate_size_rules(t, job_vcpus, job_memory)

    t.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": label}, "Parameters": names} for label, names in groups
                ],
                "ParameterLabels": {name: {"default": text} for name, text in labels.items()},
            }
        }
    )

    return Params(
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        max_vcpus=max_vcpus,
        container_image=container_image,
        image_tag=image_tag,
        repository_name=repository_name,
        job_vcpus=job_vcpus,
        job_memory=job_memory,
        job_attempts=job_attempts,
        job_timeout=job_timeout,
        runnable_timeout=runnable_timeout,
        log_retention=log_retention,
        alert_email=alert_email,
        service_role=service_role,
        instance_types=instance_types,
        bid_percentage=bid,
        on_demand_max_vcpus=on_demand,
        root_volume=root_volume,
        assign_public_ip=assign_public_ip,
        monthly_budget=monthly_budget,
        retry_alarm_percent=retry_alarm_percent,
    )


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


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
