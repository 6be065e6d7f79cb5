"""Shared fixtures: profiles rendered once per session, as plain data."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from cfgen.config import Profile, load_profile
from cfgen.render import to_data

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def default_profile() -> Profile:
    return load_profile("default")


@pytest.fixture(scope="session")
def default_data(default_profile: Profile) -> dict[str, Any]:
    """The default template as data: a shared baseline that tests inspect, never mutate."""
    return to_data(default_profile)


@pytest.fixture
def cfgen_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for running `python -m cfgen` in a subprocess (a private render cache)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["CFGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cfgen-cache"))
    return env


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
