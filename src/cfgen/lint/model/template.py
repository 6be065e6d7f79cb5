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

import itertools
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
# What ECS (and so Batch) reports when Fargate Spot reclaims a task:
# https://repost.aws/knowledge-center/fargate-spot-termination-notice
FARGATE_SPOT_STATUS_REASON = "Your Spot Task was interrupted."


@dataclass(frozen=True)
class Variant:
    """One way a resource can be deployed: its properties with conditions resolved.

    ``scenario`` maps condition names to their truth in this variant, and
    ``"Param=value"`` keys to whether the parameter has that value (set for the
    parameters this variant binds: by a condition, or by trying each of their
    ``AllowedValues``). ``Ref`` to a bound parameter is already replaced in ``props``.
    """

    logical_id: str
    resource_type: str
    scenario: Scenario
    props: dict[str, Any]

    @property
    def bindings(self) -> dict[str, str]:
        """Parameter -> value this variant binds (from the ``"Param=value": True`` keys)."""
        out = {}
        for key, value in self.scenario.items():
            name, eq, val = key.partition("=")
            if eq and value:
                out[name] = val
        return out


def compatible(a: Scenario, b: Scenario) -> bool:
    """True when two scenarios agree on every condition (and parameter value) both name."""
    return all(b.get(name, value) == value for name, value in a.items())


#: At most this many parameter combinations per resource scenario.
MAX_COMBINATIONS = 48
#: Parameters with more AllowedValues than this are read at their Default only.
MAX_ALLOWED_VALUES = 12


class Model:
    """Resolved view over one cfn-lint ``Template``."""

    def __init__(self, cfn: Any) -> None:
        self.cfn = cfn
        template = cfn.template if isinstance(cfn.template, dict) else {}
        params = template.get("Parameters", {})
        self.parameters: dict[str, dict[str, Any]] = params if isinstance(params, dict) else {}
        conds = template.get("Conditions", {})
        self.conditions: dict[str, Any] = conds if isinstance(conds, dict) else {}
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
        """Every consistent scenario of a resource's Properties (deduplicated).

        cfn-lint resolves each ``Fn::If``; a condition that compares a parameter
        with a value then binds that parameter, and a parameter with (a few)
        ``AllowedValues`` that the properties ``Ref`` is tried at each allowed
        value that agrees with the conditions.
        """
        if logical_id in self._variants:
            return self._variants[logical_id]
        res = self.resources.get(logical_id, {})
        props = res.get("Properties", {})
        out: list[Variant] = []
        if isinstance(props, dict):
            seen: set[str] = set()
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
                for bound, values in self._bind(scenario, obj):
                    key = json.dumps([bound, values], sort_keys=True, default=str)
                    if key in seen:
                        continue
                    seen.add(key)
                    out.append(Variant(logical_id, str(res.get("Type")), values, bound))
        self._variants[logical_id] = out
        return out

    def _bind(self, scenario: Scenario, obj: dict[str, Any]) -> list[tuple[Any, Scenario]]:
        """(properties, scenario) per parameter combination that agrees with ``scenario``."""
        fixed, excluded = self._fixed_and_excluded(scenario)
        choices = self._choices(obj, fixed, excluded)
        out: list[tuple[Any, Scenario]] = []
        for combo in itertools.product(*(vals for _, vals in choices)):
            chosen = {p: v for (p, _), v in zip(choices, combo, strict=True)}
            facts = self._facts(scenario, {**fixed, **chosen}, excluded)
            if any(scenario.get(k, v) != v for k, v in facts.items()):
                continue  # a chosen value contradicts a condition of this scenario
            out.append((_substitute(obj, chosen), facts))
        return out

    def _fixed_and_excluded(self, scenario: Scenario) -> tuple[dict[str, str], dict[str, set[str]]]:
        """Parameter values the scenario's conditions imply (equal) or rule out."""
        fixed: dict[str, str] = {}
        excluded: dict[str, set[str]] = {}
        for name, truth in scenario.items():
            for param, value, equal in self._implied(self.conditions.get(name), truth, 0):
                if equal:
                    fixed.setdefault(param, value)
                else:
                    excluded.setdefault(param, set()).add(value)
        return fixed, excluded

    def _choices(
        self, obj: dict[str, Any], fixed: dict[str, str], excluded: dict[str, set[str]]
    ) -> list[tuple[str, list[str]]]:
        """The values to try for each parameter ``obj`` refers to (bounded in number)."""
        choices: list[tuple[str, list[str]]] = []
        total = 1
        for param in _param_refs(obj, self.parameters):
            allowed = self._allowed(param)
            if param in fixed:
                values = [fixed[param]]
            elif allowed and total * len(allowed) <= MAX_COMBINATIONS:
                values = [v for v in allowed if v not in excluded.get(param, set())]
            else:
                continue
            if values:
                choices.append((param, values))
                total *= len(values)
        return choices

    def _facts(
        self, scenario: Scenario, bound: dict[str, str], excluded: dict[str, set[str]]
    ) -> Scenario:
        """The scenario extended by what the bound parameter values make true or false."""
        facts = dict(scenario)
        for param, value in bound.items():
            for other in self._allowed(param) or [value]:
                facts[f"{param}={other}"] = other == value
        for param, skip in excluded.items():
            for value in skip:
                facts.setdefault(f"{param}={value}", False)
        for name, definition in self.conditions.items():
            if name not in facts:
                known = self._evaluate(definition, bound, 0)
                if known is not None:
                    facts[name] = known
        return facts

    def _allowed(self, param: str) -> list[str]:
        """A String parameter's AllowedValues ([] when there are none or too many).

        Number parameters stay at their Default: their AllowedValues are sizes, and
        trying each would pair independent sizes (MinvCpus 16 with DesiredvCpus 8)
        that no deployer picks.
        """
        spec = self.parameters.get(param)
        if not isinstance(spec, dict) or str(spec.get("Type", "String")) != "String":
            return []
        allowed = spec.get("AllowedValues")
        if not isinstance(allowed, list) or not 1 < len(allowed) <= MAX_ALLOWED_VALUES:
            return []
        if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in allowed):
            return []
        return [str(v) for v in allowed]

    def _implied(self, definition: Any, truth: bool, depth: int) -> list[tuple[str, str, bool]]:
        """(parameter, value, equal?) facts that a condition having ``truth`` implies."""
        if depth > 10 or not isinstance(definition, dict) or len(definition) != 1:
            return []
        ((fn, args),) = definition.items()
        if fn == "Condition" and isinstance(args, str):
            return self._implied(self.conditions.get(args), truth, depth + 1)
        if fn == "Fn::Not" and isinstance(args, list) and len(args) == 1:
            return self._implied(args[0], not truth, depth + 1)
        if fn in ("Fn::And", "Fn::Or") and isinstance(args, list):
            if (fn == "Fn::And") == truth:  # And true / Or false: every part has ``truth``
                return [f for a in args for f in self._implied(a, truth, depth + 1)]
            return []
        if fn == "Fn::Equals" and isinstance(args, list) and len(args) == 2:
            ref, lit = args
            if not self.is_param_ref(ref):
                ref, lit = lit, ref
            if self.is_param_ref(ref) and isinstance(lit, (str, int, float)):
                return [(str(ref["Ref"]), str(lit), truth)]
        return []

    def _evaluate(self, definition: Any, params: dict[str, str], depth: int) -> bool | None:
        """A condition's truth given some parameter values; None when it depends on others."""
        if depth > 10 or not isinstance(definition, dict) or len(definition) != 1:
            return None
        ((fn, args),) = definition.items()
        if fn == "Condition" and isinstance(args, str):
            return self._evaluate(self.conditions.get(args), params, depth + 1)
        if not isinstance(args, list):
            return None
        if fn == "Fn::Equals" and len(args) == 2:
            sides = [self._side(a, params) for a in args]
            return None if None in sides else sides[0] == sides[1]
        parts = [self._evaluate(a, params, depth + 1) for a in args]
        if fn == "Fn::Not" and len(parts) == 1:
            return None if parts[0] is None else not parts[0]
        if fn == "Fn::And":
            return False if False in parts else None if None in parts else True
        if fn == "Fn::Or":
            return True if True in parts else None if None in parts else False
        return None

    def _side(self, value: Any, params: dict[str, str]) -> str | None:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if self.is_param_ref(value) and str(value["Ref"]) in params:
            return params[str(value["Ref"])]
        return None

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

    def queue_members(self, jq: Variant) -> list[list[tuple[int, Variant]]]:
        """The queue's compute environments per consistent scenario.

        One list of (entry index, CE variant) per way the queue and its compute
        environments can be deployed together: a CE whose ``Type`` is an ``Fn::If``
        is one member per scenario, never both at once.
        """
        per_entry = [[(i, ce) for ce in ces] for i, _, ces in self.queue_ces(jq) if ces]
        combos: list[list[tuple[int, Variant]]] = []
        for combo in itertools.product(*per_entry):
            members = list(combo)
            if all(
                compatible(a.scenario, b.scenario)
                for n, (_, a) in enumerate(members)
                for _, b in members[n + 1 :]
            ):
                combos.append(members)
            if len(combos) >= MAX_COMBINATIONS:
                break
        return combos


def model(cfn: Any) -> Model:
    """The cached :class:`Model` of a cfn-lint Template."""
    cached = getattr(cfn, "_cfgen_lint_model", None)
    if isinstance(cached, Model):
        return cached
    built = Model(cfn)
    cfn._cfgen_lint_model = built
    return built


def _param_refs(obj: Any, parameters: dict[str, Any]) -> list[str]:
    """Parameters ``Ref``'d anywhere in ``obj``, in order of appearance."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("Ref") if len(node) == 1 else None
            if isinstance(ref, str) and ref in parameters:
                if ref not in found:
                    found.append(ref)
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(obj)
    return found


def _substitute(obj: Any, values: dict[str, str]) -> Any:
    """``obj`` with ``{"Ref": P}`` replaced by ``values[P]``."""
    if not values:
        return obj
    if isinstance(obj, dict):
        ref = obj.get("Ref") if len(obj) == 1 else None
        if isinstance(ref, str) and ref in values:
            return values[ref]
        return {k: _substitute(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, values) for v in obj]
    return obj
