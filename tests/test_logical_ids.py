"""The logical-ID contract: renaming one replaces that resource in every user's stack.

If this fails because you renamed or removed a resource on purpose, say so in the
changelog (it is a breaking change for deployed stacks) and update the set here.
"""

from __future__ import annotations

from typing import Any

import pytest

DEFAULT_RESOURCES = {
    "ComputeSecurityGroup": "AWS::EC2::SecurityGroup",
    "ComputeLaunchTemplate": "AWS::EC2::LaunchTemplate",
    "DataBucket": "AWS::S3::Bucket",
    "DataBucketPolicy": "AWS::S3::BucketPolicy",
    "Repository": "AWS::ECR::Repository",
    "LogGroup": "AWS::Logs::LogGroup",
    "InstanceRole": "AWS::IAM::Role",
    "InstanceProfile": "AWS::IAM::InstanceProfile",
    "JobRole": "AWS::IAM::Role",
    "ExecutionRole": "AWS::IAM::Role",
    "SpotComputeEnvironment": "AWS::Batch::ComputeEnvironment",
    "OnDemandComputeEnvironment": "AWS::Batch::ComputeEnvironment",
    "JobQueue": "AWS::Batch::JobQueue",
    "WorkerJobDefinition": "AWS::Batch::JobDefinition",
    "AlertTopic": "AWS::SNS::Topic",
    "AlertTopicPolicy": "AWS::SNS::TopicPolicy",
    "AlertEmailSubscription": "AWS::SNS::Subscription",
    "JobFailedRule": "AWS::Events::Rule",
    "JobQueueBlockedRule": "AWS::Events::Rule",
    "RetryRateAlarm": "AWS::CloudWatch::Alarm",
    "Dashboard": "AWS::CloudWatch::Dashboard",
}

DEFAULT_OUTPUTS = {
    "JobQueueArn",
    "JobDefinitionArn",
    "DataBucketName",
    "RepositoryUri",
    "RepositoryName",
    "LogGroupName",
    "AlertTopicArn",
    "JobRoleArn",
    "ImagePlatform",
    "SpotComputeEnvironmentArn",
    "OnDemandComputeEnvironmentArn",
}


#: Every profile's resources (logical ID -> type), pinned.
_EC2_NO_FALLBACK = {k: v for k, v in DEFAULT_RESOURCES.items() if k != "OnDemandComputeEnvironment"}
_FARGATE = {
    k: v
    for k, v in DEFAULT_RESOURCES.items()
    if k
    not in {
        "ComputeLaunchTemplate",
        "InstanceRole",
        "InstanceProfile",
        "SpotComputeEnvironment",
        "OnDemandComputeEnvironment",
    }
} | {
    "FargateSpotComputeEnvironment": "AWS::Batch::ComputeEnvironment",
    "FargateComputeEnvironment": "AWS::Batch::ComputeEnvironment",
}
#: network_mode = "endpoints": the VPC endpoints private subnets need (cfgen.endpoints).
_ENDPOINTS = {
    **{k: v for k, v in _EC2_NO_FALLBACK.items() if k != "RetryRateAlarm"},
    "EndpointSecurityGroup": "AWS::EC2::SecurityGroup",
    "S3GatewayEndpoint": "AWS::EC2::VPCEndpoint",
    "EcrApiEndpoint": "AWS::EC2::VPCEndpoint",
    "EcrDkrEndpoint": "AWS::EC2::VPCEndpoint",
    "LogsEndpoint": "AWS::EC2::VPCEndpoint",
    "EcsEndpoint": "AWS::EC2::VPCEndpoint",
    "EcsAgentEndpoint": "AWS::EC2::VPCEndpoint",
    "EcsTelemetryEndpoint": "AWS::EC2::VPCEndpoint",
}
#: The budget moved to its own stack (build/budget.yaml): a type missing in 20
#: regions failed the whole batch stack there. MonthlyBudget keeps its ID there.
PROFILE_RESOURCES = {
    "default": DEFAULT_RESOURCES,
    "spot-only": _EC2_NO_FALLBACK,
    "gpu": DEFAULT_RESOURCES,
    "arm64": DEFAULT_RESOURCES,
    "fargate-spot": _FARGATE,
    # Issue 19: several queues, fair share, escalation to On-Demand.
    "shared-team": {k: v for k, v in DEFAULT_RESOURCES.items() if k != "RetryRateAlarm"}
    | {
        "SchedulingPolicy": "AWS::Batch::SchedulingPolicy",
        "EscalationJobQueue": "AWS::Batch::JobQueue",
        "EscalationRole": "AWS::IAM::Role",
        "EscalationStateMachine": "AWS::StepFunctions::StateMachine",
    },
    "endpoints": _ENDPOINTS,
}


def test_budget_stack_logical_ids_are_pinned() -> None:
    from cfgen.budget import build_budget_template

    data = build_budget_template().to_dict()
    assert {k: v["Type"] for k, v in data["Resources"].items()} == {
        "MonthlyBudget": "AWS::Budgets::Budget"
    }


#: Every logical ID any profile may use, with its type: a profile added later
#: (one TOML file) may combine these, but never rename or retype one.
VOCABULARY = {k: v for pinned in PROFILE_RESOURCES.values() for k, v in pinned.items()}


def test_shipped_profiles_are_pinned() -> None:
    from cfgen.config import list_profiles

    assert set(PROFILE_RESOURCES) <= set(list_profiles()), "a shipped profile was removed"


def test_every_profile_uses_only_pinned_logical_ids() -> None:
    from cfgen.config import list_profiles, load_profile
    from cfgen.render import to_data

    for name in list_profiles():
        data = to_data(load_profile(name))
        actual = {k: v["Type"] for k, v in data["Resources"].items()}
        unknown = {k: t for k, t in actual.items() if VOCABULARY.get(k) != t}
        assert not unknown, (
            f"profile {name!r} has logical IDs outside the pinned vocabulary: {unknown};"
            " a rename replaces users' resources -- pin new ones in PROFILE_RESOURCES"
        )


@pytest.mark.parametrize("name", sorted(PROFILE_RESOURCES))
def test_profile_logical_ids_are_pinned(name: str) -> None:
    from cfgen.config import load_profile
    from cfgen.render import to_data

    data = to_data(load_profile(name))
    assert {k: v["Type"] for k, v in data["Resources"].items()} == PROFILE_RESOURCES[name]


def test_default_logical_ids_are_pinned(default_data: dict[str, Any]) -> None:
    actual = {k: v["Type"] for k, v in default_data["Resources"].items()}
    # Optional resources added later (budget, alarms) carry a Condition; the
    # unconditional core must stay exactly this set.
    extra = {k for k in actual if k not in DEFAULT_RESOURCES}
    for logical_id in extra:
        assert "Condition" in default_data["Resources"][logical_id], (
            f"new unconditional resource {logical_id}: add it to DEFAULT_RESOURCES"
        )
    assert {k: actual[k] for k in DEFAULT_RESOURCES if k in actual} == DEFAULT_RESOURCES


def test_default_outputs_are_pinned(default_data: dict[str, Any]) -> None:
    assert set(default_data["Outputs"]) >= DEFAULT_OUTPUTS
