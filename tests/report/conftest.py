"""Fixtures for cfgen report: one moto server on 127.0.0.1 per session (S3, EC2, ECS,
CloudFormation, CloudWatch), a fresh bucket per test, and the environment that points
the AWS SDK and CLI at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process and its children talk to the emulator only."""
    env = {**CREDS, "AWS_ENDPOINT_URL": moto_url}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def client(aws_env: dict[str, str], moto_url: str) -> Any:
    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_url, region_name="us-east-1")

    return make


@pytest.fixture
def bucket(client: Any) -> str:
    name = f"ledger-{uuid.uuid4().hex[:16]}"
    client("s3").create_bucket(Bucket=name)
    return name
