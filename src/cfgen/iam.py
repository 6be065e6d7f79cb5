"""IAM, through awacs only: least privilege, scoped to this stack's resources.

Emits InstanceRole + InstanceProfile (EC2 profiles), JobRole (what the job's
code may do: this stack's data bucket prefixes, nothing else) and ExecutionRole
(what ECS needs to start the container: pull from this stack's repository,
write to this stack's log group). The job role and the execution role are
separate on purpose. No RoleName anywhere: CloudFormation names them, so
replacements and two stacks in one account keep working.

The instance role is not private to the host. AWS Batch runs single-node jobs
on EC2 in the ``host`` network mode, so a job container reaches the instance
metadata service (IMDS) exactly like the host: the hop limit of 1 does not
stop it, and any job can read the instance role's credentials. The instance
role therefore carries only what the ECS agent needs, with image pulls and log
writes scoped to this stack's repository (plus PullRepositoryArns) and log
group wherever the Service Authorization Reference allows resource scoping.
https://docs.aws.amazon.com/batch/latest/userguide/networking-modes.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/instance_IAM_role.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awacs import batch, ec2, ecr, ecs, logs, s3
from awacs.aws import (
    Allow,
    ArnLike,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from awacs.helpers.trust import make_simple_assume_policy
from awacs.sts import AssumeRole
from troposphere import AccountId, GetAtt, If, Ref, Sub, Template
from troposphere.iam import InstanceProfile, Policy, Role

from cfgen import contract, naming
from cfgen.config import Profile
from cfgen.tags import stack_tags

#: What the ECS container agent calls with the instance role: the actions of
#: AWS's managed AmazonEC2ContainerServiceforEC2Role (v10), scoped by the
#: resource types the Service Authorization Reference lists for each, instead
#: of its "*" (and its "*" on every ECR repository and log group).
#: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonEC2ContainerServiceforEC2Role.html
#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
#: No resource-level permissions: only "*" works.
ECS_AGENT_UNSCOPED = (ec2.DescribeTags, ecs.DiscoverPollEndpoint)
#: Resource type "cluster" (Batch creates and names the cluster itself).
ECS_AGENT_CLUSTER = (
    ecs.CreateCluster,
    ecs.DeregisterContainerInstance,
    ecs.RegisterContainerInstance,
    # "ecs:Submit*" in the managed policy: spelled out, no wildcard action.
    ecs.SubmitAttachmentStateChanges,
    ecs.SubmitContainerStateChange,
    ecs.SubmitTaskStateChange,
)
#: Resource type "container-instance".
ECS_AGENT_CONTAINER_INSTANCE = (
    ecs.Poll,
    ecs.StartTelemetrySession,
    ecs.UpdateContainerInstancesState,
)
#: The agent may tag what it creates, and only then.
AGENT_CREATE_ACTIONS = ["CreateCluster", "RegisterContainerInstance"]
#: Image pulls: GetAuthorizationToken has no resource; the layer and manifest
#: reads take a repository ARN.
#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html
ECR_PULL_ACTIONS = (ecr.BatchCheckLayerAvailability, ecr.BatchGetImage, ecr.GetDownloadUrlForLayer)
#: Log writes of the awslogs driver, scoped to the log group's streams.
#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
LOG_WRITE_ACTIONS = (logs.CreateLogStream, logs.PutLogEvents)


@dataclass(frozen=True)
class Roles:
    instance_profile_arn: GetAtt | None
    job_role_arn: GetAtt
    execution_role_arn: GetAtt


def _allow(sid: str, actions: list[Any], resources: Any, **extra: Any) -> Statement:
    """An Allow statement (every statement cfgen writes allows; a denial is the default)."""
    return Statement(Sid=sid, Effect=Allow, Action=actions, Resource=resources, **extra)


def _ecs_arn(resource: str) -> Sub:
    """An ECS resource ARN pattern in this stack's partition, region and account."""
    return Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:" + resource)


def _ecs_tasks_trust() -> PolicyDocument:
    # Confused-deputy guard: only ECS tasks of this account and region.
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", ["ecs-tasks.amazonaws.com"]),
                Action=[AssumeRole],
                Condition=Condition(
                    [
                        StringEquals({"aws:SourceAccount": AccountId}),
                        ArnLike(
                            {
                                "aws:SourceArn": Sub(
                                    "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*"
                                )
                            }
                        ),
                    ]
                ),
            )
        ],
    )


def _pull_and_log(
    repository_arn: GetAtt, log_group_arn: GetAtt, pull_repository_arns: Ref
) -> list[Statement]:
    """Statements to pull this stack's images (and PullRepositoryArns') and write its logs."""
    return [
        # GetAuthorizationToken has no resource-level scoping.
        _allow("EcrLogin", [ecr.GetAuthorizationToken], ["*"]),
        _allow(
            "PullStackImages",
            list(ECR_PULL_ACTIONS),
            [repository_arn],
        ),
        # The repositories of PullRepositoryArns (when it is empty, this repeats
        # the stack's repository: a statement cannot be left out by a condition
        # without tools like cfripper losing the whole policy).
        _allow(
            "PullListedImages",
            list(ECR_PULL_ACTIONS),
            If(naming.HAS_PULL_REPOSITORIES, pull_repository_arns, [repository_arn]),
        ),
        _allow(
            "WriteStackLogs",
            list(LOG_WRITE_ACTIONS),
            [log_group_arn],
        ),
    ]


def add_iam(
    t: Template,
    cfg: Profile,
    *,
    ec2_platform: bool,
    data_bucket_arn: GetAtt,
    repository_arn: GetAtt,
    log_group_arn: GetAtt,
    pull_repository_arns: Ref,
) -> Roles:
    pull_and_log = _pull_and_log(repository_arn, log_group_arn, pull_repository_arns)

    instance_profile_arn = None
    if ec2_platform:
        instance_role = t.add_resource(
            Role(
                naming.INSTANCE_ROLE,
                Description=(
                    "Batch container instances: ECS agent, this stack's image pulls and logs."
                    " Every job can read these credentials (host network mode)."
                ),
                AssumeRolePolicyDocument=make_simple_assume_policy("ec2.amazonaws.com"),
                Policies=[
                    Policy(
                        PolicyName="ecs-agent",
                        PolicyDocument=PolicyDocument(
                            Version="2012-10-17",
                            Statement=[
                                _allow(
                                    "EcsAgentDiscovery",
                                    list(ECS_AGENT_UNSCOPED),
                                    ["*"],
                                ),
                                _allow(
                                    "EcsAgentCluster",
                                    list(ECS_AGENT_CLUSTER),
                                    [_ecs_arn("cluster/*")],
                                ),
                                _allow(
                                    "EcsAgentContainerInstance",
                                    list(ECS_AGENT_CONTAINER_INSTANCE),
                                    [_ecs_arn("container-instance/*")],
                                ),
                                _allow(
                                    "EcsAgentReadsTags",
                                    [ecs.ListTagsForResource],
                                    [_ecs_arn("task/*/*"), _ecs_arn("container-instance/*/*")],
                                ),
                                # The agent tags the container instance it registers.
                                _allow(
                                    "EcsAgentTagsOnCreate",
                                    [ecs.TagResource],
                                    [_ecs_arn("cluster/*"), _ecs_arn("container-instance/*")],
                                    Condition=Condition(
                                        StringEquals({"ecs:CreateAction": AGENT_CREATE_ACTIONS})
                                    ),
                                ),
                                *pull_and_log,
                            ],
                        ),
                    ),
                ],
                Tags=stack_tags(cfg, component="iam"),
            )
        )
        profile = t.add_resource(
            InstanceProfile(naming.INSTANCE_PROFILE, Roles=[Ref(instance_role)])
        )
        # ComputeResources.InstanceRole takes an instance profile ARN, not a role.
        instance_profile_arn = GetAtt(profile, "Arn")

    def objects(prefixes: tuple[str, ...]) -> list[Sub]:
        return [Sub("${Bucket}/" + p + "*", Bucket=data_bucket_arn) for p in prefixes]

    job_role = t.add_resource(
        Role(
            naming.JOB_ROLE,
            Description="What the batch job's code may do: this stack's data bucket prefixes only",
            AssumeRolePolicyDocument=_ecs_tasks_trust(),
            Policies=[
                Policy(
                    PolicyName="data-bucket",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            # Unconditioned on purpose: a GetObject of a missing key (the
                            # first attempt's checkpoint) answers 404 only to a caller
                            # allowed to list the bucket, 403 AccessDenied otherwise.
                            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
                            _allow(
                                "ListDataBucket",
                                [s3.ListBucket],
                                [data_bucket_arn],
                            ),
                            _allow(
                                "Read",
                                [s3.GetObject],
                                objects(contract.READ_PREFIXES),
                            ),
                            _allow(
                                "WriteResults",
                                [s3.PutObject],
                                objects(contract.WRITE_PREFIXES),
                            ),
                            # s3transfer aborts a failed multipart upload.
                            _allow(
                                "AbortOwnUploads",
                                [s3.AbortMultipartUpload],
                                objects(contract.MULTIPART_PREFIXES),
                            ),
                            # An array child reads the array's size from its parent
                            # job; DescribeJobs has no resource-level permissions.
                            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbatch.html
                            _allow(
                                "ReadArraySize",
                                [batch.DescribeJobs],
                                ["*"],
                            ),
                        ],
                    ),
                )
            ],
            Tags=stack_tags(cfg, component="iam"),
        )
    )

    execution_role = t.add_resource(
        Role(
            naming.EXECUTION_ROLE,
            Description="What ECS needs to start the job: pull its image, write its logs",
            AssumeRolePolicyDocument=_ecs_tasks_trust(),
            Policies=[
                Policy(
                    PolicyName="pull-image-write-logs",
                    PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=pull_and_log),
                ),
            ],
            Tags=stack_tags(cfg, component="iam"),
        )
    )
    return Roles(
        instance_profile_arn=instance_profile_arn,
        job_role_arn=GetAtt(job_role, "Arn"),
        execution_role_arn=GetAtt(execution_role, "Arn"),
    )
