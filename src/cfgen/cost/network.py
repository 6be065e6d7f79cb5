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

Rates come live from the AWS Price List Query API (``pricing`` GetProducts)
when AWS credentials exist, as Spot prices do (cfgen.cost.prices), else from
the bundled table; every :class:`NetworkQuote` says which, and why. boto3 is
imported only on the live path.

- NAT gateway: service code ``AmazonEC2``, ``productFamily`` ``NAT Gateway``,
  usage types ``[<prefix>-]NatGateway-Hours`` and ``NatGateway-Bytes``;
- interface endpoints: service code ``AmazonVPC``, ``productFamily``
  ``VpcEndpoint``, usage types ``[<prefix>-]VpcEndpoint-Hours`` (per endpoint
  per Availability Zone) and ``VpcEndpoint-Bytes`` (tiered: the first tier,
  ``beginRange`` 0, is used);
- both filtered with ``regionCode`` = the region; On-Demand terms, USD.

The query API, its filters (TERM_MATCH on a product attribute) and its
endpoints (api.pricing.us-east-1.amazonaws.com among them):
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-pelong.html
The shape of a PriceList entry (product.attributes, terms.OnDemand.*.
priceDimensions.*.pricePerUnit.USD, beginRange):
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html
The product families and usage types are not listed on an AWS page: they are
the values the API returns (``aws pricing get-attribute-values``), as the
open-source infracost cost estimator queries them too.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from cfgen.cost.prices import PriceError, is_aws_endpoint


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
    quote: NetworkQuote


@dataclass(frozen=True)
class NetworkQuote:
    """Network rates and where they came from."""

    rates: NetworkRates
    source: str  # "live" | "bundled"
    detail: str  # one line for the output: API and time, or file and date


#: The Price List Query API answers in us-east-1 (also eu-central-1, ap-south-1)
#: for every region's prices; the caller needs pricing:GetProducts.
#: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-pelong.html
PRICING_REGION = "us-east-1"

#: (service code, productFamily, usage-type pattern) per pair of rates.
_PRODUCTS = (
    ("AmazonEC2", "NAT Gateway", re.compile(r"^(?:[A-Z0-9]+-)?NatGateway-(Hours|Bytes)$")),
    ("AmazonVPC", "VpcEndpoint", re.compile(r"^(?:[A-Z0-9]+-)?VpcEndpoint-(Hours|Bytes)$")),
)
_RATE_NAMES = {
    ("NAT Gateway", "Hours"): "nat_hour",
    ("NAT Gateway", "Bytes"): "nat_gb",
    ("VpcEndpoint", "Hours"): "interface_hour",
    ("VpcEndpoint", "Bytes"): "interface_gb",
}


def bundled_quote(region: str, reason: str = "") -> NetworkQuote:
    table = network_table()
    detail = f"bundled table as of {table['as_of']} (src/cfgen/data/network.json)"
    return NetworkQuote(rates(region), "bundled", f"{detail}; {reason}" if reason else detail)


class PriceListError(ValueError):
    """A Price List answer cfgen cannot use (one line: what is missing or malformed)."""


def _first_tier_usd(entry: dict[str, Any]) -> float:
    """USD per unit of the first tier (beginRange 0) of a product's On-Demand terms."""
    for term in (entry.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            if str(dim.get("beginRange", "0")) not in ("0", "0.0"):
                continue
            return float(dim["pricePerUnit"]["USD"])
    raise PriceListError("no On-Demand USD price from 0 units")


def fetch_network_rates(client: Any, region: str) -> NetworkRates:
    """The four rates of ``region`` through a ``pricing`` client's GetProducts.

    Raises PriceListError when an answer is malformed or lacks a rate.
    """
    found: dict[str, float] = {}
    for service, family, usage in _PRODUCTS:
        token = ""
        while True:
            kwargs: dict[str, Any] = {
                "ServiceCode": service,
                "Filters": [
                    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": family},
                    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                ],
                "FormatVersion": "aws_v1",
                "MaxResults": 100,
            }
            if token:
                kwargs["NextToken"] = token
            page = client.get_products(**kwargs)
            for raw in page.get("PriceList") or []:
                try:
                    entry = json.loads(raw)
                    attributes = entry["product"]["attributes"]
                    match = usage.match(str(attributes.get("usagetype", "")))
                    if not match or attributes.get("regionCode", region) != region:
                        continue
                    price = _first_tier_usd(entry)
                except PriceListError as exc:
                    raise PriceListError(f"{service} {family}: {exc}") from None
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    raise PriceListError(
                        f"{service} {family}: malformed PriceList entry ({type(exc).__name__})"
                    ) from None
                if not (math.isfinite(price) and price >= 0):
                    raise PriceListError(f"{service} {family}: price {price!r} is not a price")
                found.setdefault(_RATE_NAMES[(family, match.group(1))], price)
            token = str(page.get("NextToken") or "")
            if not token:
                break
    missing = [name for name in _RATE_NAMES.values() if name not in found]
    if missing:
        raise PriceListError(f"the answer has no price for {', '.join(missing)}")
    return NetworkRates(
        found["nat_hour"], found["nat_gb"], found["interface_hour"], found["interface_gb"]
    )


def network_quote(
    region: str, *, offline: bool = False, client: Any = None, now: datetime | None = None
) -> NetworkQuote:
    """Live rates when AWS credentials exist (and not ``offline``), else bundled.

    ``client`` (a ``pricing`` client) skips the credential lookup; tests pass one
    pointed at a scripted endpoint on 127.0.0.1. Any failure of the live lookup
    (an error, a malformed or incomplete answer) falls back to the bundled
    table, and the detail line says why.
    """
    rates(region)  # an unknown region is a usage error, live or not
    if offline:
        return bundled_quote(region)
    import botocore.exceptions

    if client is None:
        import boto3

        session = boto3.session.Session(region_name=PRICING_REGION)
        if session.get_credentials() is None:
            return bundled_quote(region, "no AWS credentials")
        client = session.client("pricing", region_name=PRICING_REGION)
        endpoint = str(client.meta.endpoint_url)
        if not is_aws_endpoint(endpoint):
            # As for Spot prices: an emulator's prices are not AWS's.
            # https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
            return bundled_quote(
                region,
                f"the Price List endpoint {endpoint} is not AWS's"
                " (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_PRICING is set), so it was not asked",
            )
    when = now or datetime.now(UTC)
    try:
        live = fetch_network_rates(client, region)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return bundled_quote(region, f"live lookup failed: {reason}")
    except PriceListError as exc:
        return bundled_quote(region, f"live answer unusable: {exc}")
    return NetworkQuote(
        live, "live", f"live from the AWS Price List API at {when:%Y-%m-%d %H:%M} UTC"
    )


def compare(
    region: str,
    data_gb: float,
    *,
    interface_endpoints: int,
    azs: int | None = None,
    quote: NetworkQuote | None = None,
) -> NetworkComparison:
    table = network_table()
    hours = float(table["hours_per_month"])
    zones = int(table["availability_zones"]) if azs is None else azs
    q = quote or bundled_quote(region)
    r = q.rates
    nat = NetworkCost("nat", zones * hours * r.nat_hour, data_gb * r.nat_gb)
    endpoints = NetworkCost(
        "endpoints", interface_endpoints * zones * hours * r.interface_hour, 0.0
    )
    break_even = max(0.0, (endpoints.hourly - nat.hourly) / r.nat_gb)
    return NetworkComparison(
        region, data_gb, zones, interface_endpoints, r, nat, endpoints, break_even, q
    )


def cost_of(comparison: NetworkComparison, mode: str) -> NetworkCost:
    if mode == "nat":
        return comparison.nat
    if mode == "endpoints":
        return comparison.endpoints
    return NetworkCost("public", 0.0, 0.0)


def format_comparison(c: NetworkComparison, mode: str, *, volume_from: str = "") -> str:
    """The data-transfer block ``cfgen cost`` prints (``volume_from``: where the
    volume came from, when not the command line)."""
    r = c.rates
    mine = cost_of(c, mode)
    origin = f" ({volume_from})" if volume_from else ""
    return "\n".join(
        [
            f"Data transfer, {c.data_gb:g} GB a month{origin} to and from S3/ECR (ESTIMATE;"
            f" {c.azs} Availability Zones, 730 h a month):",
            f"  prices ({c.quote.source}): {c.quote.detail}",
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
