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


#: Regions whose CloudFormation lacks AWS::Budgets::Budget (cfn-lint E3006), as
#: documented in the README: there, render a profile with monitoring.budget = false.
BUDGET_LESS_REGIONS = {
    "af-south-1",
    "ap-east-1",
    "ap-northeast-3",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-west-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
}
COMMERCIAL_REGIONS = sorted(
    BUDGET_LESS_REGIONS
    | {
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "me-south-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)


def test_only_the_budget_is_region_specific(tmp_path: Path) -> None:
    """Every resource type exists in every commercial region, except the budget where documented."""
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        # Every profile uses a subset of the default template's resource types.
        [
            str(cfn_lint),
            *("--format", "parseable", "--regions", *COMMERCIAL_REGIONS),
            *("--", str(BUILD / "cloudformation.yaml")),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    regions_without_budget = set()
    for line in findings:
        assert ":E3006:" in line and "AWS::Budgets::Budget" in line, line
        regions_without_budget.add(line.rsplit("'", 2)[-2])
    assert regions_without_budget == BUDGET_LESS_REGIONS
