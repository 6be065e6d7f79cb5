"""Matches of one rule, deduplicated, with paths into the template as written."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import RuleMatch

from cfgen.lint.model.template import Path


class Findings:
    """Collects one rule's matches, deduplicated across scenarios.

    Paths point into the template as written: they are cut at the first key
    that does not exist or at an ``Fn::If``, so the line number lands on the
    property that decides the finding.
    """

    def __init__(self, cfn: Any, rule_id: str = "") -> None:
        self._cfn = cfn
        self.rule_id = rule_id
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
