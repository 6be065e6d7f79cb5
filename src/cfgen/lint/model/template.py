"""Resolved view of a template for cfgen's Batch rules.

The rules look at a template the way CloudFormation would deploy it:

* every ``Fn::If`` is resolved per scenario (cfn-lint works out which
  combinations of conditions can hold together, resource ``Condition`` included);
* a ``Ref`` to a parameter takes the parameter's ``Default``; with no default a
  parameter whose ``AllowedValues`` has one entry takes that entry; anything
  else is :data:`UNKNOWN` and the rule asking stays silent;
* ``Ref`` / ``Fn::GetAtt`` to another resource is followed by logical ID.

One :class:`Model` is built per template and cached on cfn-lint's
``Template`` object, so the ~35 rules share the work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cfgen import ec2
from cfgen.lint.model.values import UNKNOWN, get_att, is_unknown, scalar

Path = tuple[str | int, ...]
Scenario = dict[str, bool]

BATCH_CE = "AWS::Batch::ComputeEnvironment"
BATCH_JQ = "AWS::Batch::JobQueue"
BATCH_JD = "AWS::Batch::JobDefinition"

SPOT_STRATEGIES = ec2.SPOT_STRATEGIES
EC2_TYPES = frozenset({"EC2", "SPOT"})
FARGATE_TYPES = frozenset({"FARGATE", "FARGATE_SPOT"})
# What Batch writes into statusReason when the host goes away (Spot reclaim).
SPOT_RECLAIM_STATUS_REASON = "Host EC2 (instance i-0123456789abcdef0) terminated."


@dataclass(frozen=True)
class Variant:
    """One way a resource can be deployed: its properties with conditions resolved."""

    logical_id: str
    resource_type: str
    scenario: Scenario
    props: dict[str, Any]


def compatible(a: Scenario, b: Scenario) -> bool:
    """True when two scenarios agree on every condition they both name."""
    return all(b.get(name, value) == value for name, value in a.items())


class Model:
    """Resolved view over one cfn-lint ``Template``."""

    def __init__(self, cfn: Any) -> None:
        self.cfn = cfn
        template = cfn.template if isinstance(cfn.template, dict) else {}
        params = template.get("Parameters", {})
        self.parameters: dict[str, dict[str, Any]] = params if isinstance(params, dict) else {}
        res = template.get("Resources", {})
        self.resources: dict[str, dict[str, Any]] = {
            k: v for k, v in (res.items() if isinstance(res, dict) else []) if isinstance(v, dict)
        }
        self._variants: dict[str, list[Variant]] = {}

    # -- resources ---------------------------------------------------------
    def of_type(self, resource_type: str) -> list[str]:
        return sorted(k for k, v in self.resources.items() if v.get("Type") == resource_type)

    def type_of(self, logical_id: str) -> str | None:
        res = self.resources.get(logical_id)
        return str(res.get("Type")) if res else None

    def variants(self, logical_id: str) -> list[Variant]:
        """Every scenario of a resource's Properties (deduplicated)."""
        if logical_id in self._variants:
            return self._variants[logical_id]
        res = self.resources.get(logical_id, {})
        props = res.get("Properties", {})
        out: list[Variant] = []
        if isinstance(props, dict):
            seen: list[Any] = []
            path = ["Resources", logical_id, "Properties"]
            for item in self.cfn.get_object_without_nested_conditions(props, path):
                scenario = dict(item.get("Scenario") or {})
                cond = res.get("Condition")
                if isinstance(cond, str):
                    if scenario.get(cond) is False:
                        continue
                    scenario[cond] = True
                obj = item.get("Object")
                if not isinstance(obj, dict):
                    obj = {}
                key = json.dumps(obj, sort_keys=True, default=str)
                if key in seen:
                    continue
                seen.append(key)
                out.append(Variant(logical_id, str(res.get("Type")), scenario, obj))
        self._variants[logical_id] = out
        return out

    def all_variants(self, resource_type: str) -> Iterator[Variant]:
        for lid in self.of_type(resource_type):
            yield from self.variants(lid)

    def target(self, value: Any) -> str | None:
        """Logical ID referenced by ``Ref`` / ``Fn::GetAtt`` (None otherwise)."""
        if isinstance(value, dict) and len(value) == 1:
            if "Ref" in value and value["Ref"] in self.resources:
                return str(value["Ref"])
            att = get_att(value)
            if att is not None and att[0] in self.resources:
                return att[0]
        return None

    def linked_variants(self, value: Any, scenario: Scenario) -> list[Variant]:
        """Variants of the referenced resource that can coexist with ``scenario``."""
        lid = self.target(value)
        if lid is None:
            return []
        return [v for v in self.variants(lid) if compatible(v.scenario, scenario)]

    # -- values ------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """A scalar with parameter defaults applied, or UNKNOWN."""
        if isinstance(value, dict):
            if len(value) == 1 and "Ref" in value:
                param = self.parameters.get(str(value["Ref"]))
                if isinstance(param, dict):
                    if "Default" in param:
                        return scalar(param["Default"])
                    allowed = param.get("AllowedValues")
                    if isinstance(allowed, list) and len(allowed) == 1:
                        return scalar(allowed[0])
            return UNKNOWN
        if isinstance(value, list):
            return UNKNOWN
        return scalar(value)

    def resolve_list(self, value: Any) -> list[Any] | Any:
        """A list with parameter defaults applied (items may be UNKNOWN), or UNKNOWN."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict) and len(value) == 1 and "Ref" in value:
            param = self.parameters.get(str(value["Ref"]))
            if isinstance(param, dict) and "Default" in param:
                default = param["Default"]
                if isinstance(default, list):
                    return [str(x) for x in default]
                text = str(default)
                return [x.strip() for x in text.split(",")] if text else []
        return UNKNOWN

    def is_param_ref(self, value: Any) -> bool:
        return (
            isinstance(value, dict)
            and len(value) == 1
            and "Ref" in value
            and value["Ref"] in self.parameters
        )

    def number(self, value: Any) -> float | Any:
        v = self.resolve(value)
        if isinstance(v, bool) or is_unknown(v):
            return UNKNOWN
        try:
            return float(v)
        except (TypeError, ValueError):
            return UNKNOWN

    def text(self, value: Any) -> str | Any:
        v = self.resolve(value)
        if is_unknown(v) or isinstance(v, (dict, list)):
            return UNKNOWN
        return str(v)

    # -- Batch helpers -------------------------------------------------------
    def ce_type(self, ce: Variant) -> str | Any:
        """EC2 / SPOT / FARGATE / FARGATE_SPOT for managed CEs, else UNKNOWN."""
        if str(self.text(ce.props.get("Type", ""))).upper() != "MANAGED":
            return UNKNOWN
        cr = ce.props.get("ComputeResources")
        if not isinstance(cr, dict):
            return UNKNOWN
        t = self.text(cr.get("Type"))
        return t.upper() if isinstance(t, str) else UNKNOWN

    def queue_ces(self, jq: Variant) -> list[tuple[int, Any, list[Variant]]]:
        """(index, order value, compatible CE variants) per ComputeEnvironmentOrder entry."""
        order = jq.props.get("ComputeEnvironmentOrder")
        out: list[tuple[int, Any, list[Variant]]] = []
        if isinstance(order, list):
            for i, entry in enumerate(order):
                if not isinstance(entry, dict):
                    continue
                ces = self.linked_variants(entry.get("ComputeEnvironment"), jq.scenario)
                out.append((i, entry.get("Order"), ces))
        return out


def model(cfn: Any) -> Model:
    """The cached :class:`Model` of a cfn-lint Template."""
    cached = getattr(cfn, "_cfgen_lint_model", None)
    if isinstance(cached, Model):
        return cached
    built = Model(cfn)
    cfn._cfgen_lint_model = built
    return built
