"""Hourly cost of a profile at full scale: per instance type and blended.

"Full scale" means the Spot compute environment at its MaxvCpus ceiling. Prices
are per instance-hour; dividing by the type's vCPUs gives USD per vCPU-hour,
and the fleet cost at full scale is ``max_vcpus x USD/vCPU-hour`` (Batch packs
jobs onto instances; partially filled instances are not modelled).

The blend follows the allocation strategy (documented in docs/cost.md):

- ``SPOT_CAPACITY_OPTIMIZED``: pools are chosen for depth, which is unknown
  offline, so capacity spreads evenly over every type.
- ``SPOT_PRICE_CAPACITY_OPTIMIZED``: pools that are both deep and cheap; modelled
  as an even spread over the cheaper half of the types (by Spot USD/vCPU-hour).
- ``BEST_FIT_PROGRESSIVE`` / ``BEST_FIT``: the lowest-cost type that fits, i.e.
  all capacity on the cheapest type per vCPU.

Types priced exactly like the cut-off type (other sizes of the same family) are
kept together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from cfgen.cost import prices as p


class ComputeLike(Protocol):
    """The fields of ``cfgen.config.Profile.compute`` this module reads."""

    @property
    def platform(self) -> str: ...
    @property
    def architecture(self) -> str: ...
    @property
    def instance_types(self) -> tuple[str, ...]: ...
    @property
    def max_vcpus(self) -> int: ...
    @property
    def on_demand_fallback(self) -> bool: ...
    @property
    def on_demand_max_vcpus(self) -> int: ...
    @property
    def allocation_strategy(self) -> str: ...


@dataclass(frozen=True)
class TypeLine:
    instance_type: str
    vcpus: int
    on_demand: float  # USD per instance-hour
    spot: float
    weight: float  # share of the blended capacity, 0..1

    @property
    def on_demand_per_vcpu(self) -> float:
        return self.on_demand / self.vcpus

    @property
    def spot_per_vcpu(self) -> float:
        return self.spot / self.vcpus


@dataclass(frozen=True)
class Fallback:
    max_vcpus: int
    instance_type: str  # cheapest On-Demand USD/vCPU-hour (BEST_FIT_PROGRESSIVE)
    hourly: float  # USD/hour at its ceiling


@dataclass(frozen=True)
class Estimate:
    """Result of :func:`estimate_ec2` / :func:`estimate_fargate`."""

    region: str
    platform: str
    max_vcpus: int
    allocation_strategy: str
    lines: tuple[TypeLine, ...]
    spot_hourly: float  # blended, at max_vcpus
    on_demand_hourly: float  # same blend at On-Demand prices
    spot_source: str
    spot_detail: str
    on_demand_detail: str
    fallback: Fallback | None

    @property
    def savings_percent(self) -> float:
        if self.on_demand_hourly == 0:
            return 0.0
        return 100.0 * (1.0 - self.spot_hourly / self.on_demand_hourly)

    @property
    def spot_per_vcpu(self) -> float:
        return self.spot_hourly / self.max_vcpus

    @property
    def on_demand_per_vcpu(self) -> float:
        return self.on_demand_hourly / self.max_vcpus

    @property
    def fallback_per_vcpu(self) -> float:
        """USD/vCPU-hour of work the fallback runs (On-Demand price if none)."""
        if self.fallback is None:
            return min(line.on_demand_per_vcpu for line in self.lines)
        return self.fallback.hourly / self.fallback.max_vcpus


# Prices per vCPU within 0.1% count as equal: the tables round prices, so the
# sizes of one family differ in the last digit.
ALIKE = 1e-3


def blend_weights(strategy: str, spot_per_vcpu: list[float]) -> list[float]:
    """Capacity share per type (same order) for an allocation strategy."""
    n = len(spot_per_vcpu)
    order = sorted(range(n), key=lambda i: (spot_per_vcpu[i], i))
    if strategy == "SPOT_CAPACITY_OPTIMIZED":
        chosen = order
    else:
        # SPOT_PRICE_CAPACITY_OPTIMIZED: the cheaper half; BEST_FIT(_PROGRESSIVE): the
        # cheapest. Types priced like the cut-off type (other sizes of the same
        # family) are included too.
        keep = math.ceil(n / 2) if strategy == "SPOT_PRICE_CAPACITY_OPTIMIZED" else 1
        cutoff = spot_per_vcpu[order[keep - 1]]
        chosen = [i for i in order if spot_per_vcpu[i] <= cutoff * (1 + ALIKE)]
    weights = [0.0] * n
    for i in chosen:
        weights[i] = 1.0 / len(chosen)
    return weights


def estimate_ec2(
    compute: ComputeLike,
    region: str,
    *,
    max_vcpus: int | None = None,
    spot: p.SpotQuote | None = None,
    offline: bool = False,
) -> Estimate:
    """Hourly cost at full scale of an EC2 profile (Spot CE plus optional fallback)."""
    types = p.expand_instance_types(compute.instance_types, region)
    od = p.on_demand_prices(region)
    quote = spot if spot is not None else p.spot_prices(region, types, offline=offline)
    vcpus = [p.vcpus_of(t) for t in types]
    spot_pv = [quote.prices[t] / v for t, v in zip(types, vcpus, strict=True)]
    weights = blend_weights(compute.allocation_strategy, spot_pv)
    lines = tuple(
        TypeLine(t, v, od[t], quote.prices[t], w)
        for t, v, w in zip(types, vcpus, weights, strict=True)
    )
    scale = compute.max_vcpus if max_vcpus is None else max_vcpus
    spot_hourly = scale * sum(line.weight * line.spot_per_vcpu for line in lines)
    od_hourly = scale * sum(line.weight * line.on_demand_per_vcpu for line in lines)
    fallback = None
    if compute.on_demand_fallback and compute.on_demand_max_vcpus > 0:
        low = min(line.on_demand_per_vcpu for line in lines)
        cheapest = min(
            (line for line in lines if line.on_demand_per_vcpu <= low * (1 + ALIKE)),
            key=lambda line: (line.vcpus, line.instance_type),
        )
        fallback = Fallback(
            compute.on_demand_max_vcpus,
            cheapest.instance_type,
            compute.on_demand_max_vcpus * cheapest.on_demand_per_vcpu,
        )
    table = p.on_demand_table()
    return Estimate(
        region=region,
        platform="EC2",
        max_vcpus=scale,
        allocation_strategy=compute.allocation_strategy,
        lines=lines,
        spot_hourly=spot_hourly,
        on_demand_hourly=od_hourly,
        spot_source=quote.source,
        spot_detail=quote.detail,
        on_demand_detail=(
            f"bundled table as of {table['as_of']}, {region}: {table['regions'][region]['basis']}"
        ),
        fallback=fallback,
    )


def estimate_fargate(
    compute: ComputeLike,
    region: str,
    *,
    max_vcpus: int | None = None,
    memory_gib_per_vcpu: float = 2.0,
) -> Estimate:
    """Hourly cost of a Fargate profile: FARGATE_SPOT at full scale vs FARGATE."""
    arch = compute.architecture
    spot = p.fargate_rates(region, arch, spot=True)
    od = p.fargate_rates(region, arch, spot=False)
    per_vcpu_spot = spot.vcpu_hour + memory_gib_per_vcpu * spot.gb_hour
    per_vcpu_od = od.vcpu_hour + memory_gib_per_vcpu * od.gb_hour
    scale = compute.max_vcpus if max_vcpus is None else max_vcpus
    label = f"{arch} task, {memory_gib_per_vcpu:g} GB/vCPU"
    line = TypeLine(label, 1, per_vcpu_od, per_vcpu_spot, 1.0)
    fallback = None
    if compute.on_demand_fallback and compute.on_demand_max_vcpus > 0:
        fallback = Fallback(
            compute.on_demand_max_vcpus, "FARGATE", compute.on_demand_max_vcpus * per_vcpu_od
        )
    table = p.fargate_table()
    return Estimate(
        region=region,
        platform="FARGATE",
        max_vcpus=scale,
        allocation_strategy="FARGATE_SPOT",
        lines=(line,),
        spot_hourly=scale * per_vcpu_spot,
        on_demand_hourly=scale * per_vcpu_od,
        spot_source="bundled",
        spot_detail=(
            f"Fargate Spot {spot.vcpu_hour:g}/vCPU-h + {spot.gb_hour:g}/GB-h, "
            f"bundled table as of {table['as_of']}"
        ),
        on_demand_detail=(
            f"Fargate {od.vcpu_hour:g}/vCPU-h + {od.gb_hour:g}/GB-h, "
            f"bundled table as of {table['as_of']}"
        ),
        fallback=fallback,
    )


def estimate(
    compute: ComputeLike,
    region: str,
    *,
    max_vcpus: int | None = None,
    offline: bool = False,
    memory_gib_per_vcpu: float = 2.0,
) -> Estimate:
    if compute.platform == "FARGATE":
        return estimate_fargate(
            compute, region, max_vcpus=max_vcpus, memory_gib_per_vcpu=memory_gib_per_vcpu
        )
    return estimate_ec2(compute, region, max_vcpus=max_vcpus, offline=offline)


def format_estimate(est: Estimate, profile_name: str) -> str:
    """Human-readable report (the text ``cfgen cost`` prints)."""
    out: list[str] = []
    out.append(
        f"Profile {profile_name} in {est.region}: {est.platform}, "
        f"{est.max_vcpus} vCPUs at full scale, {est.allocation_strategy}"
    )
    out.append(f"On-Demand prices: {est.on_demand_detail}")
    out.append(f"Spot prices: {est.spot_detail}")
    out.append("")
    if est.platform == "EC2":
        head = (
            f"{'instance type':<15} {'vCPU':>4} {'On-Demand $/h':>13} {'Spot $/h':>9} "
            f"{'Spot $/vCPU-h':>13} {'saving':>7} {'share':>6}"
        )
        out.append(head)
        out.append("-" * len(head))
        for line in est.lines:
            saving = 100.0 * (1.0 - line.spot / line.on_demand)
            out.append(
                f"{line.instance_type:<15} {line.vcpus:>4} {line.on_demand:>13.4f} "
                f"{line.spot:>9.4f} {line.spot_per_vcpu:>13.5f} {saving:>6.1f}% "
                f"{100 * line.weight:>5.1f}%"
            )
        out.append("")
    else:
        line = est.lines[0]
        out.append(
            f"per vCPU-hour ({line.instance_type}): Fargate {line.on_demand:.5f} $, "
            f"Fargate Spot {line.spot:.5f} $"
        )
        out.append("")
    spot_name = "Fargate Spot" if est.platform == "FARGATE" else "Spot"
    od_name = "Fargate" if est.platform == "FARGATE" else "On-Demand"
    out.append(
        f"Blended at {est.max_vcpus} vCPUs: {spot_name} {est.spot_hourly:.2f} $/h, "
        f"{od_name} {est.on_demand_hourly:.2f} $/h, saving {est.savings_percent:.1f}%"
    )
    if est.fallback is not None:
        fb = est.fallback
        out.append(
            f"{od_name} fallback CE: up to {fb.max_vcpus} vCPUs on {fb.instance_type}, "
            f"{fb.hourly:.2f} $/h at its ceiling; it runs only when {spot_name} capacity "
            "is unavailable or saturated"
        )
    else:
        out.append(f"No {od_name} fallback CE in this profile.")
    return "\n".join(out)
