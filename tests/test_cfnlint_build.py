"""cfn-lint (its own rules, informational level included) finds nothing in build/.

cfgen's own Batch rules and the other security gates run in tests/test_security_gates.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[1] / "build"


@pytest.mark.parametrize("path", sorted(BUILD.glob("*.yaml")), ids=lambda p: p.name)
def test_cfn_lint_clean_including_informational(path: Path, tmp_path: Path) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), "--include-checks", "I", "--", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # away from the repository's .cfnlintrc: cfn-lint's own rules only
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_template_passes_in_every_region(tmp_path: Path) -> None:
    """Every template deploys in every region cfn-lint knows (ALL_REGIONS).

    CloudFormation checks resource types per region before it evaluates
    conditions: one type missing in a region (AWS::Budgets::Budget in 20 of
    them) fails the whole stack, even behind a false condition. So no profile
    may render a resource type that is not in every region; the cost budget
    is its own stack (build/global/budget.yaml, cfgen.budget).
    """
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [
            str(cfn_lint),
            *("--format", "parseable", "--regions", "ALL_REGIONS"),
            *("--", *map(str, sorted(set(BUILD.glob("*.yaml")) - {BUILD / "budget.yaml"}))),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_all_regions_includes_the_regions_without_budgets() -> None:
    """ALL_REGIONS really covers the regions that broke the first release (and GovCloud)."""
    from cfnlint.helpers import REGIONS

    for region in ("eu-north-1", "af-south-1", "ap-east-2", "mx-central-1", "us-gov-west-1"):
        assert region in REGIONS


def test_the_budget_stack_is_linted_in_its_own_region(tmp_path: Path) -> None:
    """build/budget.yaml pins its region in its cfn-lint metadata: plain `cfn-lint` passes,
    and with every region forced it fails exactly on the budget type (so the pin matters)."""
    import yaml

    from cfgen import budget

    doc = yaml.safe_load((BUILD / "budget.yaml").read_text(encoding="utf-8"))
    assert doc["Metadata"]["cfn-lint"]["config"]["regions"] == [budget.BUDGET_REGION]
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    ok = subprocess.run(
        [str(cfn_lint), "--", str(BUILD / "budget.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    forced = subprocess.run(
        [
            str(cfn_lint),
            "--format",
            "parseable",
            "--regions",
            "ALL_REGIONS",
            "--",
            str(BUILD / "budget.yaml"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert forced.returncode != 0
    assert all(":E3006:" in line for line in forced.stdout.splitlines() if line.strip())
