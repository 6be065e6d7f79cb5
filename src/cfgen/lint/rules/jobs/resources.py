# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""W9530, E9531, E9532: jobs rules (resources)."""

from __future__ import annotations

from typing import ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl
from cfgen.lint.support import jobs as sup


class DeprecatedVcpusMemory(base.BatchRule):
    id = "W9530"
    shortdesc = "Deprecated Vcpus/Memory in container properties"
    description = "Vcpus and Memory are deprecated; use ResourceRequirements (VCPU, MEMORY)."
    source_url = sup.CONTAINER_API

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jd in m.all_variants(mdl.BATCH_JD):
            for where, c in sup.containers(jd):
                legacy = [p for p in ("Vcpus", "Memory") if p in c]
                if legacy:
                    out.add(
                        mdl.res_path(jd.logical_id, *where, legacy[0]),
                        f"{' and '.join(legacy)} {'is' if len(legacy) == 1 else 'are'} "
                        "deprecated; use ResourceRequirements",
                    )


class VcpusMemoryWithRequirements(base.BatchRule):
    id = "E9531"
    shortdesc = "Vcpus/Memory together with ResourceRequirements"
    description = (
        "A container sets Vcpus/Memory and a VCPU/MEMORY ResourceRequirements entry at "
        "once; Batch rejects it. A GPU-only ResourceRequirements next to Vcpus/Memory "
        "is accepted and not reported."
    )
    source_url = sup.CONTAINER_API

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jd in m.all_variants(mdl.BATCH_JD):
            for where, c in sup.containers(jd):
                legacy = [p for p in ("Vcpus", "Memory") if p in c]
                kinds = sup.requirement_types(m, c)
                clash = sorted(kinds & {"VCPU", "MEMORY"})
                if legacy and clash:
                    out.add(
                        mdl.res_path(jd.logical_id, *where, "ResourceRequirements"),
                        f"ResourceRequirements {' and '.join(clash)} together with "
                        f"{' and '.join(legacy)}",
                    )


class FargateJobDefinition(base.BatchRule):
    id = "E9532"
    shortdesc = "Fargate job definition without ExecutionRoleArn or ResourceRequirements"
    description = (
        "Job definitions for the FARGATE platform need an ExecutionRoleArn and "
        "ResourceRequirements (VCPU and MEMORY)."
    )
    source_url = sup.FARGATE_JD
    tags: ClassVar[list[str]] = ["resources", "batch", "fargate"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jd in m.all_variants(mdl.BATCH_JD):
            if "FARGATE" not in sup.platforms(m, jd):
                continue
            for where, c in sup.containers(jd):
                for prop in ("ExecutionRoleArn", "ResourceRequirements"):
                    if not c.get(prop):
                        out.add(
                            mdl.res_path(jd.logical_id, *where),
                            f"FARGATE job definition needs {prop}",
                        )
