"""EC2 and Batch-allocation knowledge, spelled once.

Used by profile validation (config), the parameters (the instance-type
pattern), the lint rules, the cost model and ``cfgen diff``. Nothing here
imports troposphere or cfn-lint at module level: it is on the render path.

- Architecture by instance family name: Graviton families carry a ``g`` right
  after the generation number (c7g, m6gd, r7gn, x2gd, im4gn, is4gen, g5g), and
  A1 is arm64; everything else current is x86_64.
  https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html
- GPU families usable with ``ECS_AL2023_NVIDIA``.
  https://docs.aws.amazon.com/batch/latest/userguide/gpu-jobs.html
- Allocation strategies: the two Spot ones need ``Type: SPOT`` and no Spot
  fleet role; BEST_FIT is the legacy default (Spot Fleet, no in-place update).
  https://docs.aws.amazon.com/batch/latest/userguide/allocation-strategies.html
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Final


class Architecture(StrEnum):
    """CPU architecture of every instance type in a template (never mixed)."""

    X86_64 = "x86_64"
    ARM64 = "arm64"  #: Graviton

    @property
    def image_platform(self) -> str:
        """The container image platform (``docker build --platform``) it runs."""
        return "linux/arm64" if self is Architecture.ARM64 else "linux/amd64"


#: A Batch ``InstanceTypes`` entry: a type (``c6i.large``) or a family (``c6i``).
#: Also the AllowedPattern of the InstanceTypes parameter (one source).
INSTANCE_TYPE_PATTERN: Final = r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*(\.[0-9a-z]+)?$"
INSTANCE_TYPE_RE: Final = re.compile(INSTANCE_TYPE_PATTERN)

#: Batch's pseudo instance types and the architecture each stands for.
PSEUDO_TYPES: Final = {
    "optimal": Architecture.X86_64,
    "default_x86_64": Architecture.X86_64,
    "default_arm64": Architecture.ARM64,
}

#: GPU instance families (NVIDIA) for GPU profiles.
GPU_FAMILIES: Final = (
    "p3", "p4d", "p4de", "p5", "p5e", "p5en", "g4dn", "g5", "g6", "g6e", "g5g",
)  # fmt: skip

#: Spot allocation strategies: valid only with ComputeResources.Type SPOT.
SPOT_STRATEGIES: Final = frozenset({"SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"})
#: The strategy of the On-Demand fallback compute environment.
ON_DEMAND_STRATEGY: Final = "BEST_FIT_PROGRESSIVE"
#: Batch's default when AllocationStrategy is omitted (legacy: needs a Spot
#: fleet role on SPOT, cannot be updated in place).
LEGACY_STRATEGY: Final = "BEST_FIT"
#: Strategies that allow in-place infrastructure updates.
#: https://docs.aws.amazon.com/batch/latest/userguide/updating-compute-environments.html
INFRA_UPDATE_STRATEGIES: Final = SPOT_STRATEGIES | {ON_DEMAND_STRATEGY}

_FAMILY = re.compile(r"^([a-z]+)(\d+)([a-z0-9-]*)$")


def family(instance_type: str) -> str:
    """``c6i`` for ``c6i.large`` (and for ``c6i``)."""
    return instance_type.strip().lower().split(".", 1)[0]


def architecture(instance_type: str) -> Architecture | None:
    """Architecture of an instance type, family or pseudo type by its name; None if unknown.

    Only the name is read: whether the type exists is a separate question
    (lint asks cfn-lint's instance-type data).
    """
    name = instance_type.strip().lower()
    if name in PSEUDO_TYPES:
        return PSEUDO_TYPES[name]
    m = _FAMILY.match(family(name))
    if not m or m.group(1) == "mac":
        return None
    prefix, gen, suffix = m.groups()
    if prefix == "a" and gen == "1":
        return Architecture.ARM64
    # The attribute letters after the generation: "g" = Graviton (c6gn, x2gd,
    # im4gn, is4gen, g5g); g4dn and p4de have none.
    return Architecture.ARM64 if "g" in suffix.split("-", 1)[0] else Architecture.X86_64


def is_a1(instance_type: str) -> bool:
    """A1 (first Graviton): not supported by the ECS_AL2023 AMIs."""
    return family(instance_type) == "a1"


def is_gpu(instance_type: str) -> bool:
    return family(instance_type) in GPU_FAMILIES


# ------------------------------------------------------------------- instance specifications
# The bundled table src/cfgen/data/ec2_instance_types.json (its "source" and
# "as_of" say where and when it was taken; scripts/refresh_instance_types.py
# refreshes it from DescribeInstanceTypes).
#
# Memory a job can really get on an ECS container instance (what we model):
# the ECS agent registers the memory the OS reports (Docker ReadMemInfo), which
# is below the nominal size because of platform and kernel overhead -- the AWS
# Batch guide's example is an m4.large: 8 GiB nominal, 8373026816 bytes =
# 7985 MiB registered (2.5 % less) -- and the Batch AMI keeps another 32 MiB
# for the agent (ECS_RESERVED_MEMORY). We take registered memory as
# floor(nominal x (1 - 0.025)) - 32 MiB: a job asking for more than that on
# every type of a compute environment never leaves RUNNABLE
# (MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT). AWS also recommends leaving a
# 5 % buffer; that is a recommendation, not a limit, so it is not modelled.
# https://docs.aws.amazon.com/batch/latest/userguide/memory-management.html
# https://docs.aws.amazon.com/batch/latest/userguide/ecs-reserved-memory.html
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/memory-management.html

#: MiB the Batch ECS AMI reserves for the agent and system (ECS_RESERVED_MEMORY).
ECS_RESERVED_MEMORY_MIB: Final = 32
#: Share of nominal memory the kernel and platform keep (m4.large: 8192 -> 7985 MiB).
KERNEL_OVERHEAD_FRACTION: Final = 0.025


@dataclass(frozen=True)
class InstanceSpec:
    """One EC2 instance type as DescribeInstanceTypes describes it."""

    name: str
    vcpus: int
    memory_mib: int  #: nominal (MemoryInfo.SizeInMiB)
    gpus: int
    architecture: Architecture

    @property
    def job_memory_mib(self) -> int:
        """Memory a job can reserve after the kernel's share and the ECS agent's reserve."""
        return job_memory_mib(self.memory_mib)


def job_memory_mib(nominal_mib: int) -> int:
    """Registered memory minus ECS_RESERVED_MEMORY, for a nominal size in MiB."""
    return math.floor(nominal_mib * (1 - KERNEL_OVERHEAD_FRACTION)) - ECS_RESERVED_MEMORY_MIB


@cache
def _spec_table() -> dict[str, Any]:
    text = resources.files("cfgen").joinpath("data", "ec2_instance_types.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def spec_table_source() -> tuple[str, str]:
    """(source, as_of) of the bundled instance-type table."""
    data = _spec_table()
    return str(data["source"]), str(data["as_of"])


@cache
def instance_specs() -> dict[str, InstanceSpec]:
    """Every instance type of the bundled table, by name."""
    out: dict[str, InstanceSpec] = {}
    for name, (vcpus, mem, gpus, arch) in _spec_table()["types"].items():
        out[name] = InstanceSpec(name, int(vcpus), int(mem), int(gpus), Architecture(arch))
    return out


def instance_spec(instance_type: str) -> InstanceSpec | None:
    return instance_specs().get(instance_type.strip().lower())


def expand(entries: Iterable[str]) -> list[InstanceSpec] | None:
    """The specs a Batch ``InstanceTypes`` list stands for; None if any entry is undecidable.

    A family (``c6i``) is every size of it in the table; a pseudo type
    (``optimal``, ``default_x86_64``) depends on the region, so it makes the
    whole list undecidable, as does a type missing from the table.
    """
    specs = instance_specs()
    out: list[InstanceSpec] = []
    for raw in entries:
        name = raw.strip().lower()
        if name in PSEUDO_TYPES:
            return None
        if "." in name:
            spec = specs.get(name)
            if spec is None:
                return None
            out.append(spec)
        else:
            members = [s for n, s in specs.items() if family(n) == name]
            if not members:
                return None
            out.extend(members)
    return out
