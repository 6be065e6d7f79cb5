# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""Rules for ``AWS::Batch::JobQueue`` (E9013, E9020-E9022)."""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfgen.lint import _model as mdl

_JQ_API = "https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html"
_ORDER_API = (
    "https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeEnvironmentOrder.html"
)


class MixedArchitectureInQueue(CloudFormationLintRule):
    id = "E9013"
    shortdesc = "arm64 and x86_64 compute environments behind one job queue"
    description = (
        "Jobs from one queue land on any of its compute environments; when one is arm64 "
        "and another x86_64, the image matches only one of them."
    )
    source_url = "https://docs.aws.amazon.com/batch/latest/userguide/job_queue_parameters.html"
    tags: ClassVar[list[str]] = ["resources", "batch", "arm64"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jq in m.all_variants(mdl.BATCH_JQ):
            seen: dict[str, str] = {}
            for _, _, ces in m.queue_ces(jq):
                for ce in ces:
                    cr = ce.props.get("ComputeResources")
                    if isinstance(cr, dict):
                        for arch in mdl.ce_architectures(m, cr):
                            seen.setdefault(arch, ce.logical_id)
            if len(seen) > 1:
                out.add(
                    mdl.res_path(jq.logical_id, "ComputeEnvironmentOrder"),
                    f"Queue mixes arm64 ({seen['arm64']}) and x86_64 ({seen['x86_64']}) "
                    "compute environments",
                )
        return out.matches()


class TooManyComputeEnvironments(CloudFormationLintRule):
    id = "E9020"
    shortdesc = "Job queue with more than 3 compute environments"
    description = "A job queue can be associated with at most three compute environments."
    source_url = _JQ_API
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jq in m.all_variants(mdl.BATCH_JQ):
            order = jq.props.get("ComputeEnvironmentOrder")
            if isinstance(order, list) and len(order) > 3:
                out.add(
                    mdl.res_path(jq.logical_id, "ComputeEnvironmentOrder"),
                    f"{len(order)} compute environments; a job queue takes at most 3",
                )
        return out.matches()


class DuplicateOrder(CloudFormationLintRule):
    id = "E9021"
    shortdesc = "Duplicate Order in ComputeEnvironmentOrder"
    description = "Each compute environment of a queue needs a distinct Order."
    source_url = _ORDER_API
    tags: ClassVar[list[str]] = ["resources", "batch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jq in m.all_variants(mdl.BATCH_JQ):
            orders: dict[float, int] = {}
            for i, order, _ in m.queue_ces(jq):
                value = m.number(order)
                if mdl.is_unknown(value):
                    continue
                if value in orders:
                    out.add(
                        mdl.res_path(jq.logical_id, "ComputeEnvironmentOrder", i, "Order"),
                        f"Order {value:g} is already used by entry {orders[value]}",
                    )
                else:
                    orders[value] = i
        return out.matches()


class MixedPlatformQueue(CloudFormationLintRule):
    id = "E9022"
    shortdesc = "EC2/SPOT and FARGATE compute environments in one queue"
    description = (
        "A job queue's compute environments must all be EC2/SPOT or all FARGATE/FARGATE_SPOT."
    )
    source_url = _JQ_API
    tags: ClassVar[list[str]] = ["resources", "batch", "fargate"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        m, out = mdl.model(cfn), mdl.Findings(cfn)
        for jq in m.all_variants(mdl.BATCH_JQ):
            kinds: dict[str, str] = {}
            for _, _, ces in m.queue_ces(jq):
                for ce in ces:
                    t = m.ce_type(ce)
                    if t in mdl.EC2_TYPES:
                        kinds.setdefault("EC2", ce.logical_id)
                    elif t in mdl.FARGATE_TYPES:
                        kinds.setdefault("FARGATE", ce.logical_id)
            if len(kinds) > 1:
                out.add(
                    mdl.res_path(jq.logical_id, "ComputeEnvironmentOrder"),
                    f"Queue mixes EC2/SPOT ({kinds['EC2']}) with FARGATE ({kinds['FARGATE']})",
                )
        return out.matches()
