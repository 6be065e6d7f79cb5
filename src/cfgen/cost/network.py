"""Data transfer in the cost model: NAT gateways against VPC endpoints, per network mode.

Monthly cost of moving ``data_gb`` a month between the jobs and S3/ECR (ESTIMATES,
from the bundled table ``cfgen/data/network.json``, its source and date inside):

- ``public``: nothing here (no NAT, no endpoints; public IPv4 charges not modelled).
- ``nat``: one NAT gateway per Availability Zone, ``azs x 730 h x nat_hour``, plus
  ``data_gb x nat_gb`` processing.
- ``endpoints``: the interface endpoints the platform needs (cfgen.endpoints),
  ``endpoints x azs x 730 h x interface_hour``; S3 traffic (job data, ECR image
  layers) goes through the S3 gateway endpoint, which is free, so the volume
  adds nothing. https://aws.amazon.com/privatelink/pricing/
  https://aws.amazon.com/vpc/pricing/

Break-even: the volume at which NAT costs as much as the endpoints,
``(endpoint hours - NAT hours) / nat_gb``; above it the endpoints are cheaper.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cfgen.cost.prices import PriceError


@cache
def network_table() -> dict[str, Any]:
    text = resources.files("cfgen").joinpath("data", "network.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True)
class NetworkRates:
    nat_hour: float
    nat_gb: float
    interface_hour: float
    interface_gb: float


def rates(region: str) -> NetworkRates:
    regions = network_table()["regions"]
    if region not in regions:
        raise PriceError(
            f"region={region!r}: no network prices bundled; must be one of {', '.join(regions)}"
        )
    r = regions[region]
    return NetworkRates(r["nat_hour"], r["nat_gb"], r["interface_hour"], r["interface_gb"])


@dataclass(frozen=True)
class NetworkCost:
    """Monthly data-transfer cost of one network mode (USD, estimates)."""

    mode: str
    hourly: float  # NAT gateway or endpoint hours, per month
    per_gb: float  # processing charges for the volume, per month

    @property
    def total(self) -> float:
        return self.hourly + self.per_gb


@dataclass(frozen=True)
class NetworkComparison:
    region: str
    data_gb: float
    azs: int
    interface_endpoints: int
    rates: NetworkRates
    nat: NetworkCost
    endpoints: NetworkCost
    #: GB a month above which the endpoints cost less than NAT (0: always).
    break_even_gb: float


def compare(
    region: str, data_gb: float, *, interface_endpoints: int, azs: int | None = None
) -> NetworkComparison:
    table = network_table()
    hours = float(table["hours_per_month"])
    zones = int(table["availability_zones"]) if azs is None else azs
    r = rates(region)
    nat = NetworkCost("nat", zones * hours * r.nat_hour, data_gb * r.nat_gb)
    endpoints = NetworkCost(
        "endpoints", interface_endpoints * zones * hours * r.interface_hour, 0.0
    )
    break_even = max(0.0, (endpoints.hourly - nat.hourly) / r.nat_gb)
    return NetworkComparison(
        region, data_gb, zones, interface_endpoints, r, nat, endpoints, break_even
    )


def cost_of(comparison: NetworkComparison, mode: str) -> NetworkCost:
    if mode == "nat":
        return comparison.nat
    if mode == "endpoints":
        return comparison.endpoints
    return NetworkCost("public", 0.0, 0.0)


def format_comparison(c: NetworkComparison, mode: str) -> str:
    """The data-transfer block ``cfgen cost`` prints."""
    table = network_table()
    r = c.rates
    mine = cost_of(c, mode)
    return "\n".join(
        [
            f"Data transfer, {c.data_gb:g} GB a month to and from S3/ECR (ESTIMATE; bundled"
            f" table as of {table['as_of']}, {c.azs} Availability Zones, 730 h a month):",
            f"  nat:       {c.azs} NAT gateways {c.nat.hourly:.2f} $ + processing"
            f" {c.data_gb:g} GB x {r.nat_gb:g} $ = {c.nat.per_gb:.2f} $"
            f" -> {c.nat.total:.2f} $/month",
            f"  endpoints: {c.interface_endpoints} interface endpoints x {c.azs} AZs"
            f" {c.endpoints.hourly:.2f} $ + S3 through the gateway endpoint 0.00 $"
            f" -> {c.endpoints.total:.2f} $/month (interface endpoints also charge"
            f" {r.interface_gb:g} $/GB for logs and API calls, not modelled)",
            "  public:    0.00 $/month (public IPv4 addresses not modelled)",
            f"  this profile ({mode}): {mine.total:.2f} $/month",
            _break_even_line(c),
        ]
    )


def _break_even_line(c: NetworkComparison) -> str:
    if c.break_even_gb == 0:
        return "  break-even: the endpoints cost less than NAT at any volume"
    return f"  break-even: above {c.break_even_gb:.0f} GB a month the endpoints cost less than NAT"


def format_workload(c: NetworkComparison, mode: str, *, jobs: int, gb_per_job: float) -> str:
    """The data-transfer block ``cfgen simulate --gb-per-job`` prints (per workload)."""
    r = c.rates
    return "\n".join(
        [
            f"Data transfer (ESTIMATE): {jobs} jobs x {gb_per_job:g} GB = {c.data_gb:g} GB"
            " to and from S3 (first attempts; retries read their input again)",
            f"  nat: processing {c.data_gb:g} GB x {r.nat_gb:g} $ = {c.nat.per_gb:.2f} $"
            f" (+ {c.nat.hourly:.2f} $/month for {c.azs} NAT gateways)",
            f"  endpoints: 0.00 $ through the S3 gateway endpoint"
            f" (+ {c.endpoints.hourly:.2f} $/month for {c.interface_endpoints} interface"
            f" endpoints x {c.azs} AZs)",
            "  public: 0.00 $",
            f"  this profile ({mode}): {cost_of(c, mode).per_gb:.2f} $ for the workload",
        ]
    )
