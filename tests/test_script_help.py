"""`--help` on every script prints usage, exits 0 and has no side effects (issue 14 item 6).

Each script runs from a scratch copy of scripts/ (so a script that installs,
creates a venv or writes a pid file would leave something behind there), with
no AWS endpoint reachable. scripts/test.sh --help used to install everything
and run ruff and mypy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
#: Every script a user runs: the executables and the Python scripts (lib.sh is sourced).
ENTRY_POINTS = sorted(
    p.name
    for p in SCRIPTS.iterdir()
    if p.suffix == ".py" or (p.suffix == ".sh" and p.name != "lib.sh")
)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts)


def test_every_script_is_covered() -> None:
    assert {"deploy.sh", "test.sh", "local_aws.py", "bench_simulate.py"} <= set(ENTRY_POINTS)


@pytest.mark.parametrize("name", ENTRY_POINTS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_0_without_side_effects(name: str, flag: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SCRIPTS, repo / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", repo / "pyproject.toml")
    before = tree(repo)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CFGEN_", "VIRTUAL_ENV"))
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        CFGEN_PYTHON=sys.executable,
        CFGEN_VENV=str(tmp_path / "venv-that-must-not-appear"),
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # discard port: nothing answers
        HOME=str(tmp_path / "home"),
    )
    script = repo / "scripts" / name
    cmd = [sys.executable, str(script), flag] if name.endswith(".py") else [str(script), flag]
    done = subprocess.run(
        cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "usage" in done.stdout.lower() or f"scripts/{name}" in done.stdout, done.stdout
    assert tree(repo) == before
    assert not (tmp_path / "venv-that-must-not-appear").exists()
    assert not (tmp_path / "home").exists()
