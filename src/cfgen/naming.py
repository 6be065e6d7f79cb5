"""The only place logical IDs, output names and export names are spelled.

Renaming a logical ID replaces that resource in every user's stack, so the set
is pinned by a test (tests/test_logical_ids.py).
"""

from __future__ import annotations

from typing import Final

# Network
SECURITY_GROUP: Final = "ComputeSecurityGroup"
LAUNCH_TEMPLATE: Final = "ComputeLaunchTemplate"
# VPC endpoints (network_mode endpoints; cfgen.endpoints)
ENDPOINT_SECURITY_GROUP: Final = "EndpointSecurityGroup"
S3_GATEWAY_ENDPOINT: Final = "S3GatewayEndpoint"
ECR_API_ENDPOINT: Final = "EcrApiEndpoint"
ECR_DKR_ENDPOINT: Final = "EcrDkrEndpoint"
LOGS_ENDPOINT: Final = "LogsEndpoint"
ECS_ENDPOINT: Final = "EcsEndpoint"
ECS_AGENT_ENDPOINT: Final = "EcsAgentEndpoint"
ECS_TELEMETRY_ENDPOINT: Final = "EcsTelemetryEndpoint"

# IAM
INSTANCE_ROLE: Final = "InstanceRole"
INSTANCE_PROFILE: Final = "InstanceProfile"
JOB_ROLE: Final = "JobRole"
EXECUTION_ROLE: Final = "ExecutionRole"

# Storage
DATA_BUCKET: Final = "DataBucket"
DATA_BUCKET_POLICY: Final = "DataBucketPolicy"
REPOSITORY: Final = "Repository"
LOG_GROUP: Final = "LogGroup"

# Compute and queues
SPOT_CE: Final = "SpotComputeEnvironment"
ON_DEMAND_CE: Final = "OnDemandComputeEnvironment"
FARGATE_SPOT_CE: Final = "FargateSpotComputeEnvironment"
FARGATE_CE: Final = "FargateComputeEnvironment"
JOB_QUEUE: Final = "JobQueue"
JOB_DEFINITION: Final = "WorkerJobDefinition"
SCHEDULING_POLICY: Final = "SchedulingPolicy"
ESCALATION_QUEUE_NAME: Final = "escalation"
ESCALATION_STATE_MACHINE: Final = "EscalationStateMachine"
ESCALATION_ROLE: Final = "EscalationRole"

# Monitoring
ALERT_TOPIC: Final = "AlertTopic"
ALERT_TOPIC_POLICY: Final = "AlertTopicPolicy"
ALERT_EMAIL_SUBSCRIPTION: Final = "AlertEmailSubscription"
JOB_FAILED_RULE: Final = "JobFailedRule"
JOB_QUEUE_BLOCKED_RULE: Final = "JobQueueBlockedRule"
RETRY_ALARM: Final = "RetryRateAlarm"
DASHBOARD: Final = "Dashboard"

# Conditions
HAS_BID_CAP: Final = "HasBidCap"
HAS_ON_DEMAND_FALLBACK: Final = "HasOnDemandFallback"
USE_STACK_REPOSITORY: Final = "UseStackRepository"
HAS_REPOSITORY_NAME: Final = "HasRepositoryName"
HAS_PULL_REPOSITORIES: Final = "HasPullRepositories"
HAS_ALERT_EMAIL: Final = "HasAlertEmail"
HAS_SERVICE_ROLE: Final = "HasServiceRole"

# Rules
SUBNETS_IN_VPC_RULE: Final = "SubnetsInVpc"


def pascal(name: str) -> str:
    """``team-a`` -> ``TeamA``: profile names (queues) inside logical IDs."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


def queue_id(name: str, *, first: bool) -> str:
    """The first queue keeps ``JobQueue`` (the default profile's ID); others ``<Name>JobQueue``."""
    return JOB_QUEUE if first else pascal(name) + JOB_QUEUE


def scheduling_policy_id(name: str, *, first: bool) -> str:
    return SCHEDULING_POLICY if first else pascal(name) + SCHEDULING_POLICY


def retry_alarm_id(name: str, *, first: bool) -> str:
    return RETRY_ALARM if first else pascal(name) + RETRY_ALARM


def export_name(output: str) -> str:
    """Export names are ``<stack name>-<output>``: unique per stack, stable per output."""
    return "${AWS::StackName}-" + output
