"""cfgen's cfn-lint rules on good and bad fixtures, with exact expected findings.

Bad fixtures mark each expected finding with a trailing ``# expect: <ids>``
comment on the line cfn-lint reports; the test compares (rule id, line) counts
both ways, so a missing or an extra finding fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.rules import CloudFormationLintRule

import cfgen.lint.rules as rules_module
from tests.lint.conftest import FIXTURES, cfgen_findings, expected, findings

BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
GOOD = sorted((FIXTURES / "good").glob("*.yaml"))


def _rule_classes() -> list[type[CloudFormationLintRule]]:
    return [getattr(rules_module, name) for name in rules_module.__all__]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_has_no_findings_at_all(path: Path) -> None:
    assert findings(path) == ()


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_findings_are_exactly_the_marked_ones(path: Path) -> None:
    want = expected(path)
    got = cfgen_findings(path)
    assert want, f"{path.name} marks no expected finding"
    assert got - want == {}, f"unexpected findings: {sorted(got - want)}"
    assert want - got == {}, f"missing findings: {sorted(want - got)}"


def test_every_rule_is_exercised_by_a_bad_fixture() -> None:
    marked = {rid for path in BAD for rid, _ in expected(path)}
    ids = {cls.id for cls in _rule_classes()}
    assert ids - marked == set()
    assert marked - ids == set()


@pytest.mark.parametrize("cls", _rule_classes(), ids=lambda c: c.id)
def test_rule_metadata(cls: type[CloudFormationLintRule]) -> None:
    assert cls.id[0] in "EWI" and cls.id[1] == "9" and len(cls.id) == 5
    assert cls.shortdesc and cls.description
    assert cls.source_url.startswith("https://docs.aws.amazon.com/")


def test_rule_ids_are_unique() -> None:
    ids = [cls.id for cls in _rule_classes()]
    assert len(ids) == len(set(ids))
