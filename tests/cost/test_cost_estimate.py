"""cfgen cost arithmetic: per type, blend per allocation strategy, fallback, Fargate."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cost_helpers import StandInCompute

from cfgen.config import load_profile
from cfgen.cost import estimate as e
from cfgen.cost import prices as p


def _quote(prices: dict[str, float]) -> p.SpotQuote:
    return p.SpotQuote(prices, "live", "test prices")


def test_single_type_costs_price_times_instances() -> None:
    compute = StandInCompute(instance_types=("c6i.xlarge",), max_vcpus=64)
    est = e.estimate_ec2(compute, "us-east-1", spot=_quote({"c6i.xlarge": 0.06}))
    # 64 vCPUs = 16 x c6i.xlarge (4 vCPUs): 16 x 0.17 On-Demand, 16 x 0.06 Spot.
    assert est.on_demand_hourly == pytest.approx(16 * 0.17)
    assert est.spot_hourly == pytest.approx(16 * 0.06)
    assert est.savings_percent == pytest.approx(100 * (1 - 0.06 / 0.17))
    assert est.spot_source == "live"


def test_capacity_optimized_spreads_evenly() -> None:
    compute = StandInCompute(
        instance_types=("c6i.large", "m6i.large"),
        allocation_strategy="SPOT_CAPACITY_OPTIMIZED",
        max_vcpus=100,
    )
    est = e.estimate_ec2(compute, "us-east-1", spot=_quote({"c6i.large": 0.03, "m6i.large": 0.05}))
    assert [line.weight for line in est.lines] == [0.5, 0.5]
    assert est.spot_hourly == pytest.approx(100 * (0.015 + 0.025) / 2)
    assert est.on_demand_hourly == pytest.approx(100 * (0.0425 + 0.048) / 2)


def test_price_capacity_optimized_takes_the_cheaper_half() -> None:
    types = ("c6i.large", "m6i.large", "r6i.large", "c7i.large")
    spot = {"c6i.large": 0.030, "m6i.large": 0.040, "r6i.large": 0.050, "c7i.large": 0.020}
    est = e.estimate_ec2(StandInCompute(instance_types=types), "us-east-1", spot=_quote(spot))
    weights = {line.instance_type: line.weight for line in est.lines}
    assert weights == {"c6i.large": 0.5, "m6i.large": 0.0, "r6i.large": 0.0, "c7i.large": 0.5}


def test_sizes_of_one_family_stay_together_at_the_cut() -> None:
    weights = e.blend_weights("SPOT_PRICE_CAPACITY_OPTIMIZED", [1.0, 1.0, 1.0, 2.0])
    assert weights == [1 / 3, 1 / 3, 1 / 3, 0.0]


def test_best_fit_puts_everything_on_the_cheapest() -> None:
    assert e.blend_weights("BEST_FIT_PROGRESSIVE", [0.3, 0.1, 0.2]) == [0.0, 1.0, 0.0]


def test_fallback_runs_on_the_cheapest_on_demand_type() -> None:
    compute = StandInCompute(instance_types=("m6i.large", "c6a.large"), on_demand_max_vcpus=16)
    est = e.estimate_ec2(compute, "us-east-1", spot=_quote({"m6i.large": 1, "c6a.large": 1}))
    assert est.fallback is not None
    assert est.fallback.instance_type == "c6a.large"
    assert est.fallback.hourly == pytest.approx(16 * 0.0765 / 2)
    assert est.fallback_per_vcpu == pytest.approx(0.0765 / 2)


def test_no_fallback_ce_when_disabled() -> None:
    compute = StandInCompute(on_demand_fallback=False)
    est = e.estimate_ec2(compute, "us-east-1", offline=True)
    assert est.fallback is None
    assert "No On-Demand fallback CE" in e.format_estimate(est, "spot-only")


def test_max_vcpus_override_scales_linearly() -> None:
    compute = StandInCompute()
    small = e.estimate_ec2(compute, "us-east-1", offline=True, max_vcpus=10)
    big = e.estimate_ec2(compute, "us-east-1", offline=True, max_vcpus=1000)
    assert big.spot_hourly == pytest.approx(100 * small.spot_hourly)
    assert big.max_vcpus == 1000


def test_fargate_per_vcpu_and_per_gb() -> None:
    compute = StandInCompute(platform="FARGATE", max_vcpus=32, on_demand_max_vcpus=8)
    est = e.estimate(compute, "us-east-1", memory_gib_per_vcpu=2.0)
    assert est.on_demand_hourly == pytest.approx(32 * (0.04048 + 2 * 0.004445))
    assert est.spot_hourly == pytest.approx(32 * (0.01334053 + 2 * 0.00146489))
    assert est.fallback is not None
    assert est.fallback.hourly == pytest.approx(8 * (0.04048 + 2 * 0.004445))
    text = e.format_estimate(est, "fargate-spot")
    assert "Fargate Spot" in text
    assert "Fargate fallback CE" in text


def test_default_profile_report_names_sources() -> None:
    profile = load_profile("default")
    est = e.estimate(profile.compute, "us-east-1", offline=True)
    assert est.max_vcpus == profile.compute.max_vcpus
    assert 0 < est.savings_percent < 100
    text = e.format_estimate(est, profile.name)
    assert "bundled estimate as of" in text
    assert "bundled table as of" in text
    for t in profile.compute.instance_types:
        assert t in text


def test_eu_west_1_is_dearer_than_us_east_1() -> None:
    compute = StandInCompute()
    us = e.estimate_ec2(compute, "us-east-1", offline=True)
    eu = e.estimate_ec2(replace(compute), "eu-west-1", offline=True)
    assert eu.on_demand_hourly > us.on_demand_hourly


def test_rounding_does_not_split_a_family() -> None:
    weights = e.blend_weights("SPOT_PRICE_CAPACITY_OPTIMIZED", [0.0164, 0.016375, 0.0182, 0.024])
    assert weights == [0.5, 0.5, 0.0, 0.0]


def test_fallback_prefers_the_smallest_of_equally_priced_sizes() -> None:
    compute = StandInCompute(instance_types=("c7g.4xlarge", "c7g.large", "c7g.xlarge"))
    est = e.estimate_ec2(compute, "eu-west-1", offline=True)
    assert est.fallback is not None
    assert est.fallback.instance_type == "c7g.large"
