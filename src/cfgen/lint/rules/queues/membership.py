# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9520, E9521, E9522: queues rules (membership)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import queues as sup


class TooManyComputeEnvironments(base.BatchRule):
    id = "E9520"
    shortdesc = "Job queue with more than 3 compute environments"
    description = "A job queue can be associated with at most three compute environments."
    source_url = sup.JQ_API

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jq in m.all_variants(mdl.BATCH_JQ):
            order = jq.props.get("ComputeEnvironmentOrder")
            if isinstance(order, list) and len(order) > 3:
                out.add(
                    mdl.res_path(jq.logical_id, "ComputeEnvironmentOrder"),
                    f"{len(order)} compute environments; a job queue takes at most 3",
                )


class DuplicateOrder(base.BatchRule):
    id = "E9521"
    shortdesc = "Duplicate Order in ComputeEnvironmentOrder"
    description = "Each compute environment of a queue needs a distinct Order."
    source_url = sup.ORDER_API

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
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


class MixedPlatformQueue(base.BatchRule):
    id = "E9522"
    shortdesc = "EC2/SPOT and FARGATE compute environments in one queue"
    description = (
        "A job queue's compute environments must all be EC2/SPOT or all FARGATE/FARGATE_SPOT."
    )
    source_url = sup.JQ_API
    tags: ClassVar[list[str]] = ["resources", "batch", "fargate"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jq in m.all_variants(mdl.BATCH_JQ):
            for members in m.queue_members(jq):
                kinds: dict[str, mdl.Variant] = {}
                for _, ce in members:
                    t = m.ce_type(ce)
                    if t in mdl.EC2_TYPES:
                        kinds.setdefault("EC2", ce)
                    elif t in mdl.FARGATE_TYPES:
                        kinds.setdefault("FARGATE", ce)
                if len(kinds) > 1:
                    out.add(
                        mdl.res_path(jq.logical_id, "ComputeEnvironmentOrder"),
                        f"Queue mixes EC2/SPOT ({kinds['EC2'].logical_id}) with FARGATE "
                        f"({kinds['FARGATE'].logical_id})",
                        jq,
                    )
