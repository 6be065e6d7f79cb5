"""Adding a profile is one TOML file plus `python -m cfgen build` (issue 7's promise).

Writes a profile into templates/ for the duration of the test (removed after),
runs `cfgen build` into a scratch folder with a copy of the README, and checks
that the new template exists, is clean under cfn-lint with cfgen's rules, uses
only pinned logical IDs, and appears in the README's profile table.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_one_toml_file_and_one_command(tmp_path: Path, cfgen_env: dict[str, str]) -> None:
    profile = REPO / "templates" / "zz-added-by-test.toml"
    assert not profile.exists()
    profile.write_text(
        'description = "Memory-heavy ETL on Spot (test)"\n\n'
        "[compute]\n"
        'instance_types = ["r6i.xlarge", "r6i.2xlarge", "r7i.xlarge", "r7i.2xlarge"]\n'
        "max_vcpus = 512\n\n"
        "[tags]\n"
        'cost-centre = "data-eng"\n',
        encoding="utf-8",
    )
    try:
        out = tmp_path / "build"
        out.mkdir()
        shutil.copy(REPO / "README.md", tmp_path / "README.md")
        done = subprocess.run(
            [sys.executable, "-m", "cfgen", "build", "--out-dir", str(out)],
            capture_output=True,
            text=True,
            env=cfgen_env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        new = out / "zz-added-by-test.yaml"
        assert new.is_file()
        readme = (tmp_path / "README.md").read_text(encoding="utf-8")
        assert "| `zz-added-by-test` | `build/zz-added-by-test.yaml` |" in readme
        lint = subprocess.run(
            [sys.executable, "-m", "cfgen", "lint", str(new)],
            capture_output=True,
            text=True,
            env=cfgen_env,
            cwd=tmp_path,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
        check = subprocess.run(
            [sys.executable, "-m", "cfgen", "check", "--out-dir", str(out)],
            capture_output=True,
            text=True,
            env=cfgen_env,
            cwd=tmp_path,
        )
        assert check.returncode == 0, check.stderr
        from test_logical_ids import test_every_profile_uses_only_pinned_logical_ids

        test_every_profile_uses_only_pinned_logical_ids()
    finally:
        profile.unlink()
