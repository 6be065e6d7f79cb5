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

from .helpers import FIXTURES, cfgen_findings, expected, findings

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


# The defects named under "Why" in the issue, each caught by the rule that owns it.
WHY = [
    ("compute.yaml", "E9501", "Type: EC2 compute environment with a Spot-only strategy"),
    ("events.yaml", "E9540", "EventBridge rule filtering detail.jobStatus"),
    ("events.yaml", "E9542", "SNS topic target without a policy for EventBridge"),
    ("monitoring.yaml", "E9550", "alarm on an AWS/Batch series Batch never publishes"),
]


@pytest.mark.parametrize(("fixture", "rule_id", "defect"), WHY, ids=[w[1] for w in WHY])
def test_why_defects_are_errors(fixture: str, rule_id: str, defect: str) -> None:
    hits = [m for m in findings(FIXTURES / "bad" / fixture) if m[0] == rule_id]
    assert hits, defect
    assert rule_id.startswith("E")
