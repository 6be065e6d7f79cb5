"""The installed package (not just the source tree) has every module and data file.

Builds a wheel and checks its contents, so `pip install .` never ships a cfgen
whose subcommands fail for a missing subpackage or data file.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_declared() -> None:
    declared = set(
        tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    src = REPO / "src"
    found = {
        ".".join(p.parent.relative_to(src).parts) for p in src.glob("cfgen/**/__init__.py")
    } | {"cfgen.templates"}
    assert found == declared


def test_wheel_contains_modules_templates_and_data(tmp_path: Path) -> None:
    # An isolated build, as `pip install .` does (setuptools comes from PyPI).
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("cfgen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    src = REPO / "src"
    for py in src.glob("cfgen/**/*.py"):
        assert str(py.relative_to(src)) in names, py
    for data in (src / "cfgen" / "data").glob("*"):
        assert f"cfgen/data/{data.name}" in names
    for toml in (REPO / "templates").glob("*.toml"):
        assert f"cfgen/templates/{toml.name}" in names
    assert "cfgen/py.typed" in names
