# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""E9513: queues rules (architecture)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl


class MixedArchitectureInQueue(base.BatchRule):
    id = "E9513"
    shortdesc = "arm64 and x86_64 compute environments behind one job queue"
    description = (
        "Jobs from one queue land on any of its compute environments; when one is arm64 "
        "and another x86_64, the image matches only one of them."
    )
    source_url = "https://docs.aws.amazon.com/batch/latest/userguide/job_queue_parameters.html"
    tags: ClassVar[list[str]] = ["resources", "batch", "arm64"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jq in m.all_variants(mdl.BATCH_JQ):
            for members in m.queue_members(jq):
                seen: dict[str, str] = {}
                for _, ce in members:
                    cr = ce.props.get("ComputeResources")
                    if isinstance(cr, dict):
                        for arch in mdl.ce_architectures(m, cr):
                            seen.setdefault(arch, ce.logical_id)
                if len(seen) > 1:
                    out.add(
                        mdl.res_path(jq.logical_id, "ComputeEnvironmentOrder"),
                        f"Queue mixes arm64 ({seen['arm64']}) and x86_64 ({seen['x86_64']}) "
                        "compute environments",
                        jq,
                    )
