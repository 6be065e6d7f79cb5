"""docs/lint.md lists every rule with its metadata, and README links to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfnlint.rules import CloudFormationLintRule

import cfgen.lint.rules as rules_module

ROOT = Path(__file__).resolve().parents[2]
SEVERITY = {"E": "error", "W": "warning", "I": "info"}
RULES = [getattr(rules_module, name) for name in rules_module.__all__]


def table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (ROOT / "docs" / "lint.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 5 and re.fullmatch(r"[EWI]9\d{3}", cells[0]):
            rows[cells[0]] = cells
    return rows


@pytest.mark.parametrize("cls", RULES, ids=lambda c: c.id)
def test_rule_row(cls: type[CloudFormationLintRule]) -> None:
    row = table_rows()[cls.id]
    assert row == [
        cls.id,
        SEVERITY[cls.id[0]],
        cls.shortdesc,
        cls.description,
        f"[AWS docs]({cls.source_url})",
    ]


def test_no_stale_rows() -> None:
    assert set(table_rows()) == {cls.id for cls in RULES}


def test_readme_lint_section_links_the_docs() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("<!-- BEGIN lint -->") : text.index("<!-- END lint -->")]
    assert "docs/lint.md" in section
    assert "python -m cfgen lint" in section
