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
