"""Shared view of a template for cfgen's Batch rules.

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

import fnmatch
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cfnlint.rules import RuleMatch

from cfgen import ec2

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


class _Unknown:
    """A value the rules cannot decide (intrinsic function, parameter without default)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def is_unknown(value: object) -> bool:
    return value is UNKNOWN


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
                        return _scalar(param["Default"])
                    allowed = param.get("AllowedValues")
                    if isinstance(allowed, list) and len(allowed) == 1:
                        return _scalar(allowed[0])
            return UNKNOWN
        if isinstance(value, list):
            return UNKNOWN
        return _scalar(value)

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


def _scalar(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    return UNKNOWN


def get_att(value: Any) -> tuple[str, str] | None:
    """(logical ID, attribute) of a ``Fn::GetAtt``, attribute "" if missing; else None."""
    if not isinstance(value, dict) or len(value) != 1 or "Fn::GetAtt" not in value:
        return None
    att = value["Fn::GetAtt"]
    if isinstance(att, str):
        lid, _, name = att.partition(".")
        return lid, name
    if isinstance(att, list) and att and isinstance(att[0], str):
        name = att[1] if len(att) > 1 and isinstance(att[1], str) else ""
        return att[0], name
    return None


def model(cfn: Any) -> Model:
    """The cached :class:`Model` of a cfn-lint Template."""
    cached = getattr(cfn, "_cfgen_lint_model", None)
    if isinstance(cached, Model):
        return cached
    built = Model(cfn)
    cfn._cfgen_lint_model = built
    return built


class Findings:
    """Collects one rule's matches, deduplicated across scenarios.

    Paths point into the template as written: they are cut at the first key
    that does not exist or at an ``Fn::If``, so the line number lands on the
    property that decides the finding.
    """

    def __init__(self, cfn: Any) -> None:
        self._cfn = cfn
        self._seen: dict[tuple[Path, str], RuleMatch] = {}

    def add(self, path: Path, message: str) -> None:
        real = written_path(self._cfn.template, path)
        key = (real, message)
        if key not in self._seen:
            self._seen[key] = RuleMatch(list(real), message)

    def matches(self) -> list[RuleMatch]:
        return list(self._seen.values())


def written_path(template: Any, path: Path) -> Path:
    node = template
    out: list[str | int] = []
    for step in path:
        if isinstance(node, dict) and "Fn::If" in node and len(node) == 1:
            break
        in_dict = isinstance(node, dict) and isinstance(step, str) and step in node
        in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if in_dict or in_list:
            node = node[step]
        else:
            break
        out.append(step)
    return tuple(out)


def res_path(lid: str, *rest: str | int) -> Path:
    return ("Resources", lid, "Properties", *rest)


# -- EC2 instance types ------------------------------------------------------
@cache
def known_instance_types() -> frozenset[str]:
    """Every EC2 instance type cfn-lint knows in any region."""
    data = (
        resources.files("cfnlint.data.schemas.extensions.aws_ec2_instance")
        .joinpath("instancetype_enum.json")
        .read_text(encoding="utf-8")
    )
    names: set[str] = set()
    for region in json.loads(data).values():
        if isinstance(region, dict):
            names.update(region.get("enum", []))
    return frozenset(names)


@cache
def known_families() -> frozenset[str]:
    return frozenset(n.split(".", 1)[0] for n in known_instance_types())


def architecture(instance_type: str) -> str | None:
    """``arm64`` / ``x86_64`` for a Batch instance type or family, None if unknown.

    Existence comes from cfn-lint's EC2 instance-type data; the architecture
    from the family name (cfgen.ec2).
    """
    name = instance_type.strip().lower()
    if name not in ec2.PSEUDO_TYPES and ec2.family(name) not in known_families():
        return None
    arch = ec2.architecture(name)
    return None if arch is None else arch.value


def is_a1(instance_type: str) -> bool:
    return ec2.is_a1(instance_type)


def ce_architectures(m: Model, cr: dict[str, Any]) -> dict[str, list[str]]:
    """Architecture -> instance types of one CE variant (unknown types left out)."""
    types = m.resolve_list(cr.get("InstanceTypes", []))
    found: dict[str, list[str]] = {}
    if is_unknown(types):
        return found
    for t in types:
        if isinstance(t, str):
            arch = architecture(t)
            if arch:
                found.setdefault(arch, []).append(t)
    return found


# -- retry strategy ----------------------------------------------------------
def retries_spot_reclaim(m: Model, retry: Any) -> bool | Any:
    """Would a Spot reclaim of the host be retried by this RetryStrategy?"""
    if not isinstance(retry, dict):
        return False
    attempts = m.number(retry.get("Attempts", 1))
    if is_unknown(attempts):
        return UNKNOWN
    if attempts <= 1:
        return False
    rules = retry.get("EvaluateOnExit")
    if not isinstance(rules, list) or not rules:
        return True  # without EvaluateOnExit every failure is retried
    for rule in rules:
        if not isinstance(rule, dict):
            return UNKNOWN
        verdict = _rule_matches_reclaim(m, rule)
        if is_unknown(verdict):
            return UNKNOWN
        if verdict:
            action = m.text(rule.get("Action"))
            if is_unknown(action):
                return UNKNOWN
            return str(action).upper() == "RETRY"
    return True  # no rule matched: Batch retries


def _rule_matches_reclaim(m: Model, rule: dict[str, Any]) -> bool | Any:
    for key, sample in (
        ("OnStatusReason", SPOT_RECLAIM_STATUS_REASON),
        ("OnReason", ""),
        ("OnExitCode", None),
    ):
        if key not in rule:
            continue
        pattern = m.text(rule[key])
        if is_unknown(pattern):
            return UNKNOWN
        if pattern == "*":
            continue
        if sample is None or not fnmatch.fnmatchcase(sample, pattern):
            return False
    return True


def is_catch_all_exit(m: Model, rule: Any) -> bool:
    if not isinstance(rule, dict) or str(m.text(rule.get("Action"))).upper() != "EXIT":
        return False
    return all(
        m.text(rule.get(k, "*")) == "*" for k in ("OnStatusReason", "OnReason", "OnExitCode")
    )


# -- IAM documents -------------------------------------------------------------
def statements(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    st = doc.get("Statement")
    if isinstance(st, dict):
        return [st]
    return [s for s in st if isinstance(s, dict)] if isinstance(st, list) else []


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def action_allows(actions: Any, wanted: str) -> bool:
    for a in as_list(actions):
        if isinstance(a, str) and fnmatch.fnmatchcase(wanted.lower(), a.lower()):
            return True
    return False


def service_principal(statement: dict[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        if principal.get("AWS") == "*":
            return True
        for s in as_list(principal.get("Service")):
            if isinstance(s, str) and s == service:
                return True
            if isinstance(s, dict) and "Fn::Sub" in s and str(s["Fn::Sub"]).startswith(service):
                return True
    return False
