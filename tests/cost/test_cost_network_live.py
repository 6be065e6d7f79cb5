"""Live network prices: the AWS Price List Query API (pricing GetProducts), scripted.

moto 5.2.5 has no ``pricing`` backend (docs/moto-notes.md), so a scripted
endpoint on 127.0.0.1 answers GetProducts (JSON 1.1, target
``AWSPriceListService.GetProducts``) the way the API documents it: a
``PriceList`` of JSON strings, each a product with its attributes and On-Demand
terms. Only the answers are scripted: botocore signs, serializes, sends and
parses every request for real, and cfgen reads what comes back.
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
from botocore.config import Config

from cfgen.cost import network
from cfgen.cost.cli import cost_main

REGION = "us-west-2"


def product(usagetype: str, family: str, *tiers: tuple[str, str], region: str = REGION) -> str:
    """One PriceList entry as the API sends it: a JSON string."""
    dims = {
        f"SKU.TERM.{i}": {
            "unit": "Hrs" if usagetype.endswith("Hours") else "GB",
            "beginRange": begin,
            "endRange": "Inf",
            "pricePerUnit": {"USD": usd},
        }
        for i, (begin, usd) in enumerate(tiers)
    }
    return json.dumps(
        {
            "product": {
                "productFamily": family,
                "attributes": {"usagetype": usagetype, "regionCode": region},
                "sku": "SKU",
            },
            "serviceCode": "AmazonEC2" if family == "NAT Gateway" else "AmazonVPC",
            "terms": {"OnDemand": {"SKU.TERM": {"priceDimensions": dims}}},
        }
    )


#: US West (Oregon) as the API would list it: region-prefixed usage types, a
#: Regional NAT gateway product that is not the one priced, tiered endpoint GB.
NAT_PAGES = [
    [
        product("USW2-RegionalNatGateway-Hours", "NAT Gateway", ("0", "0.09")),
        product("USW2-NatGateway-Hours", "NAT Gateway", ("0", "0.046")),
    ],
    [product("USW2-NatGateway-Bytes", "NAT Gateway", ("0", "0.047"))],
]
ENDPOINT_PAGES = [
    [
        product("USW2-VpcEndpoint-Hours", "VpcEndpoint", ("0", "0.012")),
        product(
            "USW2-VpcEndpoint-Bytes",
            "VpcEndpoint",
            ("1048576", "0.006"),
            ("0", "0.011"),
        ),
    ]
]


class Pricing(BaseHTTPRequestHandler):
    """GetProducts from pages per service code; NextToken is the next page's index."""

    pages: ClassVar[dict[str, list[list[str]]]] = {}
    requests: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 200

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body["target"] = self.headers.get("X-Amz-Target")
        self.requests.append(body)
        if self.status != 200:
            self._send(self.status, {"__type": "InternalErrorException", "Message": "scripted"})
            return
        pages = self.pages.get(body["ServiceCode"], [[]])
        index = int(body.get("NextToken") or 0)
        answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": pages[index]}
        if index + 1 < len(pages):
            answer["NextToken"] = str(index + 1)
        self._send(200, answer)

    def _send(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def pricing() -> Iterator[tuple[type[Pricing], str]]:
    class Scripted(Pricing):
        pages: ClassVar[dict[str, list[list[str]]]] = {
            "AmazonEC2": NAT_PAGES,
            "AmazonVPC": ENDPOINT_PAGES,
        }
        requests: ClassVar[list[dict[str, Any]]] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Scripted, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def client(url: str) -> Any:
    return boto3.session.Session().client(
        "pricing",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # dummy credentials for the scripted endpoint
        config=Config(retries={"max_attempts": 1}),
    )


def test_live_rates_come_from_get_products_with_the_documented_filters(
    pricing: tuple[type[Pricing], str],
) -> None:
    handler, url = pricing
    quote = network.network_quote(REGION, client=client(url))
    assert quote.source == "live", quote.detail
    assert "live from the AWS Price List API" in quote.detail
    # The NatGateway product, not the Regional one; the endpoint GB of the first tier.
    assert quote.rates == network.NetworkRates(0.046, 0.047, 0.012, 0.011)
    filters = {
        (r["ServiceCode"], f["Field"], f["Value"], f["Type"])
        for r in handler.requests
        for f in r["Filters"]
    }
    assert filters == {
        ("AmazonEC2", "productFamily", "NAT Gateway", "TERM_MATCH"),
        ("AmazonEC2", "regionCode", REGION, "TERM_MATCH"),
        ("AmazonVPC", "productFamily", "VpcEndpoint", "TERM_MATCH"),
        ("AmazonVPC", "regionCode", REGION, "TERM_MATCH"),
    }
    assert {r["target"] for r in handler.requests} == {"AWSPriceListService.GetProducts"}
    # Two NAT pages (NextToken followed), one endpoint page.
    assert [r["ServiceCode"] for r in handler.requests] == ["AmazonEC2", "AmazonEC2", "AmazonVPC"]


def test_live_rates_reach_the_figures_and_the_label(pricing: tuple[type[Pricing], str]) -> None:
    _, url = pricing
    quote = network.network_quote(REGION, client=client(url))
    c = network.compare(REGION, 1000, interface_endpoints=6, quote=quote)
    # NAT: 2 x 730 x 0.046 = 67.16 + 1000 x 0.047 = 47.00; endpoints 6 x 2 x 730 x 0.012 = 105.12.
    assert round(c.nat.total, 2) == 114.16
    assert round(c.endpoints.total, 2) == 105.12
    # Break-even (105.12 - 67.16) / 0.047 = 807.7 GB.
    assert round(c.break_even_gb, 1) == 807.7
    text = network.format_comparison(c, "nat")
    assert "  prices (live): live from the AWS Price List API at " in text
    assert "1000 GB x 0.047 $ = 47.00 $ -> 114.16 $/month" in text


@pytest.mark.parametrize(
    ("pages", "reason"),
    [
        # Not JSON at all.
        ({"AmazonEC2": [["{not json"]]}, "malformed PriceList entry (JSONDecodeError)"),
        # A product without terms.
        (
            {
                "AmazonEC2": [
                    [json.dumps({"product": {"attributes": {"usagetype": "NatGateway-Hours"}}})]
                ]
            },
            "no On-Demand USD price",
        ),
        # A price that is not a number.
        (
            {"AmazonEC2": [[product("NatGateway-Hours", "NAT Gateway", ("0", "free"))]]},
            "malformed PriceList entry (ValueError)",
        ),
        # Negative.
        (
            {"AmazonEC2": [[product("NatGateway-Hours", "NAT Gateway", ("0", "-1"))]]},
            "price -1.0 is not a price",
        ),
        # NAT priced, the endpoints missing from the answer.
        ({"AmazonEC2": NAT_PAGES, "AmazonVPC": [[]]}, "no price for interface_hour, interface_gb"),
        # Another region's products only.
        (
            {
                "AmazonEC2": [[product("NatGateway-Hours", "NAT Gateway", ("0", "1"), region="x")]],
            },
            "no price for nat_hour, nat_gb, interface_hour, interface_gb",
        ),
    ],
)
def test_unusable_answers_fall_back_to_the_bundled_table(
    pricing: tuple[type[Pricing], str], pages: dict[str, list[list[str]]], reason: str
) -> None:
    handler, url = pricing
    handler.pages = pages
    quote = network.network_quote(REGION, client=client(url))
    assert quote.source == "bundled"
    assert quote.rates == network.rates(REGION)
    assert quote.detail.startswith("bundled table as of 2026-05 (src/cfgen/data/network.json)")
    assert "live answer unusable" in quote.detail and reason in quote.detail, quote.detail


def test_an_error_answer_falls_back_and_says_why(pricing: tuple[type[Pricing], str]) -> None:
    handler, url = pricing
    handler.status = 500
    quote = network.network_quote(REGION, client=client(url))
    assert quote.source == "bundled" and quote.rates == network.rates(REGION)
    assert "live lookup failed" in quote.detail and "InternalErrorException" in quote.detail


def test_offline_never_calls(pricing: tuple[type[Pricing], str]) -> None:
    handler, url = pricing
    quote = network.network_quote(REGION, offline=True, client=client(url))
    assert quote.source == "bundled" and handler.requests == []


def test_cost_never_asks_an_endpoint_that_is_not_aws(
    pricing: tuple[type[Pricing], str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With credentials but AWS_ENDPOINT_URL_PRICING set (an emulator, a proxy),
    `cfgen cost` does not take that endpoint's prices for AWS's."""
    handler, url = pricing
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", url)
    rc = cost_main(["--region", REGION, "--data-gb-per-month", "100"])
    out = capsys.readouterr().out
    assert rc == 0
    assert (
        f"  prices (bundled): bundled table as of 2026-05 (src/cfgen/data/network.json); the Price List endpoint {url} is not AWS's"
        in out
    )
    assert handler.requests == []


def test_without_credentials_the_output_says_bundled(
    no_aws_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cost_main(["--data-gb-per-month", "100"]) == 0
    assert "  prices (bundled): bundled table as of 2026-05" in capsys.readouterr().out
    assert "; no AWS credentials" in network.network_quote("us-east-1").detail
