"""Storage: the data bucket, the image repository and the log group.

Emits DataBucket (AWS::S3::Bucket, retained on delete) + DataBucketPolicy,
Repository (AWS::ECR::Repository) and LogGroup (AWS::Logs::LogGroup). None has a
physical name, so two stacks can live in one account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from awacs import s3
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import Delete, GetAtt, If, NoValue, Ref, Retain, Sub, Template
from troposphere.ecr import ImageScanningConfiguration, LifecyclePolicy, Repository
from troposphere.logs import LogGroup
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    NoncurrentVersionExpiration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

from cfgen import contract, naming
from cfgen.config import Profile
from cfgen.parameters import Params
from cfgen.tags import stack_tags


@dataclass(frozen=True)
class Storage:
    bucket: Ref
    bucket_arn: GetAtt
    repository: Ref
    repository_arn: GetAtt
    repository_uri: GetAtt
    log_group: Ref
    log_group_arn: GetAtt


def _suppress(*checks: tuple[str, str]) -> dict[str, object]:
    """Metadata skipping a checkov check, with the reason we do not follow it."""
    return {"checkov": {"skip": [{"id": cid, "comment": why} for cid, why in checks]}}


def add_storage(t: Template, cfg: Profile, *, params: Params) -> Storage:
    s = cfg.storage
    bucket = t.add_resource(
        Bucket(
            naming.DATA_BUCKET,
            # Job results outlive the stack: delete-stack keeps the bucket
            # (scripts/destroy.sh reports it and empties it only when asked).
            DeletionPolicy=Retain,
            UpdateReplacePolicy=Retain,
            BucketEncryption=BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(
                            SSEAlgorithm="AES256"
                        ),
                        BucketKeyEnabled=True,
                    )
                ]
            ),
            PublicAccessBlockConfiguration=PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=OwnershipControls(
                Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=LifecycleConfiguration(
                Rules=[
                    LifecycleRule(
                        Id="expire-checkpoints",
                        Status="Enabled",
                        Prefix=contract.CHECKPOINTS.key,
                        ExpirationInDays=s.checkpoint_expiration_days,
                    ),
                    # Cost records outlive a year's reports (contract.LEDGER_EXPIRATION_DAYS).
                    LifecycleRule(
                        Id="expire-ledger",
                        Status="Enabled",
                        Prefix=contract.LEDGER.key,
                        ExpirationInDays=contract.LEDGER_EXPIRATION_DAYS,
                    ),
                    LifecycleRule(
                        Id="expire-noncurrent-versions-and-uploads",
                        Status="Enabled",
                        NoncurrentVersionExpiration=NoncurrentVersionExpiration(
                            NoncurrentDays=s.noncurrent_version_expiration_days
                        ),
                        AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=7
                        ),
                    ),
                ]
            ),
            Tags=stack_tags(cfg, component="storage"),
            Metadata=_suppress(
                (
                    "CKV_AWS_18",
                    "Access logging needs a second bucket per stack; use CloudTrail S3 data"
                    " events where an audit trail is required.",
                ),
                (
                    "CKV_AWS_145",
                    "SSE-S3 (AES256) with a bucket key: KMS would add per-request cost to"
                    " every checkpoint write for no access-control gain here.",
                ),
            ),
        )
    )
    bucket_arn = GetAtt(bucket, "Arn")
    t.add_resource(
        BucketPolicy(
            naming.DATA_BUCKET_POLICY,
            Bucket=Ref(bucket),
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="DenyInsecureTransport",
                        Effect=Deny,
                        Principal=Principal("*"),
                        Action=[s3.Action("*")],
                        Resource=[bucket_arn, Sub("${Bucket}/*", Bucket=bucket_arn)],
                        Condition=Condition(Bool({"aws:SecureTransport": False})),
                    )
                ],
            ),
        )
    )

    repository = t.add_resource(
        Repository(
            naming.REPOSITORY,
            # The images are build output: deleting the stack deletes them.
            DeletionPolicy=Delete,
            UpdateReplacePolicy=Delete,
            RepositoryName=If(naming.HAS_REPOSITORY_NAME, params.repository_name, NoValue),
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ImageScanningConfiguration(ScanOnPush=True),
            EmptyOnDelete=True,
            LifecyclePolicy=LifecyclePolicy(LifecyclePolicyText=_ecr_lifecycle()),
            Tags=stack_tags(cfg, component="storage"),
            Metadata=_suppress(
                (
                    "CKV_AWS_136",
                    "AES256 (the ECR default) encrypts images at rest; a customer KMS key"
                    " adds cost and key management without a requirement for it.",
                ),
            ),
        )
    )

    log_group = t.add_resource(
        LogGroup(
            naming.LOG_GROUP,
            # Logs go with the stack; the retention parameter bounds their cost.
            DeletionPolicy=Delete,
            UpdateReplacePolicy=Delete,
            RetentionInDays=params.log_retention,
            Tags=stack_tags(cfg, component="storage"),
            Metadata=_suppress(
                (
                    "CKV_AWS_158",
                    "CloudWatch Logs encrypts at rest by default; a KMS key would need a key"
                    " policy per stack for no requirement here.",
                ),
            ),
        )
    )
    return Storage(
        bucket=Ref(bucket),
        bucket_arn=bucket_arn,
        repository=Ref(repository),
        repository_arn=GetAtt(repository, "Arn"),
        repository_uri=GetAtt(repository, "RepositoryUri"),
        log_group=Ref(log_group),
        log_group_arn=GetAtt(log_group, "Arn"),
    )


#: Days an untagged image (a layer set a tag no longer points to) is kept.
UNTAGGED_IMAGE_DAYS = 7


def _ecr_lifecycle() -> str:
    """Expire untagged images only.

    The job definition pins one immutable tag (ImageTag). A count rule over
    tagged images ("keep the 30 most recent") expires that tag as soon as CI
    has pushed 30 newer ones, and every job then fails CannotPullContainerError.
    No lifecycle rule can know which tag a stack points at, so tagged images are
    never expired by the policy; remove old tags yourself (docs/deploy.md).
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
    """
    rules = [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_IMAGE_DAYS,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, indent=2, sort_keys=True)
