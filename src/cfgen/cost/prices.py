"""Price data: bundled On-Demand and Fargate tables, live or bundled Spot prices.

The tables live in ``cfgen/data/*.json``; each names its ``source`` and ``as_of``
date. Spot prices come from EC2 ``DescribeSpotPriceHistory`` when AWS
credentials are available, otherwise from the bundled estimate, and every
result says which (``SpotQuote.source``).

boto3 is imported only on the live path: ``cfgen cost --offline`` and the
simulator never import it.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from cfgen import ec2

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# vCPUs of a size suffix. True for every family the tables cover (c/m/r
# 5th-8th generation and g4dn/g5/g6/g6e): xlarge = 4 vCPUs, Nxlarge = 4N.
_SIZE_RE = re.compile(r"^(?:(\d+)xlarge|xlarge|large|medium)$")
_TYPE_RE = re.compile(r"^([a-z][a-z0-9-]*)\.([a-z0-9-]+)$")


class PriceError(ValueError):
    """A region or instance type the bundled tables do not cover (one-line message)."""


@dataclass(frozen=True)
class FargateRates:
    vcpu_hour: float
    gb_hour: float


@dataclass(frozen=True)
class SpotQuote:
    """Spot prices per instance type (USD/instance-hour) and where they came from."""

    prices: dict[str, float]
    source: str  # "live" | "bundled"
    detail: str  # one line for the output: API and time, or file and date


def _load(name: str) -> dict[str, Any]:
    text = resources.files("cfgen").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def on_demand_table() -> dict[str, Any]:
    """The bundled EC2 On-Demand table (see its ``source``, ``as_of`` and ``notes``)."""
    return _load("ec2_on_demand.json")


@cache
def spot_estimate_table() -> dict[str, Any]:
    return _load("ec2_spot_snapshot.json")


@cache
def fargate_table() -> dict[str, Any]:
    return _load("fargate.json")


def regions() -> list[str]:
    return sorted(on_demand_table()["regions"])


def check_region(region: str) -> None:
    if region not in on_demand_table()["regions"]:
        raise PriceError(
            f"--region: {region!r} is not in the bundled price table "
            f"(one of: {', '.join(regions())})"
        )


def vcpus_of(instance_type: str) -> int:
    """vCPUs of an instance type, from its size (c6i.2xlarge -> 8)."""
    match = _TYPE_RE.match(instance_type)
    size = _SIZE_RE.match(match.group(2)) if match else None
    if size is None:
        raise PriceError(f"instance type {instance_type!r}: unknown size (expected e.g. c6i.large)")
    if size.group(1):
        return 4 * int(size.group(1))
    return {"xlarge": 4, "large": 2, "medium": 1}[size.group(0)]


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def on_demand_prices(region: str) -> dict[str, float]:
    check_region(region)
    prices: dict[str, float] = on_demand_table()["regions"][region]["prices"]
    return prices


def expand_instance_types(names: Iterable[str], region: str) -> list[str]:
    """Resolve Batch instance-type entries to priced types.

    An entry may be a type (``c6i.large``) or a family (``c6i``), which Batch
    reads as "any size of the family": a family expands to every size the
    table prices. ``optimal`` is read as the c/m/r families Batch draws it
    from in current regions (approximated by c6i, m6i, r6i).
    """
    table = on_demand_prices(region)
    out: list[str] = []
    for raw in names:
        name = raw.strip()
        families = ["c6i", "m6i", "r6i"] if name == "optimal" else [name]
        for family in families:
            if "." in family:
                if family not in table:
                    raise PriceError(
                        f"instance type {family!r}: no On-Demand price for {region} "
                        "in the bundled table (src/cfgen/data/ec2_on_demand.json)"
                    )
                found = [family]
            else:
                found = sorted((t for t in table if family_of(t) == family), key=vcpus_of)
                if not found:
                    raise PriceError(
                        f"instance family {family!r}: no On-Demand price for {region} "
                        "in the bundled table (src/cfgen/data/ec2_on_demand.json)"
                    )
            out.extend(t for t in found if t not in out)
    return out


def is_gpu(instance_type: str) -> bool:
    return ec2.is_gpu(instance_type)


def is_arm64(instance_type: str) -> bool:
    return ec2.architecture(instance_type) is ec2.Architecture.ARM64


def estimated_spot_prices(region: str, types: Iterable[str]) -> SpotQuote:
    """Spot prices from the bundled estimate (On-Demand x a per-class fraction)."""
    table = spot_estimate_table()
    fractions: Mapping[str, float] = table["fraction_of_on_demand"]
    od = on_demand_prices(region)
    prices: dict[str, float] = {}
    for t in types:
        key = "gpu" if is_gpu(t) else "arm64" if is_arm64(t) else "default"
        prices[t] = round(od[t] * fractions[key], 6)
    return SpotQuote(
        prices,
        "bundled",
        f"bundled estimate as of {table['as_of']} (modelled from On-Demand, not observed; "
        "src/cfgen/data/ec2_spot_snapshot.json)",
    )


def fetch_spot_prices(client: Any, types: list[str], *, now: datetime | None = None) -> SpotQuote:
    """Live Spot prices through an EC2 client's DescribeSpotPriceHistory.

    With ``StartTime`` = now, EC2 returns the current price of each pool
    (instance type x Availability Zone). A type's price is the median over its
    Availability Zones; types without any pool in the region are left out.
    """
    when = now or datetime.now(UTC)
    per_type: dict[str, list[float]] = {}
    token = ""
    while True:
        kwargs: dict[str, Any] = {
            "InstanceTypes": types,
            "ProductDescriptions": ["Linux/UNIX"],
            "StartTime": when,
            "MaxResults": 1000,
        }
        if token:
            kwargs["NextToken"] = token
        page = client.describe_spot_price_history(**kwargs)
        latest: dict[tuple[str, str], tuple[datetime, float]] = {}
        for item in page.get("SpotPriceHistory", []):
            key = (item["InstanceType"], item.get("AvailabilityZone", ""))
            stamp = item.get("Timestamp", when)
            if key not in latest or stamp > latest[key][0]:
                latest[key] = (stamp, float(item["SpotPrice"]))
        for (itype, _az), (_stamp, price) in latest.items():
            per_type.setdefault(itype, []).append(price)
        token = page.get("NextToken", "")
        if not token:
            break
    prices = {t: round(statistics.median(v), 6) for t, v in sorted(per_type.items())}
    return SpotQuote(
        prices,
        "live",
        f"live from EC2 DescribeSpotPriceHistory at {when:%Y-%m-%d %H:%M} UTC "
        "(median over Availability Zones)",
    )


def spot_prices(
    region: str, types: list[str], *, offline: bool = False, client: Any = None
) -> SpotQuote:
    """Live Spot prices when AWS credentials exist (and not ``offline``), else bundled.

    ``client`` (an EC2 client) skips the credential lookup; tests pass one
    wrapped in botocore's Stubber. Types the live answer lacks keep their
    bundled estimate, and the detail line says so; a failing live lookup falls
    back to the bundled estimate and says why.
    """
    bundled = estimated_spot_prices(region, types)
    if offline:
        return bundled
    import botocore.exceptions

    if client is None:
        import boto3

        session = boto3.session.Session(region_name=region)
        if session.get_credentials() is None:
            return SpotQuote(bundled.prices, "bundled", f"{bundled.detail}; no AWS credentials")
        client = session.client("ec2", region_name=region)
        endpoint = str(client.meta.endpoint_url)
        if not is_aws_endpoint(endpoint):
            # AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_EC2, or a profile's endpoint_url)
            # points the SDK elsewhere, e.g. at a local emulator: its prices are not
            # Spot prices, so never call them live.
            # https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
            return SpotQuote(
                bundled.prices,
                "bundled",
                f"{bundled.detail}; the EC2 endpoint {endpoint} is not AWS's"
                " (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_EC2 is set), so it was not asked",
            )
    try:
        live = fetch_spot_prices(client, types)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return SpotQuote(
            bundled.prices, "bundled", f"{bundled.detail}; live lookup failed: {reason}"
        )
    return merge_quotes(live, bundled)


def is_aws_endpoint(url: str) -> bool:
    """True for AWS's own endpoints: ec2.<region>.amazonaws.com (.com.cn in China),
    or the dual-stack ec2.<region>.api.aws; api.pricing.<region>.amazonaws.com alike.
    https://docs.aws.amazon.com/general/latest/gr/ec2-service.html
    https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-pelong.html"""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and host.endswith(
        (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
    )


def merge_quotes(live: SpotQuote, bundled: SpotQuote) -> SpotQuote:
    missing = [t for t in bundled.prices if t not in live.prices]
    if not missing:
        return SpotQuote({t: live.prices[t] for t in bundled.prices}, "live", live.detail)
    prices = {t: live.prices.get(t, bundled.prices[t]) for t in bundled.prices}
    return SpotQuote(
        prices,
        "live",
        f"{live.detail}; no Spot pool for {', '.join(missing)}: bundled estimate used",
    )


def fargate_rates(region: str, architecture: str, *, spot: bool) -> FargateRates:
    check_region(region)
    table = fargate_table()["regions"]
    if region not in table:
        raise PriceError(f"--region: {region!r} has no Fargate prices in the bundled table")
    rates = table[region][architecture]["spot" if spot else "on_demand"]
    return FargateRates(float(rates["vcpu_hour"]), float(rates["gb_hour"]))
