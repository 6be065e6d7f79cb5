"""Prices for the report, in Decimal.

* On-Demand: the bundled table ``cfgen/data/ec2_on_demand.json`` (USD per instance-hour).
* Spot: the EC2 Spot price history of the attempt's instance type and Availability
  Zone, integrated over the attempt (the price in effect at each instant is the
  latest history entry at or before it; a history entry is a price change:
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-instances-history.html).
  Without history for a pool (offline, no credentials, a pool the history does not
  cover from the attempt's start) the bundled *estimate* (On-Demand x a fraction,
  ``ec2_spot_snapshot.json``) is used, and every figure priced so is labelled.
* Fargate: the bundled table ``fargate.json`` (USD per vCPU-hour and GB-hour, Fargate
  Spot and Fargate).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from cfgen import ec2
from cfgen.cost.prices import PriceError, check_region, vcpus_of

MS_PER_HOUR = Decimal(3_600_000)

#: Labels of where a Spot price came from.
SPOT_HISTORY = "spot-history"
SPOT_BUNDLED = "bundled-estimate"


@cache
def _table(name: str) -> dict[str, Any]:
    text = resources.files("cfgen").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    return data


def _ms(start: datetime, end: datetime) -> Decimal:
    delta = end - start
    return Decimal((delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000)


@dataclass(frozen=True)
class FargateRates:
    vcpu_hour: Decimal
    gb_hour: Decimal


@dataclass
class PriceBook:
    region: str
    #: (instance type, AZ) -> [(time, USD per instance-hour)], ascending
    history: dict[tuple[str, str], list[tuple[datetime, Decimal]]] = field(default_factory=dict)
    #: one line: where the Spot history came from, or why there is none
    spot_detail: str = "bundled estimate (offline)"

    def __post_init__(self) -> None:
        check_region(self.region)
        for points in self.history.values():
            points.sort()

    def on_demand_hourly(self, instance_type: str) -> Decimal | None:
        prices = _table("ec2_on_demand.json")["regions"][self.region]["prices"]
        price = prices.get(instance_type)
        return Decimal(price) if price is not None else None

    def spot_estimate_hourly(self, instance_type: str) -> Decimal | None:
        od = self.on_demand_hourly(instance_type)
        if od is None:
            return None
        fractions = _table("ec2_spot_snapshot.json")["fraction_of_on_demand"]
        kind = (
            "gpu"
            if ec2.is_gpu(instance_type)
            else "arm64"
            if ec2.architecture(instance_type) is ec2.Architecture.ARM64
            else "default"
        )
        return od * Decimal(fractions[kind])

    def spot_cost(
        self, instance_type: str, az: str | None, start: datetime, end: datetime
    ) -> tuple[Decimal, str] | None:
        """USD of one instance of the type over [start, end] on Spot, and the source."""
        points = self.history.get((instance_type, az or ""), [])
        times = [t for t, _ in points]
        first = bisect.bisect_right(times, start) - 1
        if first >= 0:
            total = Decimal(0)
            cursor = start
            i = first
            while cursor < end:
                nxt = times[i + 1] if i + 1 < len(times) and times[i + 1] < end else end
                total += points[i][1] * _ms(cursor, nxt) / MS_PER_HOUR
                cursor = nxt
                i += 1
            return total, SPOT_HISTORY
        hourly = self.spot_estimate_hourly(instance_type)
        if hourly is None:
            return None
        return hourly * _ms(start, end) / MS_PER_HOUR, SPOT_BUNDLED

    def fargate(self, *, spot: bool, architecture: str = "x86_64") -> FargateRates:
        regions = _table("fargate.json")["regions"]
        if self.region not in regions:
            raise PriceError(
                f"--region: {self.region!r} has no Fargate prices in the bundled table"
            )
        rates = regions[self.region][architecture]["spot" if spot else "on_demand"]
        return FargateRates(Decimal(rates["vcpu_hour"]), Decimal(rates["gb_hour"]))

    def instance_vcpus(self, instance_type: str) -> int | None:
        try:
            return vcpus_of(instance_type)
        except PriceError:
            return None


def history_from_api(
    items: list[dict[str, Any]],
) -> dict[tuple[str, str], list[tuple[datetime, Decimal]]]:
    """DescribeSpotPriceHistory items -> the PriceBook's history (prices as Decimal)."""
    out: dict[tuple[str, str], list[tuple[datetime, Decimal]]] = {}
    for item in items:
        key = (str(item["InstanceType"]), str(item.get("AvailabilityZone", "")))
        out.setdefault(key, []).append((item["Timestamp"], Decimal(str(item["SpotPrice"]))))
    for points in out.values():
        points.sort()
    return out
