"""Adding a profile is one TOML file plus `python -m cfgen build` (issue 7's promise).

Runs in a temporary copy of cfgen (its package and templates/, imported from
the copy through PYTHONPATH), never in the source tree: the new profile goes
into the copy's templates/, `cfgen build` renders into a scratch build/ with a
copy of the README, and the test checks that the new template exists, is clean
under cfn-lint with cfgen's rules, uses only pinned logical IDs, and appears in
the README's profile table. Then `cfgen check` on a *different* folder that
lacks the new file must report drift (so the check is not the build's echo).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = (
    'description = "Memory-heavy ETL on Spot (test)"\n\n'
    "[compute]\n"
    'instance_types = ["r6i.xlarge", "r6i.2xlarge", "r7i.xlarge", "r7i.2xlarge"]\n'
    "max_vcpus = 512\n\n"
    "[tags]\n"
    'cost-centre = "data-eng"\n'
)


def copy_of_cfgen(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """A private copy of the package with templates/ inside it; env that imports it."""
    src = tmp_path / "src"
    shutil.copytree(
        REPO / "src" / "cfgen", src / "cfgen", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(REPO / "templates", src / "cfgen" / "templates")
    return {**env, "PYTHONPATH": str(src), "CFGEN_NO_CACHE": "1"}


def cfgen(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cfgen", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_one_toml_file_and_one_command(tmp_path: Path, cfgen_env: dict[str, str]) -> None:
    before = sorted(p.name for p in (REPO / "templates").iterdir())
    env = copy_of_cfgen(tmp_path, cfgen_env)
    work = tmp_path / "work"
    (work / "build").mkdir(parents=True)
    (tmp_path / "src" / "cfgen" / "templates" / "zz-added-by-test.toml").write_text(
        PROFILE, encoding="utf-8"
    )
    shutil.copy(REPO / "README.md", work / "README.md")
    where = cfgen(env, work, "list")
    assert "zz-added-by-test" in where.stdout, where.stderr

    done = cfgen(env, work, "build", "--out-dir", "build")
    assert done.returncode == 0, done.stderr
    new = work / "build" / "zz-added-by-test.yaml"
    assert new.is_file()
    readme = (work / "README.md").read_text(encoding="utf-8")
    assert "| `zz-added-by-test` | `build/zz-added-by-test.yaml` |" in readme
    lint = cfgen(env, work, "lint", str(new))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert cfgen(env, work, "check", "--out-dir", "build").returncode == 0

    # check against the repository's build/ (no zz file): drift, exit 1.
    stale = tmp_path / "stale"
    shutil.copytree(REPO / "build", stale)
    drift = cfgen(env, work, "check", "--out-dir", str(stale))
    assert drift.returncode == 1
    assert "zz-added-by-test.yaml: missing" in drift.stderr

    from test_logical_ids import VOCABULARY  # logical ID -> type, for every profile

    resources = yaml.safe_load(new.read_text(encoding="utf-8"))["Resources"]
    assert {k: v["Type"] for k, v in resources.items()}.items() <= VOCABULARY.items()
    # Nothing was written into the source tree.
    assert sorted(p.name for p in (REPO / "templates").iterdir()) == before
    assert not (REPO / "build" / "zz-added-by-test.yaml").exists()
