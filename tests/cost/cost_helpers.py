"""Helpers shared by the cost tools' tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StandInCompute:
    """The fields of cfgen.config.Profile.compute the cost tools read, with the
    default profile's values; tests override what they vary."""

    platform: str = "EC2"
    architecture: str = "x86_64"
    instance_types: tuple[str, ...] = ("c6i.large", "m6i.large")
    max_vcpus: int = 256
    on_demand_fallback: bool = True
    on_demand_max_vcpus: int = 16
    allocation_strategy: str = "SPOT_PRICE_CAPACITY_OPTIMIZED"
