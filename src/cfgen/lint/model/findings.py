"""Matches of one rule, deduplicated, with paths into the template as written."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import RuleMatch

from cfgen.lint.model.template import Path, Variant, model


class Findings:
    """Collects one rule's matches, once per defect across scenarios.

    Paths point into the template as written: they are cut at the first key
    that does not exist or at an ``Fn::If``, so the line number lands on the
    property that decides the finding. A finding added with the ``variant`` it
    holds in, that holds in some but not all variants of that resource, names
    the scenarios it holds in ("when CeType=SPOT").
    """

    def __init__(self, cfn: Any, rule_id: str = "") -> None:
        self._cfn = cfn
        self.rule_id = rule_id
        self._seen: dict[tuple[Path, str], list[Variant]] = {}

    def add(self, path: Path, message: str, variant: Variant | None = None) -> None:
        real = written_path(self._cfn.template, path)
        fired = self._seen.setdefault((real, message), [])
        if variant is not None and variant not in fired:
            fired.append(variant)

    def matches(self) -> list[RuleMatch]:
        out = []
        for (path, message), fired in self._seen.items():
            label = self._label(fired)
            out.append(RuleMatch(list(path), f"{message} (when {label})" if label else message))
        return out

    def _label(self, fired: list[Variant]) -> str:
        """The scenario a finding holds in, when it does not hold in every one."""
        if not fired:
            return ""
        every = model(self._cfn).variants(fired[0].logical_id)
        if all(v in fired for v in every):
            return ""
        parts = []
        for key in sorted({k for v in every for k in v.scenario}):
            name, eq, value = key.partition("=")
            if eq:
                seen = sorted({v.bindings.get(name, "") for v in fired})
                if (
                    all(v.scenario.get(key) for v in fired)
                    and len({u.bindings.get(name) for u in every}) > 1
                ):
                    parts.append(f"{name}={value}")
                elif len(seen) > 1 and not all(v.scenario.get(key) for v in fired):
                    continue
            else:
                truths = {v.scenario.get(key) for v in fired}
                if len(truths) == 1 and len({u.scenario.get(key) for u in every}) > 1:
                    (truth,) = truths
                    if truth is not None:
                        parts.append(f"{key}={'true' if truth else 'false'}")
        return ", ".join(parts)


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
