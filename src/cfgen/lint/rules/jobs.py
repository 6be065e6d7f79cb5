# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""Rules for ``AWS::Batch::JobDefinition`` (W9030-W9038, E9031-E9037)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfgen.lint import _model as mdl

_CONTAINER_API = (
    "https://docs.aws.amazon.com/batch/latest/APIReference/API_ContainerProperties.html"
)
_RETRY_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html"
_RETRIES = "https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"
_TIMEOUT_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_JobTimeout.html"
_MNP = "https://docs.aws.amazon.com/batch/latest/userguide/multi-node-parallel-jobs.html"
_EXEC_ROLE = "https://docs.aws.amazon.com/batch/latest/userguide/execution-IAM-role.html"
_FARGATE_JD = "https://docs.aws.amazon.com/batch/latest/userguide/fargate.html"


def _containers(jd: mdl.Variant) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """(path below Properties, container properties) of a job definition variant."""
    cp = jd.props.get("ContainerProperties")
    if isinstance(cp, dict):
        yield ("ContainerProperties",), cp
    np = jd.props.get("NodeProperties")
    if isinstance(np, dict):
        for i, rng in enumerate(mdl.as_list(np.get("NodeRangeProperties"))):
            if isinstance(rng, dict) and isinstance(rng.get("Container"), dict):
                yield ("NodeProperties", "NodeRangeProperties", i, "Container"), rng["Container"]


def _platforms(m: mdl.Model, jd: mdl.Variant) -> set[str]:
    caps = m.resolve_list(jd.props.get("PlatformCapabilities", ["EC2"]))
    if mdl.is_unknown(caps):
        return set()
    return {str(c).upper() for c in caps if not mdl.is_unknown(c)}


def _jd_type(m: mdl.Model, jd: mdl.Variant) -> str:
    return str(m.text(jd.props.get("Type", "container"))).lower()


class DeprecatedVcpusMemory(CloudFormationLintRule):
    id = "W9030"
    shortdesc = "Deprecated Vcpus/Memory in container properties"
    description = "Vcpus and Memory are deprecated; use ResourceRequirements (VCPU, MEMORY)."
    source_url = _CONTAINER_API
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jd in m.all_variants(mdl.BATCH_JD):
            for where, c in _containers(jd):
                for prop in ("Vcpus", "Memory"):
                    if prop in c:
                        out.add(
                            mdl.res_path(jd.logical_id, *where, prop),
                            f"{prop} is deprecated; use ResourceRequirements",
                        )
        return out.matches()


class VcpusMemoryWithRequirements(CloudFormationLintRule):
    id = "E9031"
    shortdesc = "Vcpus/Memory together with ResourceRequirements"
    description = (
        "A container sets Vcpus/Memory and ResourceRequirements at once; Batch rejects it."
    )
    source_url = _CONTAINER_API
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jd in m.all_variants(mdl.BATCH_JD):
            for where, c in _containers(jd):
                legacy = [p for p in ("Vcpus", "Memory") if p in c]
                if legacy and c.get("ResourceRequirements"):
                    out.add(
                        mdl.res_path(jd.logical_id, *where, "ResourceRequirements"),
                        f"ResourceRequirements together with {' and '.join(legacy)}",
                    )
        return out.matches()


class FargateJobDefinition(CloudFormationLintRule):
    id = "E9032"
    shortdesc = "Fargate job definition without ExecutionRoleArn or ResourceRequirements"
    description = (
        "Job definitions for the FARGATE platform need an ExecutionRoleArn and "
        "ResourceRequirements (VCPU and MEMORY)."
    )
    source_url = _FARGATE_JD
    tags: ClassVar[list[str]] = ["resources", "batch", "fargate"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jd in m.all_variants(mdl.BATCH_JD):
            if "FARGATE" not in _platforms(m, jd):
                continue
            for where, c in _containers(jd):
                for prop in ("ExecutionRoleArn", "ResourceRequirements"):
                    if not c.get(prop):
                        out.add(
                            mdl.res_path(jd.logical_id, *where),
                            f"FARGATE job definition needs {prop}",
                        )
        return out.matches()


class RetryStrategyLimits(CloudFormationLintRule):
    id = "E9033"
    shortdesc = "RetryStrategy outside Batch's limits"
    description = (
        "RetryStrategy.Attempts must be 1-10 and EvaluateOnExit may hold at most 5 entries."
    )
    source_url = _RETRY_API
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jd in m.all_variants(mdl.BATCH_JD):
            retry = jd.props.get("RetryStrategy")
            if not isinstance(retry, dict):
                continue
            if "Attempts" in retry:
                n = m.number(retry["Attempts"])
                if not mdl.is_unknown(n) and not 1 <= n <= 10:
                    out.add(
                        mdl.res_path(jd.logical_id, "RetryStrategy", "Attempts"),
                        f"Attempts {n:g} is outside 1-10",
                    )
            rules = retry.get("EvaluateOnExit")
            if isinstance(rules, list) and len(rules) > 5:
                out.add(
                    mdl.res_path(jd.logical_id, "RetryStrategy", "EvaluateOnExit"),
                    f"{len(rules)} EvaluateOnExit entries; at most 5",
                )
        return out.matches()


class RetryCatchAll(CloudFormationLintRule):
    id = "W9034"
    shortdesc = "Last EvaluateOnExit entry is not an EXIT catch-all"
    description = (
        "Without a final Action EXIT matching everything (OnReason '*'), failures no "
        "entry matches are retried, so permanent errors burn every attempt."
    )
    source_url = _RETRIES
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jd in m.all_variants(mdl.BATCH_JD):
            retry = jd.props.get("RetryStrategy")
            if not isinstance(retry, dict):
                continue
            rules = retry.get("EvaluateOnExit")
            if isinstance(rules, list) and rules and not mdl.is_catch_all_exit(m, rules[-1]):
                out.add(
                    mdl.res_path(jd.logical_id, "RetryStrategy", "EvaluateOnExit", len(rules) - 1),
                    "Last EvaluateOnExit entry should be Action EXIT with OnReason '*'",
                )
        return out.matches()


class TimeoutTooShort(CloudFormationLintRule):
    id = "E9035"
    shortdesc = "Job timeout below 60 seconds"
    description = "Timeout.AttemptDurationSeconds must be at least 60."
    source_url = _TIMEOUT_API
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jd in m.all_variants(mdl.BATCH_JD):
            timeout = jd.props.get("Timeout")
            if isinstance(timeout, dict) and "AttemptDurationSeconds" in timeout:
                n = m.number(timeout["AttemptDurationSeconds"])
                if not mdl.is_unknown(n) and n < 60:
                    out.add(
                        mdl.res_path(jd.logical_id, "Timeout", "AttemptDurationSeconds"),
                        f"AttemptDurationSeconds {n:g} is below the minimum of 60",
                    )
        return out.matches()


def _queue_ce_types(m: mdl.Model) -> set[str]:
    """Types of every managed CE any job queue of the template can reach."""
    types: set[str] = set()
    for jq in m.all_variants(mdl.BATCH_JQ):
        for _, _, ces in m.queue_ces(jq):
            for ce in ces:
                t = m.ce_type(ce)
                types.add(t if isinstance(t, str) else "UNKNOWN")
    return types


class SpotReclaimNotRetried(CloudFormationLintRule):
    id = "W9036"
    shortdesc = "Job definition on a Spot queue does not retry Spot reclaims"
    description = (
        "When the template's queues reach a SPOT compute environment, EC2 job "
        "definitions should RETRY when OnStatusReason matches 'Host EC2*' (the host "
        "was reclaimed), with Attempts > 1."
    )
    source_url = _RETRIES
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        if "SPOT" not in _queue_ce_types(m):
            return []
        for jd in m.all_variants(mdl.BATCH_JD):
            if "EC2" not in _platforms(m, jd):
                continue
            retry = jd.props.get("RetryStrategy")
            if mdl.retries_spot_reclaim(m, retry) is False:
                where = ("RetryStrategy",) if isinstance(retry, dict) else ()
                out.add(
                    mdl.res_path(jd.logical_id, *where),
                    "Spot reclaims are not retried: add EvaluateOnExit "
                    "{OnStatusReason: 'Host EC2*', Action: RETRY} and Attempts > 1",
                )
        return out.matches()


class MultinodeOnSpotOnly(CloudFormationLintRule):
    id = "E9037"
    shortdesc = "Multi-node job definition whose queues reach only Spot"
    description = (
        "Multi-node parallel jobs are not supported on Spot compute environments; the "
        "template's queues must reach an EC2 (On-Demand) compute environment."
    )
    source_url = _MNP
    tags: ClassVar[list[str]] = ["resources", "batch", "spot"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        types = _queue_ce_types(m)
        if types != {"SPOT"}:
            return []
        for jd in m.all_variants(mdl.BATCH_JD):
            if _jd_type(m, jd) == "multinode":
                out.add(
                    mdl.res_path(jd.logical_id, "Type"),
                    "Multi-node job definition, but every job queue reaches only SPOT "
                    "compute environments",
                )
        return out.matches()


_EXEC_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)


def _role_policies(m: mdl.Model, role_id: str) -> Iterator[tuple[Any, Any]]:
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


def _has_exec_permissions(m: mdl.Model, role_id: str) -> str | None:
    for arn, doc in _role_policies(m, role_id):
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
            for action in _EXEC_ACTIONS:
                if mdl.action_allows(st.get("Action"), action):
                    return action
    return None


class JobRoleWithExecutionPermissions(CloudFormationLintRule):
    id = "W9038"
    shortdesc = "Job role carries task-execution permissions"
    description = (
        "The job role is what the job's code may do; pulling images and writing logs "
        "belongs to the execution role. A job role with AmazonECSTaskExecutionRolePolicy "
        "or ECR pull permissions (or the same role as ExecutionRoleArn) conflates the two."
    )
    source_url = _EXEC_ROLE
    tags: ClassVar[list[str]] = ["resources", "batch", "iam"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jd in m.all_variants(mdl.BATCH_JD):
            for where, c in _containers(jd):
                role = m.target(c.get("JobRoleArn"))
                if role is None:
                    continue
                path = mdl.res_path(jd.logical_id, *where, "JobRoleArn")
                if m.target(c.get("ExecutionRoleArn")) == role:
                    out.add(path, f"JobRoleArn and ExecutionRoleArn are the same role {role}")
                found = _has_exec_permissions(m, role)
                if found:
                    out.add(path, f"Job role {role} carries task-execution permission {found}")
        return out.matches()
