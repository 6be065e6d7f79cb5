"""Price tables: coverage of every profile, metadata, live Spot prices via Stubber."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from cfgen.config import list_profiles, load_profile
from cfgen.cost import prices as p

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
NOW = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def _profile_files() -> list[Path]:
    return sorted(f for f in (ROOT / "templates").glob("*.toml") if f.stem != "defaults")


def _scanned_compute(path: Path) -> dict[str, object]:
    """[compute] of a profile file merged over defaults.toml, read with tomllib only
    (independent of cfgen.config, so a new profile is covered even if it does not load)."""
    defaults = tomllib.loads((ROOT / "templates" / "defaults.toml").read_text())["compute"]
    own = tomllib.loads(path.read_text()).get("compute", {})
    return {**defaults, **own}


def test_tables_name_their_source_and_date() -> None:
    for table in (p.on_demand_table(), p.spot_estimate_table(), p.fargate_table()):
        assert table["source"].strip()
        assert table["as_of"][:4].isdigit()
        assert table["notes"]


def test_every_required_region_is_priced() -> None:
    assert set(REQUIRED_REGIONS) <= set(p.regions())
    assert set(REQUIRED_REGIONS) <= set(p.fargate_table()["regions"])


def test_profiles_exist_to_be_checked() -> None:
    assert "default" in list_profiles()
    assert _profile_files(), "templates/*.toml holds no profile"


@pytest.mark.parametrize("region", REQUIRED_REGIONS)
@pytest.mark.parametrize("name", list_profiles())
def test_every_instance_type_of_every_profile_is_priced(name: str, region: str) -> None:
    compute = load_profile(name).compute
    if compute.platform == "FARGATE":
        for spot in (True, False):
            rates = p.fargate_rates(region, compute.architecture, spot=spot)
            assert rates.vcpu_hour > 0
            assert rates.gb_hour > 0
        return
    types = p.expand_instance_types(compute.instance_types, region)
    assert types
    od = p.on_demand_prices(region)
    assert all(od[t] > 0 for t in types)


@pytest.mark.parametrize("region", REQUIRED_REGIONS)
@pytest.mark.parametrize("path", _profile_files(), ids=lambda f: f.stem)
def test_scanned_template_files_are_priced(path: Path, region: str) -> None:
    compute = _scanned_compute(path)
    if compute.get("platform") == "FARGATE":
        assert p.fargate_rates(region, str(compute.get("architecture", "x86_64")), spot=True)
        return
    names = compute["instance_types"]
    assert isinstance(names, list)
    missing = []
    for name in names:
        try:
            p.expand_instance_types([name], region)
        except p.PriceError:
            missing.append(name)
    assert not missing, f"{path.name}: no {region} price for {missing} in src/cfgen/data"


def test_likely_library_types_are_priced() -> None:
    """Issue 7's profiles (gpu, arm64, spot-only) will draw from these families."""
    families = [f"{c}{g}" for c in "cmr" for g in ("6i", "6a", "7i", "7a", "6g", "7g")]
    sizes = ("large", "xlarge", "2xlarge", "4xlarge")
    gpu = [f"{f}.{s}" for f in ("g4dn", "g5", "g6") for s in ("xlarge", "2xlarge", "12xlarge")]
    for region in REQUIRED_REGIONS:
        od = p.on_demand_prices(region)
        for t in [f"{f}.{s}" for f in families for s in sizes] + gpu:
            assert t in od, f"{t} in {region}"


def test_c_m_r_prices_scale_with_vcpus() -> None:
    od = p.on_demand_prices("us-east-1")
    for fam in ("c6i", "m7g", "r7i"):
        large = od[f"{fam}.large"]
        for size, factor in (("xlarge", 2), ("2xlarge", 4), ("4xlarge", 8)):
            assert od[f"{fam}.{size}"] == pytest.approx(large * factor)


def test_known_published_prices() -> None:
    """Spot checks against the source table (Karpenter, generated 2026-01-19)."""
    od = p.on_demand_prices("us-east-1")
    assert od["c6i.large"] == 0.085
    assert od["m7g.large"] == 0.0816
    assert od["g5.12xlarge"] == 5.672
    assert od["g4dn.xlarge"] == 0.526


@pytest.mark.parametrize(
    ("name", "vcpus"),
    [
        ("c6i.large", 2),
        ("m7g.xlarge", 4),
        ("r6i.2xlarge", 8),
        ("g5.12xlarge", 48),
        ("c7g.medium", 1),
    ],
)
def test_vcpus_of(name: str, vcpus: int) -> None:
    assert p.vcpus_of(name) == vcpus


def test_family_entries_expand_to_priced_sizes() -> None:
    types = p.expand_instance_types(["c6i", "m6i.large"], "us-east-1")
    assert types[0] == "c6i.large"
    assert "c6i.4xlarge" in types
    assert types[-1] == "m6i.large"


def test_unknown_type_and_region_are_one_line_errors() -> None:
    with pytest.raises(p.PriceError, match=r"'x9z.large'"):
        p.expand_instance_types(["x9z.large"], "us-east-1")
    with pytest.raises(p.PriceError, match=r"--region: 'mars-1'"):
        p.check_region("mars-1")


def test_arch_and_gpu_classification() -> None:
    assert p.is_arm64("c7g.large")
    assert p.is_arm64("m6gd.large")
    assert not p.is_arm64("g5.xlarge")
    assert not p.is_arm64("c6i.large")
    assert p.is_gpu("g4dn.xlarge")
    assert not p.is_gpu("m7g.large")


def test_bundled_spot_estimate_is_a_fraction_of_on_demand() -> None:
    quote = p.estimated_spot_prices("us-east-1", ["c6i.large", "c7g.large", "g5.xlarge"])
    assert quote.source == "bundled"
    assert "2026-01-19" in quote.detail
    assert quote.prices["c6i.large"] == pytest.approx(0.085 * 0.35)
    assert quote.prices["c7g.large"] == pytest.approx(0.0725 * 0.40)
    assert quote.prices["g5.xlarge"] == pytest.approx(1.006 * 0.40)


# ------------------------------------------------------------ live path (Stubber)


def _ec2() -> object:
    return boto3.client(
        "ec2",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _history(*rows: tuple[str, str, str]) -> dict[str, object]:
    return {
        "SpotPriceHistory": [
            {
                "InstanceType": t,
                "AvailabilityZone": az,
                "SpotPrice": price,
                "ProductDescription": "Linux/UNIX",
                "Timestamp": NOW,
            }
            for t, az, price in rows
        ]
    }


def _expected(types: list[str], token: str | None = None) -> dict[str, object]:
    params: dict[str, object] = {
        "InstanceTypes": types,
        "ProductDescriptions": ["Linux/UNIX"],
        "StartTime": NOW,
        "MaxResults": 1000,
    }
    if token:
        params["NextToken"] = token
    return params


def test_live_prices_take_the_median_over_zones_and_follow_pages() -> None:
    client = _ec2()
    types = ["c6i.large", "m6i.large"]
    with Stubber(client) as stub:  # type: ignore[arg-type]
        first = _history(
            ("c6i.large", "us-east-1a", "0.0300"),
            ("c6i.large", "us-east-1b", "0.0340"),
            ("c6i.large", "us-east-1c", "0.0500"),
        )
        first["NextToken"] = "page2"
        stub.add_response("describe_spot_price_history", first, _expected(types))
        stub.add_response(
            "describe_spot_price_history",
            _history(("m6i.large", "us-east-1a", "0.0400")),
            _expected(types, "page2"),
        )
        quote = p.fetch_spot_prices(client, types, now=NOW)
        stub.assert_no_pending_responses()
    assert quote.source == "live"
    assert quote.prices == {"c6i.large": 0.034, "m6i.large": 0.04}
    assert "DescribeSpotPriceHistory" in quote.detail


def test_live_prices_keep_bundled_estimate_for_missing_pools() -> None:
    client = _ec2()
    types = ["c6i.large", "m6i.large"]
    with Stubber(client) as stub:  # type: ignore[arg-type]
        stub.add_response(
            "describe_spot_price_history", _history(("c6i.large", "us-east-1a", "0.03"))
        )
        quote = p.spot_prices("us-east-1", types, client=client)
    assert quote.source == "live"
    assert quote.prices["c6i.large"] == 0.03
    assert quote.prices["m6i.large"] == pytest.approx(0.096 * 0.35)
    assert "no Spot pool for m6i.large" in quote.detail


def test_failing_live_lookup_falls_back_to_bundled_and_says_why() -> None:
    client = _ec2()
    with Stubber(client) as stub:  # type: ignore[arg-type]
        stub.add_client_error(
            "describe_spot_price_history",
            service_error_code="UnauthorizedOperation",
            service_message="You are not authorized to perform this operation.",
            http_status_code=403,
        )
        quote = p.spot_prices("us-east-1", ["c6i.large"], client=client)
    assert quote.source == "bundled"
    assert "live lookup failed" in quote.detail
    assert "UnauthorizedOperation" in quote.detail


@pytest.mark.usefixtures("no_aws_credentials")
def test_without_credentials_the_bundled_estimate_is_used() -> None:
    quote = p.spot_prices("us-east-1", ["c6i.large"])
    assert quote.source == "bundled"
    assert "no AWS credentials" in quote.detail


def test_offline_never_asks_aws() -> None:
    quote = p.spot_prices("us-east-1", ["c6i.large"], offline=True, client=object())
    assert quote.source == "bundled"
