"""Shared by the jobs rules (src/cfgen/lint/rules/jobs/)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cfgen.lint import model as mdl

CONTAINER_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_ContainerProperties.html"
RETRY_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html"
RETRIES = "https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"
TIMEOUT_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_JobTimeout.html"
MNP = "https://docs.aws.amazon.com/batch/latest/userguide/multi-node-parallel-jobs.html"
EXEC_ROLE = "https://docs.aws.amazon.com/batch/latest/userguide/execution-IAM-role.html"
FARGATE_JD = "https://docs.aws.amazon.com/batch/latest/userguide/fargate.html"


def containers(jd: mdl.Variant) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """(path below Properties, container properties) of a job definition variant."""
    cp = jd.props.get("ContainerProperties")
    if isinstance(cp, dict):
        yield ("ContainerProperties",), cp
    np = jd.props.get("NodeProperties")
    if isinstance(np, dict):
        for i, rng in enumerate(mdl.as_list(np.get("NodeRangeProperties"))):
            if isinstance(rng, dict) and isinstance(rng.get("Container"), dict):
                yield ("NodeProperties", "NodeRangeProperties", i, "Container"), rng["Container"]


def platforms(m: mdl.Model, jd: mdl.Variant) -> set[str]:
    caps = m.resolve_list(jd.props.get("PlatformCapabilities", ["EC2"]))
    if mdl.is_unknown(caps):
        return set()
    return {str(c).upper() for c in caps if not mdl.is_unknown(c)}


def jd_type(m: mdl.Model, jd: mdl.Variant) -> str:
    return str(m.text(jd.props.get("Type", "container"))).lower()


def queue_ce_types(m: mdl.Model) -> set[str]:
    """Types of every managed CE any job queue of the template can reach."""
    types: set[str] = set()
    for jq in m.all_variants(mdl.BATCH_JQ):
        for _, _, ces in m.queue_ces(jq):
            for ce in ces:
                t = m.ce_type(ce)
                types.add(t if isinstance(t, str) else "UNKNOWN")
    return types


EXEC_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)


def role_policies(m: mdl.Model, role_id: str) -> Iterator[tuple[Any, Any]]:
    """(managed policy ARN or None, policy document or None) attached to a role."""
    for role in m.variants(role_id):
        for arn in mdl.as_list(role.props.get("ManagedPolicyArns")):
            yield arn, None
        for pol in mdl.as_list(role.props.get("Policies")):
            if isinstance(pol, dict):
                yield None, pol.get("PolicyDocument")
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
        for pol in m.all_variants(kind):
            roles = mdl.as_list(pol.props.get("Roles")) + mdl.as_list(pol.props.get("RoleName"))
            if any(m.target(r) == role_id for r in roles):
                yield None, pol.props.get("PolicyDocument")


def has_exec_permissions(m: mdl.Model, role_id: str) -> str | None:
    for arn, doc in role_policies(m, role_id):
        text = (
            arn
            if isinstance(arn, str)
            else str(arn.get("Fn::Sub", ""))
            if isinstance(arn, dict)
            else ""
        )
        if "AmazonECSTaskExecutionRolePolicy" in text:
            return "AmazonECSTaskExecutionRolePolicy"
        for st in mdl.statements(doc):
            if st.get("Effect") != "Allow":
                continue
            for action in EXEC_ACTIONS:
                if mdl.action_allows(st.get("Action"), action):
                    return action
    return None


def requirement_types(m: mdl.Model, container: dict[str, Any]) -> set[str]:
    """The Type of each ResourceRequirements entry (VCPU, MEMORY, GPU); UNKNOWN ones left out."""
    out = set()
    for req in mdl.as_list(container.get("ResourceRequirements")):
        if isinstance(req, dict):
            kind = m.text(req.get("Type"))
            if isinstance(kind, str):
                out.add(kind.upper())
    return out


# What Batch reports when a container cannot start: statusReason "Task failed to
# start", the error class in the container's reason, no exit code
# (https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html retries
# onStatusReason "Task failed to start"; the classes are in
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html).
START_FAILURE_STATUS_REASON = "Task failed to start"
START_FAILURE_ERRORS = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
    "DockerTimeoutError: Could not transition to created; timed out after waiting 4m0s",
    "ResourceInitializationError: unable to pull secrets or registry auth",
)


def first_match(m: mdl.Model, entries: list[Any], status_reason: str, reason: str) -> int | None:
    """Index of the first EvaluateOnExit entry matching a failure without exit code.

    None when no entry matches (Batch then retries) or when an entry before the
    match cannot be decided.
    """
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return None
        verdict = mdl.rule_matches(m, entry, status_reason, reason, None)
        if mdl.is_unknown(verdict):
            return None
        if verdict:
            return i
    return None


def retry_strategies(m: mdl.Model) -> Iterator[tuple[mdl.Variant, dict[str, Any]]]:
    """(job definition variant, its RetryStrategy) where one is set."""
    for jd in m.all_variants(mdl.BATCH_JD):
        retry = jd.props.get("RetryStrategy")
        if isinstance(retry, dict):
            yield jd, retry


def retried_as_cfn_example(m: mdl.Model, entries: list[Any]) -> bool:
    """The entries RETRY 'Task failed to start' when it comes as the reason.

    CloudFormation's RetryStrategy example matches it with OnReason (the Batch
    guide with onStatusReason); a template following either is not reported.
    """
    index = first_match(m, entries, START_FAILURE_STATUS_REASON, START_FAILURE_STATUS_REASON)
    if index is None:
        return False
    return str(m.text(entries[index].get("Action"))).upper() == "RETRY"
