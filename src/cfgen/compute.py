"""Compute environments.

EC2 profiles emit SpotComputeEnvironment (Type SPOT) and, when the profile has a
fallback, OnDemandComputeEnvironment (Type EC2, BEST_FIT_PROGRESSIVE), created only
when the OnDemandMaxvCpus parameter is above 0. Fargate profiles emit
FargateSpotComputeEnvironment and FargateComputeEnvironment.

All are MANAGED, have no physical name (a replacement never collides with the old
one) and no ServiceRole unless the ServiceRoleArn parameter is set (the Batch
service-linked role is what in-place infrastructure updates need).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import If, NoValue, Ref, Sub, Template
from troposphere.batch import (
    ComputeEnvironment,
    ComputeResources,
    Ec2ConfigurationObject,
    LaunchTemplateSpecification,
    UpdatePolicy,
)

from cfgen import naming
from cfgen.config import Platform, Profile
from cfgen.network import Network
from cfgen.parameters import Params
from cfgen.tags import map_tags


@dataclass(frozen=True)
class ComputeEnvironmentRef:
    ref: Ref
    logical_id: str
    #: Condition that must hold for it to exist (None: always).
    condition: str | None


@dataclass(frozen=True)
class Compute:
    #: In queue order: the cheapest first.
    environments: tuple[ComputeEnvironmentRef, ...]


def add_compute(
    t: Template,
    cfg: Profile,
    *,
    params: Params,
    network: Network,
    instance_profile_arn: object,
) -> Compute:
    if cfg.compute.platform is Platform.EC2:
        return _add_ec2(
            t, cfg, params=params, network=network, instance_profile_arn=instance_profile_arn
        )
    return _add_fargate(t, cfg, params=params, network=network)


def _service_role(params: Params) -> If:
    return If(naming.HAS_SERVICE_ROLE, params.service_role, NoValue)


def _set_update_policy(ce: ComputeEnvironment, params: Params) -> None:
    # Infrastructure updates replace instances; running jobs get the
    # UpdateTimeoutMinutes parameter (default: the attempt timeout, at most
    # Batch's 360) to finish before their instance goes, instead of Batch's 30.
    # This is the *property* UpdatePolicy of AWS::Batch::ComputeEnvironment;
    # troposphere would render the keyword as the resource attribute.
    # https://docs.aws.amazon.com/batch/latest/userguide/infrastructure-updates.html
    ce.properties["UpdatePolicy"] = UpdatePolicy(
        JobExecutionTimeoutMinutes=params.update_timeout, TerminateJobsOnUpdate=False
    )


def _add_ec2(
    t: Template,
    cfg: Profile,
    *,
    params: Params,
    network: Network,
    instance_profile_arn: object,
) -> Compute:
    c = cfg.compute
    assert params.instance_types is not None and network.launch_template_id is not None

    def resources(kind: str, **extra: object) -> ComputeResources:
        return ComputeResources(
            # Scale to zero when idle (min_vcpus defaults to 0); no DesiredvCpus:
            # Batch manages it, and a value in the template fights updates.
            MinvCpus=c.min_vcpus,
            Subnets=params.subnet_ids,
            SecurityGroupIds=[network.security_group],
            InstanceTypes=params.instance_types,
            InstanceRole=instance_profile_arn,
            LaunchTemplate=LaunchTemplateSpecification(
                LaunchTemplateId=network.launch_template_id,
                Version=network.launch_template_version,
            ),
            Ec2Configuration=[Ec2ConfigurationObject(ImageType=c.image_type.value)],
            # Without it (the default is false) every infrastructure update keeps
            # the AMI the environment was created with: no security patches.
            # With it, an update (any change of the CE or its launch template
            # version) moves instances to the latest ECS_AL2023 AMI.
            # https://docs.aws.amazon.com/batch/latest/userguide/managing-ami-versions.html
            UpdateToLatestImageVersion=True,
            # Static: a change of compute-resource tags replaces the CE.
            Tags={
                **map_tags(cfg, component=f"compute-{kind}"),
                "Name": Sub("${AWS::StackName}-" + kind),
            },
            **extra,
        )

    envs = [
        _managed(
            t,
            cfg,
            params,
            naming.SPOT_CE,
            resources=resources(
                "spot",
                Type="SPOT",
                AllocationStrategy=c.allocation_strategy.value,
                MaxvCpus=params.max_vcpus,
                # Unset unless the parameter is below 100 (AWS's advice).
                BidPercentage=If(naming.HAS_BID_CAP, params.bid_percentage, NoValue),
            ),
        )
    ]
    if c.on_demand_fallback:
        envs.append(
            _managed(
                t,
                cfg,
                params,
                naming.ON_DEMAND_CE,
                resources=resources(
                    "on-demand",
                    Type="EC2",
                    AllocationStrategy="BEST_FIT_PROGRESSIVE",
                    MaxvCpus=params.on_demand_max_vcpus,
                ),
                condition=naming.HAS_ON_DEMAND_FALLBACK,
            )
        )
    return Compute(environments=tuple(envs))


def _add_fargate(t: Template, cfg: Profile, *, params: Params, network: Network) -> Compute:
    def resources(kind: str, max_vcpus: object) -> ComputeResources:
        return ComputeResources(
            Type=kind,
            MaxvCpus=max_vcpus,
            Subnets=params.subnet_ids,
            SecurityGroupIds=[network.security_group],
        )

    envs = [
        _managed(
            t,
            cfg,
            params,
            naming.FARGATE_SPOT_CE,
            resources=resources("FARGATE_SPOT", params.max_vcpus),
        )
    ]
    if cfg.compute.on_demand_fallback:
        envs.append(
            _managed(
                t,
                cfg,
                params,
                naming.FARGATE_CE,
                resources=resources("FARGATE", params.on_demand_max_vcpus),
                condition=naming.HAS_ON_DEMAND_FALLBACK,
            )
        )
    return Compute(environments=tuple(envs))


def _managed(
    t: Template,
    cfg: Profile,
    params: Params,
    logical_id: str,
    *,
    resources: ComputeResources,
    condition: str | None = None,
) -> ComputeEnvironmentRef:
    """A MANAGED compute environment, updated in place, with no physical name."""
    extra: dict[str, object] = {"Condition": condition} if condition else {}
    ce = t.add_resource(
        ComputeEnvironment(
            logical_id,
            **extra,
            Type="MANAGED",
            State="ENABLED",
            ServiceRole=_service_role(params),
            # false: changes are applied as in-place infrastructure updates
            # (new instances roll in) instead of replacing the environment,
            # which would fail while the queue references it.
            ReplaceComputeEnvironment=False,
            ComputeResources=resources,
            # No resource-level Tags: on a compute environment they are
            # create-only, so editing a tag (or renaming the profile) would
            # replace it. Cost-allocation tags reach the instances through
            # ComputeResources.Tags, which update in place.
        )
    )
    _set_update_policy(ce, params)
    return ComputeEnvironmentRef(Ref(ce), logical_id, condition)
