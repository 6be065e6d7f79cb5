"""CloudFormation values as short text, and the references between resources.

Ref, Fn::GetAtt and Fn::Sub spelled the way YAML short forms read
(``!Ref X``), conditions in words, and every resource-to-resource reference
found by walking the template as plain data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def intrinsic_text(value: Any) -> str:
    """A short, YAML-like spelling of a value that may be an intrinsic function."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"!Ref {scalar(arg)}"
        if key == "Fn::GetAtt":
            target = ".".join(scalar(a) for a in arg) if isinstance(arg, list) else scalar(arg)
            return f"!GetAtt {target}"
        if key == "Fn::Sub":
            return f"!Sub {arg[0] if isinstance(arg, list) else scalar(arg)}"
        if key == "Fn::ImportValue":
            return f"!ImportValue {intrinsic_text(arg)}"
    return scalar(value)


def export_name(value: Any) -> str:
    """An export name: the Sub template itself, ``${AWS::StackName}-JobQueueArn``."""
    if isinstance(value, Mapping) and set(value) == {"Fn::Sub"}:
        arg = value["Fn::Sub"]
        return scalar(arg[0] if isinstance(arg, list) else arg)
    return intrinsic_text(value)


def condition_text(expr: Any) -> str:
    """A condition's expression in words: ``OnDemandMaxvCpus ≠ 0``."""

    def operand(v: Any) -> str:
        if isinstance(v, Mapping) and set(v) == {"Ref"}:
            return scalar(v["Ref"])
        if isinstance(v, str):
            return json.dumps(v) if v == "" or " " in v else v
        return intrinsic_text(v)

    def walk(e: Any, nested: bool) -> str:
        if isinstance(e, Mapping) and len(e) == 1:
            ((key, arg),) = e.items()
            if key == "Condition":
                return scalar(arg)
            if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
                return f"{operand(arg[0])} = {operand(arg[1])}"
            if key == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
                inner = arg[0]
                pair = inner.get("Fn::Equals") if isinstance(inner, Mapping) else None
                if len(inner) == 1 and isinstance(pair, list) and len(pair) == 2:
                    return f"{operand(pair[0])} ≠ {operand(pair[1])}"
                return f"not {walk(inner, True)}"
            if key in ("Fn::And", "Fn::Or") and isinstance(arg, list):
                word = " and " if key == "Fn::And" else " or "
                text = word.join(walk(x, True) for x in arg)
                return f"({text})" if nested else text
        return intrinsic_text(e)

    return walk(expr, False)


@dataclass(frozen=True, order=True)
class Edge:
    """``source`` refers to ``target``; ``when`` is the Fn::If context ("" = always)."""

    source: str
    target: str
    when: str = ""
    depends_on: bool = False


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _sub_names(template: str) -> Iterator[str]:
    """Names a Fn::Sub string refers to: ``${X}`` and ``${X.Attr}``, not ``${!Literal}``."""
    for match in _SUB_VAR.finditer(template):
        var = match.group(1).strip()
        if var and not var.startswith("!"):
            yield var.split(".", 1)[0] if "::" not in var else var


def _references(value: Any, context: tuple[str, ...]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(logical ID or parameter name, Fn::If context) for every reference in ``value``."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item, context)
        return
    if not isinstance(value, Mapping):
        return
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and isinstance(arg, str):
            yield arg, context
            return
        if key == "Fn::GetAtt":
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                yield arg[0], context
                yield from _references(arg[1:], context)
            elif isinstance(arg, str):
                yield arg.split(".", 1)[0], context
            return
        if key == "Fn::Sub":
            if isinstance(arg, str):
                yield from ((name, context) for name in _sub_names(arg))
            elif isinstance(arg, list) and arg and isinstance(arg[0], str):
                local = set(arg[1]) if len(arg) > 1 and isinstance(arg[1], Mapping) else set()
                for name in _sub_names(arg[0]):
                    if name not in local:
                        yield name, context
                yield from _references(arg[1:], context)
            return
        if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            cond = scalar(arg[0])
            yield from _references(arg[1], (*context, cond))
            yield from _references(arg[2], (*context, f"not {cond}"))
            return
    for item in value.values():
        yield from _references(item, context)


def resource_edges(data: Mapping[str, Any]) -> list[Edge]:
    """Every reference from one resource to another, found by walking the template.

    Ref, Fn::GetAtt and the ``${X}`` / ``${X.Attr}`` variables of Fn::Sub count;
    references to parameters and pseudo parameters (``AWS::Region``) do not. A
    reference found only inside Fn::If branches carries that condition; a
    DependsOn with no reference is an edge of its own kind. Sorted.
    """
    resources: Mapping[str, Any] = data.get("Resources", {})
    edges: list[Edge] = []
    for source, resource in resources.items():
        body = {k: v for k, v in resource.items() if k not in ("Type", "Condition", "DependsOn")}
        contexts: dict[str, set[tuple[str, ...]]] = {}
        for target, context in _references(body, ()):
            if target in resources and target != source:
                contexts.setdefault(target, set()).add(context)
        for target, seen in contexts.items():
            if () in seen:
                edges.append(Edge(source, target))
            else:
                terms = sorted(" and ".join(c) for c in seen)
                if len(terms) > 1:
                    terms = [f"({t})" if " and " in t else t for t in terms]
                when = " or ".join(terms)
                edges.append(Edge(source, target, when))
        depends = resource.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            if target in resources and target not in contexts and target != source:
                edges.append(Edge(source, target, depends_on=True))
    return sorted(set(edges))
