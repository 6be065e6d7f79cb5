"""`scripts/local-aws.sh start` fails loudly (issue 14 item 1): non-zero, stdout
empty (so `endpoint="$(... start)"` gets nothing and the shell stops), and one
line naming the missing package and the command that installs it.

The interpreter is a real, fresh venv without moto (and, in the second case,
without cfgen): exactly what a user has after only the quick start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


def start(python: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CFGEN_", "PYTHON"))}
    env.update(CFGEN_PYTHON=python, **extra)
    return subprocess.run(
        [str(REPO / "scripts" / "local-aws.sh"), "start", "--pid-file", str(tmp_path / "pid")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_moto_server(bare_python: str, tmp_path: Path) -> None:
    done = start(bare_python, tmp_path, PYTHONPATH=str(REPO / "src"))
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "moto[server] is not installed" in line and "missing module moto" in line
    assert "pip install -e '.[test]'" in line
    assert not (tmp_path / "pid").exists()


def test_without_cfgen(bare_python: str, tmp_path: Path) -> None:
    done = start(bare_python, tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "cfgen is not installed" in line and "pip install -e '.[test]'" in line
