"""Known AWS Batch status reasons: what each means and how to fix it.

``cfgen doctor`` maps every ``statusReason`` (of a RUNNABLE job, a failed
attempt, a compute environment or a queue) through :func:`explain`. Each entry
names the AWS documentation page or public thread it comes from; the first
matching entry wins, so specific patterns come before general ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from cfgen.preflight.report import Status

_RUNNABLE = "https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html"
_CAPACITY = "https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable_capacity.html"
_INVALID_CE = (
    "https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable_invalid_ce.html"
)
_INVALID = "https://docs.aws.amazon.com/batch/latest/userguide/invalid_compute_environment.html"
_PULL = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html"
_PULL_NET = "https://repost.aws/knowledge-center/ecs-fargate-pull-container-error"
_INIT = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html"
)
_OOM = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/out-of-memory.html"
_START = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-start-container.html"
_STOPPED = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html"
)
_RETRIES = "https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"
_TIMEOUTS = "https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html"
_DEPENDS = "https://docs.aws.amazon.com/batch/latest/userguide/job_dependencies.html"
_LAUNCH = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/troubleshooting-launch.html"
_SPOT_LIMITS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html"
_ARCH_THREAD = "https://github.com/docker-library/mysql/issues/698"


@dataclass(frozen=True)
class Entry:
    """One known message: a case-insensitive regex over the status reason."""

    key: str
    pattern: str
    cause: str
    fix: str
    source: str
    severity: Status  #: FAIL = jobs cannot run until fixed; WARN = transient or per-job
    example: str  #: a real-shaped message it matches (the tests feed every one through)
    spot_reclaim: bool = False

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


F, W = Status.FAIL, Status.WARN

CATALOGUE: tuple[Entry, ...] = (
    # -- RUNNABLE: the reasons Batch reports for a job blocking the queue head
    Entry(
        "insufficient-capacity",
        r"^CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "no compute environment of the queue gets the instances it asks for (Spot/EC2 capacity)",
        "add instance types, families and Availability Zones; keep the On-Demand fallback",
        _CAPACITY,
        W,
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested"
        " for instance type [c6i.large]",
    ),
    Entry(
        "ce-max-resource",
        r"^MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "the job needs more vCPUs than MaxvCpus of every compute environment of the queue",
        "raise MaxvCpus (and OnDemandMaxvCpus) or lower the job's VCPU",
        _RUNNABLE,
        F,
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue"
        " cannot meet the CPU requirement of the job.",
    ),
    Entry(
        "job-resource-requirement",
        r"^MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        "no instance type of the queue's compute environments has the job's vCPUs, memory "
        "(after the ECS agent's reserve) or GPUs",
        "lower the job's VCPU/MEMORY/GPU, or add larger instance types (cfgen preflight shows"
        " which fit)",
        _RUNNABLE,
        F,
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/"
        "GPU) is higher than that can be met by the CE(s) attached to the job queue.",
    ),
    Entry(
        "service-role-permissions",
        r"^MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS",
        "the Batch service role lacks permissions to launch or describe instances",
        "leave ServiceRoleArn empty (the service-linked role AWSServiceRoleForBatch) or grant"
        " the AWSBatchServiceRole policy",
        _RUNNABLE,
        F,
        "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS - Batch service role has a permission issue.",
    ),
    Entry(
        "invalid-ce",
        r"^ACTION_REQUIRED.*invalid",
        "every compute environment of the queue is INVALID; no time-limit action can clear this",
        "fix the compute environment's statusReason (cfgen doctor lists it) and update the stack",
        _INVALID_CE,
        F,
        "ACTION_REQUIRED - CE(s) associated with the job queue are invalid.",
    ),
    Entry(
        "canceled-capacity",
        r"^Canceled by JobStateTimeLimit action due to reason: CAPACITY",
        "the queue's time-limit action cancelled the job after waiting for capacity",
        "add instance types/Availability Zones or raise RunnableTimeoutSeconds, then resubmit",
        _CAPACITY,
        W,
        "Canceled by JobStateTimeLimit action due to reason: "
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    ),
    Entry(
        "canceled-misconfiguration",
        r"^Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION",
        "the queue's time-limit action cancelled a job that could never be placed",
        "fix the job size or MaxvCpus (see the reason after the colon), then resubmit",
        _RUNNABLE,
        F,
        "Canceled by JobStateTimeLimit action due to reason: "
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    ),
    # -- failed attempts: host, image, container
    Entry(
        "spot-reclaim",
        r"^Host EC2 \(instance i-[0-9a-f]+\) terminated",
        "the instance went away under the job (a Spot reclaim, or a scale-in)",
        "nothing if retries are left (the template retries Host EC2*); checkpoint often; diversify"
        " instance types if it happens a lot",
        _RETRIES,
        W,
        "Host EC2 (instance i-0123456789abcdef0) terminated.",
        spot_reclaim=True,
    ),
    Entry(
        "pull-wrong-architecture",
        r"CannotPullContainerError.*no matching manifest for linux/(arm64|amd64)",
        "the image has no build for the instances' architecture",
        "rebuild for the stack's ImagePlatform output: docker buildx build --platform"
        " linux/<arch> (scripts/push-image.sh does it)",
        _ARCH_THREAD,
        F,
        "CannotPullContainerError: no matching manifest for linux/arm64/v8 in the manifest list"
        " entries",
    ),
    Entry(
        "pull-network",
        r"CannotPullContainerError.*(i/o timeout|dial tcp|context deadline exceeded|"
        r"request canceled)",
        "the instance or task cannot reach the registry: no NAT/public IP and no VPC endpoints",
        "route 0.0.0.0/0 via NAT (or public IPs), or add VPC endpoints for ecr.api, ecr.dkr and"
        " S3; allow egress on 443 (cfgen preflight --stack checks both)",
        _PULL_NET,
        F,
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to"
        ' resolve ref: Head "https://1234.dkr.ecr.us-east-1.amazonaws.com/v2/x/manifests/1":'
        " dial tcp 52.0.0.1:443: i/o timeout",
    ),
    Entry(
        "pull-access-denied",
        r"CannotPullContainerError.*(AccessDenied|403|not authorized|no basic auth|"
        r"authorization token)",
        "the role that pulls (instance role on EC2, execution role on Fargate) may not read ECR",
        "grant ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer to"
        " that role",
        _PULL,
        F,
        "CannotPullContainerError: AccessDeniedException: User: arn:aws:sts::1:assumed-role/x"
        " is not authorized to perform: ecr:BatchGetImage",
    ),
    Entry(
        "pull-not-found",
        r"CannotPullContainerError.*(not found|manifest unknown|does not exist)",
        "the image or tag does not exist in the registry",
        "push the image (scripts/push-image.sh) or fix ContainerImage/ImageTag",
        _PULL,
        F,
        "CannotPullContainerError: ref pull has been retried 1 time(s): failed to resolve ref"
        " 1234.dkr.ecr.us-east-1.amazonaws.com/x:initial: not found",
    ),
    Entry(
        "pull-other",
        r"CannotPullContainerError",
        "the container image could not be pulled",
        "check the image name, the registry's reachability and the pulling role's permissions",
        _PULL,
        F,
        "CannotPullContainerError: Error response from daemon: toomanyrequests",
    ),
    Entry(
        "init-secrets",
        r"ResourceInitializationError: unable to pull secrets or registry auth",
        "Fargate could not fetch registry auth or secrets: no route to ECR/Secrets Manager/SSM,"
        " or the execution role lacks permissions",
        "give the subnets NAT or public IPs (AssignPublicIp) or VPC endpoints; check the"
        " execution role",
        _INIT,
        F,
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource"
        " retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3"
        " time(s)",
    ),
    Entry(
        "init-logger",
        r"ResourceInitializationError: failed to validate logger args",
        "the awslogs driver could not reach CloudWatch Logs or the log group is missing",
        "add a VPC endpoint for logs (or NAT), and make sure the log group exists",
        _INIT,
        F,
        "ResourceInitializationError: failed to validate logger args: : signal: killed",
    ),
    Entry(
        "init-other",
        r"ResourceInitializationError",
        "Fargate could not prepare the task's resources (network, volumes, secrets)",
        "check subnets, security group egress and the execution role",
        _INIT,
        F,
        "ResourceInitializationError: failed to configure ENI: timeout",
    ),
    Entry(
        "out-of-memory",
        r"OutOfMemoryError",
        "the container used more memory than the job's MEMORY and was killed",
        "raise JobMemoryMiB (cfgen preflight checks it still fits an instance) or use less memory",
        _OOM,
        W,
        "OutOfMemoryError: Container killed due to memory usage",
    ),
    Entry(
        "exec-format",
        r"exec format error",
        "the image's binaries are for another CPU architecture than the instance",
        "rebuild for the stack's ImagePlatform output (docker buildx build --platform"
        " linux/<arch>)",
        _START,
        F,
        "CannotStartContainerError: Error response from daemon: failed to create shim task:"
        " exec /usr/local/bin/python: exec format error",
    ),
    Entry(
        "cannot-start",
        r"CannotStartContainerError",
        "Docker could not start the container (bad entrypoint, missing file, mounts)",
        "run the image locally with the job's command; check the entrypoint and mounts",
        _START,
        F,
        "CannotStartContainerError: Error response from daemon: OCI runtime create failed",
    ),
    Entry(
        "cannot-inspect",
        r"CannotInspectContainerError",
        "the ECS agent could not inspect the container (Docker daemon overloaded or stuck)",
        "retry; if it repeats, use larger instances or fewer jobs per instance",
        _STOPPED,
        W,
        "CannotInspectContainerError: Could not transition to inspecting; timed out after"
        " waiting 30s",
    ),
    Entry(
        "cannot-create",
        r"CannotCreateContainerError",
        "Docker could not create the container (disk full, too many containers)",
        "raise RootVolumeGiB or clean up images; retry",
        _STOPPED,
        W,
        "CannotCreateContainerError: Error response from daemon: devmapper: Thin Pool has 0 free"
        " data blocks",
    ),
    Entry(
        "docker-timeout",
        r"DockerTimeoutError",
        "Docker did not answer in time while starting the container",
        "retry; use instances with more resources, or a smaller image",
        _STOPPED,
        W,
        "DockerTimeoutError: Could not transition to created; timed out after waiting 4m0s",
    ),
    Entry(
        "task-failed-to-start",
        r"Task failed to start",
        "ECS could not start the task (image, network or resources); no exit code",
        "look at the container reason of the attempt; the usual causes are pull and init errors",
        _STOPPED,
        F,
        "Task failed to start",
    ),
    Entry(
        "essential-exited",
        r"Essential container in task exited",
        "the job's container exited with a non-zero code (a failure of the job's own code)",
        "read the job's log lines below; exit codes 75/143 are retried by cfgen's job definition",
        _STOPPED,
        W,
        "Essential container in task exited",
    ),
    Entry(
        "attempt-timeout",
        r"Job attempt duration exceeded timeout",
        "the attempt ran longer than JobTimeoutSeconds and was stopped",
        "raise JobTimeoutSeconds, or checkpoint and resume across attempts",
        _TIMEOUTS,
        W,
        "Job attempt duration exceeded timeout",
    ),
    Entry(
        "dependency-failed",
        r"Dependent Job failed",
        "a job this one depends on failed, so Batch failed this one without running it",
        "fix and resubmit the failed dependency first",
        _DEPENDS,
        W,
        "Dependent Job failed",
    ),
    # -- compute environments (statusReason of an INVALID CE) and EC2 launch errors
    Entry(
        "service-role-assume",
        r"Not authorized to perform sts:AssumeRole",
        "Batch cannot assume the service role (wrong ARN, path or trust policy)",
        "leave ServiceRoleArn empty, or give the full role ARN with its path",
        _INVALID,
        F,
        "CLIENT_ERROR - Not authorized to perform sts:AssumeRole (Service:"
        " AWSSecurityTokenService; Status Code: 403; Error Code: AccessDenied)",
    ),
    Entry(
        "spot-fleet-role",
        r"SpotFleetRequestConfig\.IamFleetRole is invalid",
        "a BEST_FIT Spot compute environment has a missing or wrong Spot fleet role",
        "use SPOT_PRICE_CAPACITY_OPTIMIZED (no fleet role needed), or fix SpotIamFleetRole",
        _INVALID,
        F,
        "CLIENT_ERROR - Parameter: SpotFleetRequestConfig.IamFleetRole is invalid.",
    ),
    Entry(
        "instance-type-unsupported",
        r"instance type .* is not supported|InvalidParameterValue.*instance type|"
        r"Unsupported instance type",
        "an instance type does not exist in this region or Availability Zone",
        "remove it from InstanceTypes (cfgen preflight --online checks the offerings)",
        _INVALID,
        F,
        "Instance type 'x9.huge' is not supported in us-east-1",
    ),
    Entry(
        "vcpu-limit",
        r"VcpuLimitExceeded|requested more vCPU capacity than your current vCPU limit",
        "the account's vCPU quota is used up (Service Quotas L-34B43A08 / L-1216C47A)",
        "request a quota increase, or lower MaxvCpus to fit",
        _LAUNCH,
        F,
        "You have requested more vCPU capacity than your current vCPU limit of 32 allows for the"
        " instance bucket that the specified instance type belongs to.",
    ),
    Entry(
        "max-spot-count",
        r"MaxSpotInstanceCountExceeded|max spot instance count exceeded",
        "the account's Spot request limit is reached",
        "request a Spot vCPU quota increase (L-34B43A08)",
        _SPOT_LIMITS,
        F,
        "MaxSpotInstanceCountExceeded: Max spot instance count exceeded",
    ),
    Entry(
        "ec2-insufficient-capacity",
        r"InsufficientInstanceCapacity|do not have sufficient .* capacity",
        "EC2 has no capacity of the type in that Availability Zone right now",
        "add instance types and Availability Zones; wait, or use the On-Demand fallback",
        _LAUNCH,
        W,
        "We currently do not have sufficient c6i.large capacity in the Availability Zone you"
        " requested (us-east-1a).",
    ),
)


def explain(reason: str | None) -> Entry | None:
    """The first catalogue entry matching a status reason, None when unknown or empty."""
    if not reason:
        return None
    for entry in CATALOGUE:
        if entry.regex.search(reason):
            return entry
    return None


def is_spot_reclaim(reason: str | None) -> bool:
    entry = explain(reason)
    return entry is not None and entry.spot_reclaim
