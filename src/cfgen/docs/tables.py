"""The Parameters and Outputs tables of a template (Markdown), in console order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cfgen.docs.intrinsics import condition_text, export_name, intrinsic_text, scalar
from cfgen.docs.markdown import DASH, NONE, md_code, md_text, table


def _parameter_order(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(group label, parameter name) in the console's order; ungrouped ones last."""
    params: Mapping[str, Any] = data.get("Parameters", {})
    interface = data.get("Metadata", {}).get("AWS::CloudFormation::Interface", {})
    order: list[tuple[str, str]] = []
    seen: set[str] = set()
    for group in interface.get("ParameterGroups", []):
        label = scalar(group.get("Label", {}).get("default", ""))
        for name in group.get("Parameters", []):
            if name in params and name not in seen:
                order.append((label, name))
                seen.add(name)
    rest = [name for name in params if name not in seen]
    order += [("Other" if order else "", name) for name in rest]
    return order


def _allowed(spec: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if "AllowedValues" in spec:
        parts.append(", ".join(md_code(scalar(v)) for v in spec["AllowedValues"]))
    lo, hi = spec.get("MinValue"), spec.get("MaxValue")
    if lo is not None and hi is not None:
        parts.append(f"{md_code(scalar(lo))}{DASH}{md_code(scalar(hi))}")
    elif lo is not None:
        parts.append(f"≥ {md_code(scalar(lo))}")
    elif hi is not None:
        parts.append(f"≤ {md_code(scalar(hi))}")
    lo, hi = spec.get("MinLength"), spec.get("MaxLength")
    if lo is not None and hi is not None:
        parts.append(f"length {scalar(lo)}{DASH}{scalar(hi)}")
    elif lo is not None:
        parts.append(f"length ≥ {scalar(lo)}")
    elif hi is not None:
        parts.append(f"length ≤ {scalar(hi)}")
    if "AllowedPattern" in spec:
        parts.append(f"pattern {md_code(scalar(spec['AllowedPattern']))}")
    return "; ".join(parts)


def _default(spec: Mapping[str, Any]) -> str:
    if spec.get("NoEcho") in (True, "true", "True"):
        return "(hidden)" if "Default" in spec else "**required**"
    if "Default" not in spec:
        return "**required**"
    value = spec["Default"]
    if isinstance(value, list):
        value = ",".join(scalar(v) for v in value)
    return md_code(scalar(value))


def parameters_markdown(data: Mapping[str, Any]) -> str:
    """The template's Parameters as a Markdown table, in console ParameterGroups order.

    Columns: group (on the first row of each group), name, type, default
    (**required** when there is none), allowed values / range / length /
    pattern, and the console label with the description.
    """
    params: Mapping[str, Any] = data.get("Parameters", {})
    labels = (
        data.get("Metadata", {})
        .get("AWS::CloudFormation::Interface", {})
        .get("ParameterLabels", {})
    )
    rows: list[tuple[str, ...]] = []
    previous_group: str | None = None
    for group, name in _parameter_order(data):
        spec = params[name]
        label = scalar(labels.get(name, {}).get("default", ""))
        description = md_text(scalar(spec.get("Description", "")))
        if label:
            description = f"**{md_text(label)}** — {description}".rstrip(" —")
        rows.append(
            (
                md_text(group) if group != previous_group else "",
                md_code(name),
                md_code(scalar(spec.get("Type", ""))),
                _default(spec),
                _allowed(spec) or NONE,
                description or NONE,
            )
        )
        previous_group = group
    header = ("Group", "Parameter", "Type", "Default", "Allowed", "Description")
    return table(header, rows)


def outputs_markdown(data: Mapping[str, Any]) -> str:
    """The template's Outputs as a Markdown table, in template order."""
    conditions: Mapping[str, Any] = data.get("Conditions", {})
    rows: list[tuple[str, ...]] = []
    for name, spec in data.get("Outputs", {}).items():
        export = spec.get("Export", {}).get("Name")
        condition = spec.get("Condition")
        condition_cell = ""
        if condition is not None:
            condition_cell = md_code(scalar(condition))
            if condition in conditions:
                condition_cell += f": {md_code(condition_text(conditions[condition]))}"
        rows.append(
            (
                md_code(name),
                md_code(intrinsic_text(spec.get("Value", ""))),
                md_code(export_name(export)) if export is not None else NONE,
                condition_cell or NONE,
                md_text(scalar(spec.get("Description", ""))) or NONE,
            )
        )
    return table(("Output", "Value", "Export name", "Condition", "Description"), rows)
