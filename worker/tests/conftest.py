"""Fixtures: a moto S3 server on 127.0.0.1 (a free port), a fresh bucket per test, and a
fault-injecting proxy in front of the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fakeimds import FakeIMDS
from faultproxy import FaultProxy
from moto.server import ThreadedMotoServer
from swtestlib import base_env


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in base_env(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # a worker run in this process sets its engine's variables (pool.set_engine_env):
    # undone after each test, as the rest
    for name in ("POLARS_MAX_THREADS", "_RJEM_MALLOC_CONF"):
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"data-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    """A FaultProxy in front of the moto server (the worker's AWS_ENDPOINT_URL)."""
    host, _, port = moto_endpoint.removeprefix("http://").partition(":")
    with FaultProxy((host, int(port))) as fp:
        yield fp


@pytest.fixture
def imds() -> Iterator[FakeIMDS]:
    """A stand-in IMDSv2 on 127.0.0.1 (see fakeimds.py)."""
    server = FakeIMDS()
    try:
        yield server
    finally:
        server.close()
