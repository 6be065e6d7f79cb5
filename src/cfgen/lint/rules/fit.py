# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
# NamedTuple, not dataclass: cfn-lint imports rule files without sys.modules entries.
"""Will a job ever leave RUNNABLE? Fit rules (E9590-E9593, W9590-W9592).

With the parameter values the template is linted with (defaults, or the
values `cfgen preflight --template FILE Key=Value` substitutes), every job
definition must fit at least one instance type of every compute environment a
queue of its platform reaches -- counting the memory the ECS agent and the
kernel keep back (cfgen.ec2.job_memory_mib) -- GPU jobs must reach GPU types,
MaxvCpus must hold the largest job and one of the smallest instances, Fargate
sizes must be valid pairs, and instance types must exist. Instance data:
the bundled DescribeInstanceTypes table (cfgen.ec2.instance_specs).

The RUNNABLE reasons Batch reports for these, and which of them a queue's
JobStateTimeLimitActions may act on:
https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, NamedTuple

from cfgen import ec2
from cfgen.lint import base
from cfgen.lint import model as mdl

_MEMORY = "https://docs.aws.amazon.com/batch/latest/userguide/memory-management.html"
_RUNNABLE = "https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html"
_GPU = "https://docs.aws.amazon.com/batch/latest/userguide/gpu-jobs.html"
_FARGATE_SIZES = (
    "https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html"
)
_CE_RESOURCES = "https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html"

#: Reasons a JobStateTimeLimitAction may name for ECS (EC2/Fargate) queues; an
#: INVALID compute environment (ACTION_REQUIRED) cannot be acted on.
#: https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html
#: https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_batch.JobStateTimeLimitActionsReason.html
TIME_LIMIT_REASONS = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
)


class Job(NamedTuple):
    """One container of a job definition variant: what it asks for."""

    jd: mdl.Variant
    path: mdl.Path  #: below Properties, to ResourceRequirements (or the container)
    vcpus: float | Any
    memory_mib: float | Any
    gpus: float


def jobs(m: mdl.Model, platform: str) -> Iterator[Job]:
    """Single-node container jobs of a platform (EC2 or FARGATE)."""
    for jd in m.all_variants(mdl.BATCH_JD):
        caps = m.resolve_list(jd.props.get("PlatformCapabilities", ["EC2"]))
        if mdl.is_unknown(caps) or platform not in {str(c).upper() for c in caps}:
            continue
        cp = jd.props.get("ContainerProperties")
        if not isinstance(cp, dict):
            continue
        reqs = {
            str(m.text(r.get("Type"))).upper(): m.number(r.get("Value"))
            for r in mdl.as_list(cp.get("ResourceRequirements"))
            if isinstance(r, dict)
        }
        vcpus = reqs.get("VCPU", m.number(cp["Vcpus"]) if "Vcpus" in cp else mdl.UNKNOWN)
        memory = reqs.get("MEMORY", m.number(cp["Memory"]) if "Memory" in cp else mdl.UNKNOWN)
        gpus = reqs.get("GPU", 0.0)
        where = "ResourceRequirements" if "ResourceRequirements" in cp else "Vcpus"
        yield Job(
            jd,
            ("ContainerProperties", where),
            vcpus,
            memory,
            0.0 if mdl.is_unknown(gpus) else float(gpus),
        )


class Ce(NamedTuple):
    """A compute environment variant reached by a queue, with its resolved resources."""

    ce: mdl.Variant
    kind: str  #: EC2 | SPOT | FARGATE | FARGATE_SPOT
    max_vcpus: float | Any
    entries: list[Any] | Any  #: InstanceTypes with defaults applied (EC2/SPOT)


def reached_ces(m: mdl.Model) -> Iterator[Ce]:
    """Each CE variant some queue reaches, once; CEs whose Condition is false are left out."""
    seen: set[tuple[str, str]] = set()
    for jq in m.all_variants(mdl.BATCH_JQ):
        for _, _, ces in m.queue_ces(jq):
            for ce in ces:
                key = (ce.logical_id, repr(sorted(ce.scenario.items())))
                if key in seen or condition_holds(m, m.resources[ce.logical_id]) is False:
                    continue
                seen.add(key)
                kind = m.ce_type(ce)
                cr = ce.props.get("ComputeResources")
                if mdl.is_unknown(kind) or not isinstance(cr, dict):
                    continue
                yield Ce(
                    ce,
                    kind,
                    m.number(cr.get("MaxvCpus")),
                    m.resolve_list(cr.get("InstanceTypes", [])),
                )


def condition_holds(m: mdl.Model, resource: dict[str, Any]) -> bool | Any:
    """The resource's Condition evaluated with parameter values (UNKNOWN when undecidable)."""
    name = resource.get("Condition")
    if not isinstance(name, str):
        return True
    conditions = m.cfn.template.get("Conditions", {}) if isinstance(m.cfn.template, dict) else {}
    return _evaluate(m, conditions, conditions.get(name), depth=0)


def _evaluate(m: mdl.Model, conditions: dict[str, Any], expr: Any, *, depth: int) -> bool | Any:
    if depth > 20 or not isinstance(expr, dict) or len(expr) != 1:
        return mdl.UNKNOWN
    ((fn, args),) = expr.items()
    if fn == "Condition" and isinstance(args, str):
        return _evaluate(m, conditions, conditions.get(args), depth=depth + 1)
    if not isinstance(args, list):
        return mdl.UNKNOWN
    if fn == "Fn::Equals" and len(args) == 2:
        a, b = (m.resolve(x) for x in args)
        if mdl.is_unknown(a) or mdl.is_unknown(b):
            return mdl.UNKNOWN
        return str(a) == str(b)
    values = [_evaluate(m, conditions, x, depth=depth + 1) for x in args]
    return _combine(fn, values)


#: How Fn::Not, Fn::And and Fn::Or combine known truth values.
_COMBINERS: dict[str, Any] = {
    "Fn::Not": lambda vs: not vs[0] if len(vs) == 1 else mdl.UNKNOWN,
    "Fn::And": all,
    "Fn::Or": any,
}


def _combine(fn: str, values: list[Any]) -> bool | Any:
    if fn not in _COMBINERS or any(mdl.is_unknown(v) for v in values):
        return mdl.UNKNOWN
    return _COMBINERS[fn](values)


def _specs(ce: Ce) -> list[ec2.InstanceSpec] | None:
    if mdl.is_unknown(ce.entries) or any(mdl.is_unknown(e) for e in ce.entries):
        return None
    return ec2.expand(str(e) for e in ce.entries) or None


def _ec2_pairs(m: mdl.Model) -> Iterator[tuple[Job, Ce, list[ec2.InstanceSpec]]]:
    ces = [c for c in reached_ces(m) if c.kind in mdl.EC2_TYPES]
    for job in jobs(m, "EC2"):
        for ce in ces:
            if not mdl.compatible(job.jd.scenario, ce.ce.scenario):
                continue
            specs = _specs(ce)
            if specs is not None:
                yield job, ce, specs


def _misfits(
    m: mdl.Model, fits: Callable[[Job, list[ec2.InstanceSpec]], bool]
) -> Iterator[tuple[Job, Ce, list[ec2.InstanceSpec]]]:
    """(job, compute environment, its types) where the job cannot run on that environment.

    A job definition names no queue: with one queue in the template every job
    goes there, so each of its environments must host the job; with several,
    a job is reported only when no environment of any queue can host it (it
    may be meant for another queue than the one that cannot take it).
    """
    pairs = list(_ec2_pairs(m))
    single_queue = len(m.of_type(mdl.BATCH_JQ)) <= 1
    by_job: dict[tuple[str, str], list[tuple[Job, Ce, list[ec2.InstanceSpec]]]] = {}
    for job, ce, specs in pairs:
        key = (job.jd.logical_id, json.dumps(job.jd.scenario, sort_keys=True))
        by_job.setdefault(key, []).append((job, ce, specs))
    for group in by_job.values():
        bad = [(job, ce, specs) for job, ce, specs in group if not fits(job, specs)]
        if single_queue:
            yield from bad
        elif bad and len(bad) == len(group):
            yield bad[0]  # one finding per defect: the job fits nowhere


def _mib(value: float) -> str:
    return f"{value:g} MiB"


class JobDoesNotFit(base.BatchRule):
    id = "E9590"
    shortdesc = "Job larger than every instance type of a compute environment"
    description = (
        "A job whose vCPUs or memory exceed what every instance type of a compute environment "
        "offers -- memory counted after the kernel's share and the ECS agent's 32 MiB reserve -- "
        "stays RUNNABLE with MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT."
    )
    source_url = _MEMORY
    tags: ClassVar[list[str]] = ["resources", "batch", "preflight"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        def fits(job: Job, specs: list[ec2.InstanceSpec]) -> bool:
            if mdl.is_unknown(job.vcpus) or mdl.is_unknown(job.memory_mib):
                return True
            return any(s.vcpus >= job.vcpus and s.job_memory_mib >= job.memory_mib for s in specs)

        for job, ce, specs in _misfits(m, fits):
            best = max(specs, key=lambda s: (s.job_memory_mib, s.vcpus))
            out.add(
                mdl.res_path(job.jd.logical_id, *job.path),
                f"{job.jd.logical_id} asks for {job.vcpus:g} vCPU and {_mib(job.memory_mib)}; no"
                f" instance type of {ce.ce.logical_id} has that (largest: {best.name},"
                f" {best.vcpus} vCPU, {_mib(best.job_memory_mib)} for jobs of"
                f" {_mib(best.memory_mib)}): jobs stay RUNNABLE"
                " (MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT). Fix: lower the job's VCPU/MEMORY"
                " or add larger instance types",
            )


class GpuJobWithoutGpuTypes(base.BatchRule):
    id = "E9591"
    shortdesc = "GPU job reaching a compute environment without enough GPUs"
    description = (
        "A job asking for GPUs is placed only on instance types with at least that many GPUs; "
        "a compute environment without them leaves it RUNNABLE."
    )
    source_url = _GPU
    tags: ClassVar[list[str]] = ["resources", "batch", "gpu", "preflight"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        def fits(job: Job, specs: list[ec2.InstanceSpec]) -> bool:
            return job.gpus <= 0 or any(s.gpus >= job.gpus for s in specs)

        for job, ce, specs in _misfits(m, fits):
            most = max(s.gpus for s in specs)
            out.add(
                mdl.res_path(job.jd.logical_id, *job.path),
                f"{job.jd.logical_id} asks for {job.gpus:g} GPU; the instance types of "
                f"{ce.ce.logical_id} have at most {most}: jobs stay RUNNABLE "
                "(MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT). Fix: use GPU instance types "
                f"({', '.join(ec2.GPU_FAMILIES[:6])}, ...) with ECS_AL2023_NVIDIA",
            )


class JobAboveMaxvCpus(base.BatchRule):
    id = "E9592"
    shortdesc = "MaxvCpus below the vCPUs of a job"
    description = (
        "A compute environment whose MaxvCpus is smaller than a job's vCPUs can never run it: "
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE."
    )
    source_url = _RUNNABLE
    tags: ClassVar[list[str]] = ["resources", "batch", "preflight"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for platform, kinds in (("EC2", mdl.EC2_TYPES), ("FARGATE", mdl.FARGATE_TYPES)):
            ces = [c for c in reached_ces(m) if c.kind in kinds]
            for job in jobs(m, platform):
                for ce in ces:
                    if mdl.is_unknown(job.vcpus) or mdl.is_unknown(ce.max_vcpus):
                        continue
                    if not mdl.compatible(job.jd.scenario, ce.ce.scenario):
                        continue
                    if ce.max_vcpus < job.vcpus:
                        out.add(
                            mdl.res_path(ce.ce.logical_id, "ComputeResources", "MaxvCpus"),
                            f"MaxvCpus {ce.max_vcpus:g} of {ce.ce.logical_id} is below the "
                            f"{job.vcpus:g} vCPU of {job.jd.logical_id}: jobs stay RUNNABLE "
                            "(MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE). Fix: raise "
                            "MaxvCpus or lower the job's VCPU",
                        )


class FargateSize(base.BatchRule):
    id = "E9593"
    shortdesc = "Fargate job with a vCPU/memory pair Fargate does not offer"
    description = (
        "Fargate runs only the documented vCPU/memory combinations (0.25 vCPU: 512-2048 MiB, "
        "..., 16 vCPU: 32-120 GiB)."
    )
    source_url = _FARGATE_SIZES
    tags: ClassVar[list[str]] = ["resources", "batch", "fargate", "preflight"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        from cfgen.config import FARGATE_MEMORY

        for job in jobs(m, "FARGATE"):
            vcpus, memory = job.vcpus, job.memory_mib
            if mdl.is_unknown(vcpus) or mdl.is_unknown(memory):
                continue
            allowed = FARGATE_MEMORY.get(vcpus)
            if allowed is None:
                sizes = ", ".join(f"{v:g}" for v in FARGATE_MEMORY)
                msg = f"{vcpus:g} vCPU is not a Fargate size (one of {sizes})"
            elif memory not in allowed:
                msg = (
                    f"{_mib(memory)} is not offered with {vcpus:g} vCPU on Fargate "
                    f"({allowed[0]}-{allowed[-1]} MiB in steps of "
                    f"{allowed[1] - allowed[0] if len(allowed) > 1 else allowed[0]})"
                )
            else:
                continue
            out.add(
                mdl.res_path(job.jd.logical_id, *job.path),
                f"{job.jd.logical_id}: {msg}. Fix: pick a documented vCPU/memory pair",
            )


class MaxvCpusBelowSmallestInstance(base.BatchRule):
    id = "W9590"
    shortdesc = "MaxvCpus below the smallest instance type"
    description = (
        "A compute environment whose MaxvCpus is below the vCPUs of its smallest instance type "
        "cannot hold one instance within its limit."
    )
    source_url = _CE_RESOURCES
    tags: ClassVar[list[str]] = ["resources", "batch", "preflight"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce in reached_ces(m):
            if ce.kind not in mdl.EC2_TYPES or mdl.is_unknown(ce.max_vcpus) or ce.max_vcpus <= 0:
                continue
            specs = _specs(ce)
            if specs is None:
                continue
            smallest = min(specs, key=lambda s: s.vcpus)
            if ce.max_vcpus < smallest.vcpus:
                out.add(
                    mdl.res_path(ce.ce.logical_id, "ComputeResources", "MaxvCpus"),
                    f"MaxvCpus {ce.max_vcpus:g} of {ce.ce.logical_id} is below its smallest "
                    f"instance type ({smallest.name}, {smallest.vcpus} vCPU). Fix: raise MaxvCpus "
                    "to at least that",
                )


class UnknownInstanceType(base.BatchRule):
    id = "W9591"
    shortdesc = "Instance type not in the bundled DescribeInstanceTypes table"
    description = (
        "An InstanceTypes entry that is neither a known instance type, a family of them, nor a "
        "Batch pseudo type (optimal, default_x86_64, default_arm64): a typo, or a type newer "
        "than the bundled table (refresh it with scripts/refresh_instance_types.py)."
    )
    source_url = _CE_RESOURCES
    tags: ClassVar[list[str]] = ["resources", "batch", "preflight"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ce in reached_ces(m):
            if ce.kind not in mdl.EC2_TYPES or mdl.is_unknown(ce.entries):
                continue
            for entry in ce.entries:
                if mdl.is_unknown(entry) or ec2.expand([str(entry)]) is not None:
                    continue
                if str(entry).strip().lower() in ec2.PSEUDO_TYPES:
                    continue
                # A second source: the per-region instance-type enums cfn-lint ships
                # (older types the bundled table, taken from DescribeInstanceTypes
                # of one region, may lack).
                name = str(entry).strip().lower()
                if name in mdl.known_instance_types() or name in mdl.known_families():
                    continue
                _, as_of = ec2.spec_table_source()
                out.add(
                    mdl.res_path(ce.ce.logical_id, "ComputeResources", "InstanceTypes"),
                    f"{entry!s} in {ce.ce.logical_id} is not an instance type or family of the "
                    f"bundled table (as of {as_of}). Fix: check the name, or refresh the table",
                )


class TimeLimitActionsIncomplete(base.BatchRule):
    id = "W9592"
    shortdesc = "JobStateTimeLimitActions miss a blocked-job reason Batch can act on"
    description = (
        "A queue that cancels jobs stuck RUNNABLE for some reasons but not for every reason "
        "Batch allows (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY, "
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE, "
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT) keeps the others blocking the queue."
    )
    source_url = _RUNNABLE
    tags: ClassVar[list[str]] = ["resources", "batch", "preflight"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for jq in m.all_variants(mdl.BATCH_JQ):
            actions = jq.props.get("JobStateTimeLimitActions")
            if not isinstance(actions, list) or not actions:
                continue
            reasons = {
                str(m.text(a.get("Reason")))
                for a in actions
                if isinstance(a, dict) and str(m.text(a.get("State", "RUNNABLE"))) == "RUNNABLE"
            }
            missing = [r for r in TIME_LIMIT_REASONS if r not in reasons]
            if missing:
                out.add(
                    mdl.res_path(jq.logical_id, "JobStateTimeLimitActions"),
                    f"{jq.logical_id} has no RUNNABLE time-limit action for {', '.join(missing)}: "
                    "such jobs block the queue forever. Fix: add a CANCEL action per reason",
                )
