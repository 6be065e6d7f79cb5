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

import re
from enum import StrEnum
from typing import Final


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
