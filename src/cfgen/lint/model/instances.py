"""EC2 instance types: existence from cfn-lint's data, architecture from cfgen.ec2."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from cfgen import ec2
from cfgen.lint.model.template import Model
from cfgen.lint.model.values import is_unknown


@cache
def known_instance_types() -> frozenset[str]:
    """Every EC2 instance type cfn-lint knows in any region."""
    data = (
        resources.files("cfnlint.data.schemas.extensions.aws_ec2_instance")
        .joinpath("instancetype_enum.json")
        .read_text(encoding="utf-8")
    )
    names: set[str] = set()
    for region in json.loads(data).values():
        if isinstance(region, dict):
            names.update(region.get("enum", []))
    return frozenset(names)


@cache
def known_families() -> frozenset[str]:
    return frozenset(n.split(".", 1)[0] for n in known_instance_types())


def architecture(instance_type: str) -> str | None:
    """``arm64`` / ``x86_64`` for a Batch instance type or family, None if unknown.

    Existence comes from cfn-lint's EC2 instance-type data; the architecture
    from the family name (cfgen.ec2).
    """
    name = instance_type.strip().lower()
    if name not in ec2.PSEUDO_TYPES and ec2.family(name) not in known_families():
        return None
    arch = ec2.architecture(name)
    return None if arch is None else arch.value


def is_a1(instance_type: str) -> bool:
    return ec2.is_a1(instance_type)


def ce_architectures(m: Model, cr: dict[str, Any]) -> dict[str, list[str]]:
    """Architecture -> instance types of one CE variant (unknown types left out)."""
    types = m.resolve_list(cr.get("InstanceTypes", []))
    found: dict[str, list[str]] = {}
    if is_unknown(types):
        return found
    for t in types:
        if isinstance(t, str):
            arch = architecture(t)
            if arch:
                found.setdefault(arch, []).append(t)
    return found
