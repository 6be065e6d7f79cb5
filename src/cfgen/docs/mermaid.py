"""A Mermaid flowchart of a template's resources and the references between them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cfgen.docs.intrinsics import resource_edges, scalar


def _short_type(resource_type: str) -> str:
    """``AWS::Batch::ComputeEnvironment`` -> ``Batch::ComputeEnvironment``."""
    return resource_type.removeprefix("AWS::")


def _service(resource_type: str) -> str:
    parts = resource_type.split("::")
    if parts[0] == "AWS" and len(parts) > 1:
        return parts[1]
    return parts[0]


def _mermaid_id(name: str) -> str:
    # Logical IDs are alphanumeric; anything else becomes "_". Mermaid reserves
    # the lower-case word "end".
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return f"{safe}_" if safe.lower() == "end" else safe


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(data: Mapping[str, Any]) -> str:
    """A Mermaid flowchart: one node per resource, grouped by AWS service, an
    arrow from each resource to every resource it refers to.

    Conditional resources have a dashed border and an ``if <Condition>`` line;
    references made only inside Fn::If are dashed arrows labelled with the
    condition; a bare DependsOn is a thick arrow labelled ``DependsOn``.
    """
    resources: Mapping[str, Any] = data.get("Resources", {})
    by_service: dict[str, list[str]] = {}
    for name, resource in resources.items():
        by_service.setdefault(_service(scalar(resource.get("Type", ""))), []).append(name)

    lines = ["flowchart LR"]
    conditional: list[str] = []
    for service in sorted(by_service):
        lines.append(f'  subgraph svc_{_mermaid_id(service)}["{_mermaid_label(service)}"]')
        for name in sorted(by_service[service]):
            resource = resources[name]
            label = f"{name}<br/>{_short_type(scalar(resource.get('Type', '')))}"
            if "Condition" in resource:
                label += f"<br/><i>if {scalar(resource['Condition'])}</i>"
                conditional.append(_mermaid_id(name))
            lines.append(f'    {_mermaid_id(name)}["{_mermaid_label(label)}"]')
        lines.append("  end")
    for edge in resource_edges(data):
        src, dst = _mermaid_id(edge.source), _mermaid_id(edge.target)
        if edge.depends_on:
            lines.append(f"  {src} ==>|DependsOn| {dst}")
        elif edge.when:
            lines.append(f'  {src} -.->|"if {_mermaid_label(edge.when)}"| {dst}')
        else:
            lines.append(f"  {src} --> {dst}")
    if conditional:
        lines.append("  classDef conditional stroke-dasharray: 5 5")
        lines.append(f"  class {','.join(sorted(conditional))} conditional")
    return "\n".join(lines) + "\n"
