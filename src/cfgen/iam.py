"""IAM, through awacs only: least privilege, scoped to this stack's resources.

Emits InstanceRole + InstanceProfile (EC2 profiles), JobRole (what the job's
code may do: this stack's data bucket prefixes, nothing else) and ExecutionRole
(what ECS needs to start the container: pull from this stack's repository,
write to this stack's log group). The job role and the execution role are
separate on purpose. No RoleName anywhere: CloudFormation names them, so
replacements and two stacks in one account keep working.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import ecr, logs, s3
from awacs.aws import (
    Allow,
    ArnLike,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from awacs.helpers.trust import make_simple_assume_policy
from awacs.sts import AssumeRole
from troposphere import AccountId, GetAtt, Ref, Sub, Template
from troposphere.iam import InstanceProfile, Policy, Role

from cfgen import naming
from cfgen.config import Profile
from cfgen.tags import stack_tags

#: Prefixes of the data bucket and what the job may do there (see docs/CONTRACT.md).
READ_PREFIXES = ("input/",)
WRITE_PREFIXES = ("output/", "checkpoints/", "scratch/", "deadletter/")


@dataclass(frozen=True)
class Roles:
    instance_profile_arn: GetAtt | None
    job_role_arn: GetAtt
    execution_role_arn: GetAtt


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


def add_iam(
    t: Template,
    cfg: Profile,
    *,
    ec2: bool,
    data_bucket_arn: GetAtt,
    repository_arn: GetAtt,
    log_group_arn: GetAtt,
) -> Roles:
    instance_profile_arn = None
    if ec2:
        instance_role = t.add_resource(
            Role(
                naming.INSTANCE_ROLE,
                Description="Batch container instances: ECS agent registration, image pulls, logs",
                AssumeRolePolicyDocument=make_simple_assume_policy("ec2.amazonaws.com"),
                ManagedPolicyArns=[
                    Sub(
                        "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                        "AmazonEC2ContainerServiceforEC2Role"
                    )
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
                            Statement(
                                Sid="ListOwnPrefixes",
                                Effect=Allow,
                                Action=[s3.ListBucket],
                                Resource=[data_bucket_arn],
                                Condition=Condition(
                                    StringLike(
                                        {
                                            "s3:prefix": [
                                                p + "*" for p in READ_PREFIXES + WRITE_PREFIXES
                                            ]
                                        }
                                    )
                                ),
                            ),
                            Statement(
                                Sid="ReadInput",
                                Effect=Allow,
                                Action=[s3.GetObject],
                                Resource=objects(READ_PREFIXES),
                            ),
                            Statement(
                                Sid="ReadWriteResults",
                                Effect=Allow,
                                Action=[
                                    s3.GetObject,
                                    s3.PutObject,
                                    s3.DeleteObject,
                                    s3.AbortMultipartUpload,
                                ],
                                Resource=objects(WRITE_PREFIXES),
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
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            # GetAuthorizationToken has no resource-level scoping.
                            Statement(
                                Sid="EcrLogin",
                                Effect=Allow,
                                Action=[ecr.GetAuthorizationToken],
                                Resource=["*"],
                            ),
                            Statement(
                                Sid="PullStackImages",
                                Effect=Allow,
                                Action=[
                                    ecr.BatchCheckLayerAvailability,
                                    ecr.BatchGetImage,
                                    ecr.GetDownloadUrlForLayer,
                                ],
                                Resource=[repository_arn],
                            ),
                            Statement(
                                Sid="WriteStackLogs",
                                Effect=Allow,
                                Action=[logs.CreateLogStream, logs.PutLogEvents],
                                Resource=[log_group_arn],
                            ),
                        ],
                    ),
                )
            ],
            Tags=stack_tags(cfg, component="iam"),
        )
    )
    return Roles(
        instance_profile_arn=instance_profile_arn,
        job_role_arn=GetAtt(job_role, "Arn"),
        execution_role_arn=GetAtt(execution_role, "Arn"),
    )
