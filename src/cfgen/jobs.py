"""The job definition for the sample worker (worker/).

Emits WorkerJobDefinition (AWS::Batch::JobDefinition, Type container).

The retry rules and the worker's exit codes are one contract (cfgen.contract,
docs/CONTRACT.md): a Spot reclaim ("Host EC2 ... terminated", or Fargate Spot's
interruption), a start failure ("Task failed to start") and exit codes 75
(transient) and 143 (SIGTERM) are retried; anything else ends the job on the
first failure, so a bug does not burn five attempts of compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from troposphere import AWS_REGION, GetAtt, If, Ref, Sub, Template
from troposphere.batch import (
    ContainerProperties,
    Environment,
    EvaluateOnExit,
    FargatePlatformConfiguration,
    JobDefinition,
    LinuxParameters,
    LogConfiguration,
    MountPoints,
    NetworkConfiguration,
    ResourceRequirement,
    RetryStrategy,
    RuntimePlatform,
    Timeout,
    Volumes,
)

from cfgen import contract, naming
from cfgen.config import Platform, Profile
from cfgen.parameters import Params
from cfgen.storage import Storage
from cfgen.tags import map_tags

#: A rule of RetryStrategy.EvaluateOnExit: (match field, glob pattern, action).
RetryRule = tuple[str, str, str]

#: A Spot reclaim (or any loss of the host): "Host EC2 (instance i-...) terminated."
SPOT_RECLAIM: Final[RetryRule] = ("OnStatusReason", "Host EC2*", "RETRY")
#: Fargate Spot: the ECS stopped reason of a reclaimed task; checked before the
#: exit codes because a reclaimed task may be killed before it can exit 143.
FARGATE_SPOT_RECLAIM: Final[RetryRule] = (
    "OnStatusReason",
    "Your Spot Task was interrupted*",
    "RETRY",
)
#: Transient start failures (CannotPullContainerError from ECR throttling,
#: DockerTimeoutError, Fargate ResourceInitializationError) carry no exit code:
#: Batch reports the attempt's statusReason "Task failed to start" and the error
#: class in the container's reason. AWS's own retry example retries exactly this.
#: https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html
START_FAILURE: Final[RetryRule] = ("OnStatusReason", "Task failed to start*", "RETRY")
#: The last rule: everything else (a bug, bad input, OOM) ends the job at once.
CATCH_ALL_EXIT: Final[RetryRule] = ("OnReason", "*", "EXIT")
#: Batch accepts at most this many EvaluateOnExit entries.
MAX_RETRY_RULES: Final = 5


def retry_rules(platform: Platform) -> tuple[RetryRule, ...]:
    """EvaluateOnExit rules for a platform (at most 5, catch-all EXIT last).

    Fargate jobs never run on an EC2 host of the account, so "Host EC2*" is
    replaced there by Fargate Spot's own interruption reason.
    """
    reclaim = FARGATE_SPOT_RECLAIM if platform is Platform.FARGATE else SPOT_RECLAIM
    codes = tuple(("OnExitCode", str(code), "RETRY") for code in contract.RETRIED_EXIT_CODES)
    rules = (reclaim, START_FAILURE, *codes, CATCH_ALL_EXIT)
    assert len(rules) <= MAX_RETRY_RULES
    return rules


def grace_seconds(cfg: Profile) -> int:
    """How long the worker may flush after SIGTERM (docs/CONTRACT.md)."""
    if cfg.compute.platform is Platform.FARGATE:
        return contract.FARGATE_STOP_TIMEOUT - contract.GRACE_MARGIN
    return cfg.job.stop_timeout_seconds - contract.GRACE_MARGIN


@dataclass(frozen=True)
class Jobs:
    job_definition: Ref


def add_jobs(
    t: Template,
    cfg: Profile,
    *,
    params: Params,
    storage: Storage,
    job_role_arn: GetAtt,
    execution_role_arn: GetAtt,
) -> Jobs:
    ec2 = cfg.compute.platform is Platform.EC2
    requirements = [
        ResourceRequirement(Type="VCPU", Value=params.job_vcpus),
        ResourceRequirement(Type="MEMORY", Value=params.job_memory),
    ]
    if cfg.job.gpus:
        requirements.append(ResourceRequirement(Type="GPU", Value=str(cfg.job.gpus)))

    environment = [
        Environment(Name=contract.ENV_DATA_BUCKET, Value=storage.bucket),
        *(Environment(Name=p.env, Value=p.key) for p in contract.PREFIXES),
        Environment(Name=contract.ENV_TMPDIR, Value=contract.SCRATCH_PATH),
        # Seconds the worker may spend flushing after SIGTERM before it exits
        # 143 regardless: under the stop timeout, so it is never SIGKILLed
        # (137, which the retry rules do not retry).
        Environment(Name=contract.ENV_GRACE_SECONDS, Value=str(grace_seconds(cfg))),
    ]
    fargate: dict[str, object] = (
        {}
        if ec2
        else {
            # No AssignPublicIp parameter outside network_mode public: private
            # subnets, no public IP (Fargate's own default is DISABLED too).
            "NetworkConfiguration": NetworkConfiguration(
                AssignPublicIp=(
                    "DISABLED" if params.assign_public_ip is None else params.assign_public_ip
                )
            ),
            "FargatePlatformConfiguration": FargatePlatformConfiguration(PlatformVersion="LATEST"),
            # Fargate Spot runs x86_64 only.
            "RuntimePlatform": RuntimePlatform(
                CpuArchitecture="X86_64", OperatingSystemFamily="LINUX"
            ),
        }
    )
    container = ContainerProperties(
        Image=If(
            naming.USE_STACK_REPOSITORY,
            Sub("${Uri}:${Tag}", Uri=storage.repository_uri, Tag=params.image_tag),
            params.container_image,
        ),
        ResourceRequirements=requirements,
        JobRoleArn=job_role_arn,
        ExecutionRoleArn=execution_role_arn,
        LogConfiguration=LogConfiguration(
            LogDriver="awslogs",
            Options={
                "awslogs-group": storage.log_group,
                "awslogs-region": Ref(AWS_REGION),
                "awslogs-stream-prefix": "worker",
            },
        ),
        Environment=environment,
        Privileged=False,
        # The worker writes only to /scratch (TMPDIR) and S3.
        ReadonlyRootFilesystem=True,
        Volumes=[Volumes(Name="scratch")],
        MountPoints=[
            MountPoints(SourceVolume="scratch", ContainerPath=contract.SCRATCH_PATH, ReadOnly=False)
        ],
        # An init process as PID 1 forwards SIGTERM to the worker and reaps zombies.
        LinuxParameters=LinuxParameters(InitProcessEnabled=True),
        **fargate,
    )
    job_definition = t.add_resource(
        JobDefinition(
            naming.JOB_DEFINITION,
            Type="container",
            PlatformCapabilities=["EC2" if ec2 else "FARGATE"],
            ContainerProperties=container,
            RetryStrategy=RetryStrategy(
                Attempts=params.job_attempts,
                EvaluateOnExit=[
                    EvaluateOnExit(**{field: pattern, "Action": action})
                    for field, pattern, action in retry_rules(cfg.compute.platform)
                ],
            ),
            Timeout=Timeout(AttemptDurationSeconds=params.job_timeout),
            # Jobs and their ECS tasks carry the job definition's tags, so
            # cost allocation reaches them.
            PropagateTags=True,
            Tags=map_tags(cfg, component="job"),
            # Within a share identifier of a fair-share queue, higher runs first
            # (0-9999; SubmitJob may override it). Set only where a queue has a
            # scheduling policy, so FIFO profiles render as before.
            # https://docs.aws.amazon.com/batch/latest/APIReference/API_JobDefinition.html
            **(
                {"SchedulingPriority": cfg.scheduling.job_scheduling_priority}
                if cfg.scheduling.fair_share
                else {}
            ),
        )
    )
    return Jobs(job_definition=Ref(job_definition))
