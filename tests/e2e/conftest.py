"""Fixtures for the end-to-end tests: one moto server per session, always stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import Emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = Emulator(tmp_path_factory.mktemp("local-aws"))
    try:
        emu.start()
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="session")
def batch_service_role(emulator: Emulator) -> str:
    """An IAM role for the template's ServiceRoleArn parameter.

    moto cannot create a compute environment without ServiceRole (HTTP 500,
    docs/moto-notes.md), so the e2e stacks use the template's optional
    ServiceRoleArn parameter; the role is created by the test, outside the stack.
    """
    doc = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"batch.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    )
    out = emulator.aws(
        "iam",
        "create-role",
        "--role-name",
        "AWSBatchServiceRole",
        "--path",
        "/service-role/",
        "--assume-role-policy-document",
        doc,
    )
    return str(out["Role"]["Arn"])
