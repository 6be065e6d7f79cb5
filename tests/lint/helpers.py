"""Run cfn-lint (with cfgen's rules) once per fixture and share the matches."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import cfnlint.core
from cfnlint.api import lint

from cfgen.lint import RULES_DIR

FIXTURES = Path(__file__).parent / "fixtures"
_EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9, ]+)")


@cache
def _rules() -> cfnlint.core.RulesCollection:
    return cfnlint.core.get_rules([str(RULES_DIR)], [], ["I"])


@cache
def findings(path: Path) -> tuple[tuple[str, int, str], ...]:
    """(rule id, line, message) of every match in a fixture, cfn-lint's own rules too."""
    matches = lint(
        path.read_text(encoding="utf-8"),
        rules=_rules(),
        config={"regions": ["us-east-1"], "include_checks": ["I"]},
    )
    return tuple(sorted((m.rule.id, m.linenumber, m.message) for m in matches))


def cfgen_findings(path: Path) -> Counter[tuple[str, int]]:
    """Counter of (rule id, line) for cfgen's rules (ids with 9 in the thousands)."""
    return Counter((rid, line) for rid, line, _ in findings(path) if rid[1] == "9")


def expected(path: Path) -> Counter[tuple[str, int]]:
    """Counter of (rule id, line) from ``# expect: ID, ID`` comments in a fixture."""
    out: Counter[tuple[str, int]] = Counter()
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        mt = _EXPECT.search(text)
        if mt:
            for rid in mt.group(1).replace(",", " ").split():
                out[(rid, n)] += 1
    return out


__all__ = ["FIXTURES", "cfgen_findings", "expected", "findings"]
