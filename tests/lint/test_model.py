"""Helpers behind the rules: instance architecture, event paths, retry simulation."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.template import Template

from cfgen.lint import model as mdl
from cfgen.lint.support.events import path_exists


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("c6i.large", "x86_64"),
        ("m6g.large", "arm64"),
        ("c7gn.xlarge", "arm64"),
        ("x2gd.large", "arm64"),
        ("is4gen.large", "arm64"),
        ("a1.medium", "arm64"),
        ("g5g.xlarge", "arm64"),
        ("g5.xlarge", "x86_64"),
        ("m7i-flex.large", "x86_64"),
        ("c6g", "arm64"),  # a family, as Batch accepts
        ("optimal", "x86_64"),
        ("default_arm64", "arm64"),
        ("zz9.large", None),  # not in cfn-lint's data: undecidable
    ],
)
def test_architecture(instance_type: str, arch: str | None) -> None:
    assert mdl.architecture(instance_type) == arch


@pytest.mark.parametrize(
    ("path", "exists"),
    [
        ("$.detail.status", True),
        ("$.detail.jobStatus", False),
        ("$.detail.container.exitCode", True),
        ("$.detail.container.exitCodes", False),
        ("$.detail.attempts[0].container.reason", True),
        ("$.detail.parameters.anything", True),
        ("$.detail-type", True),
        ("$.resources[0]", True),
        ("$.jobName", False),
        ("$", True),
        ("not-a-path", None),
    ],
)
def test_event_paths(path: str, exists: bool | None) -> None:
    assert path_exists(path) is exists


def model_of(template: dict[str, Any]) -> mdl.Model:
    return mdl.Model(Template("t.yaml", template, ["us-east-1"]))


M = model_of({"Parameters": {"Attempts": {"Type": "Number"}}, "Resources": {}})
RETRY = {"OnStatusReason": "Host EC2*", "Action": "RETRY"}
EXIT_ALL = {"OnReason": "*", "Action": "EXIT"}


@pytest.mark.parametrize(
    ("retry", "verdict"),
    [
        (None, False),
        ({"Attempts": 1}, False),
        ({"Attempts": 3}, True),  # no EvaluateOnExit: everything is retried
        ({"Attempts": 3, "EvaluateOnExit": [RETRY, EXIT_ALL]}, True),
        ({"Attempts": 3, "EvaluateOnExit": [EXIT_ALL, RETRY]}, False),
        ({"Attempts": 3, "EvaluateOnExit": [{"OnExitCode": "1", "Action": "EXIT"}]}, True),
        ({"Attempts": 3, "EvaluateOnExit": [{"OnStatusReason": "Host*", "Action": "RETRY"}]}, True),
        ({"Attempts": {"Ref": "Attempts"}, "EvaluateOnExit": [RETRY]}, mdl.UNKNOWN),
    ],
)
def test_spot_reclaim_retry(retry: Any, verdict: Any) -> None:
    assert mdl.retries_spot_reclaim(M, retry) is verdict


def test_resolve_uses_defaults_and_single_allowed_value() -> None:
    m = model_of(
        {
            "Parameters": {
                "A": {"Type": "String", "Default": "x"},
                "B": {"Type": "String", "AllowedValues": ["only"]},
                "C": {"Type": "String", "AllowedValues": ["one", "two"]},
                "L": {"Type": "CommaDelimitedList", "Default": "a, b"},
            },
            "Resources": {},
        }
    )
    assert m.resolve({"Ref": "A"}) == "x"
    assert m.resolve({"Ref": "B"}) == "only"
    assert m.resolve({"Ref": "C"}) is mdl.UNKNOWN
    assert m.resolve({"Fn::Sub": "x"}) is mdl.UNKNOWN
    assert m.resolve_list({"Ref": "L"}) == ["a", "b"]
