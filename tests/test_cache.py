"""The render cache: a hit is byte-identical to a fresh render, any input change misses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cfgen import cache
from cfgen.config import load_profile
from cfgen.render import render


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CFGEN_CACHE_DIR", str(folder))
    monkeypatch.delenv("CFGEN_NO_CACHE", raising=False)
    return folder


def run(python: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "cfgen", *args], capture_output=True, text=True, env=env)


def test_cached_output_equals_a_fresh_render(python: str, cfgen_env: dict[str, str]) -> None:
    fresh = render(load_profile("default"))
    first = run(python, cfgen_env)  # miss: renders and stores
    second = run(python, cfgen_env)  # hit
    assert first.stdout == second.stdout == fresh
    entries = list(Path(cfgen_env["CFGEN_CACHE_DIR"]).glob("*.txt"))
    assert len(entries) == 1


def test_key_changes_with_every_input(cache_dir: Path, tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text("[compute]\nmax_vcpus = 8\n", encoding="utf-8")
    base = cache.key_for(str(profile), "yaml")
    assert base is not None
    assert cache.key_for(str(profile), "json") != base
    profile.write_text("[compute]\nmax_vcpus = 9\n", encoding="utf-8")
    assert cache.key_for(str(profile), "yaml") != base
    assert cache.key_for("default", "yaml") != cache.key_for("gpu", "yaml")


def test_damaged_entry_is_ignored(cache_dir: Path) -> None:
    key = cache.key_for("default", "yaml")
    assert key is not None
    cache.put(key, "text\n")
    assert cache.get(key) == "text\n"
    path = cache_dir / f"{key}.txt"
    path.write_bytes(path.read_bytes()[:-2])  # truncated
    assert cache.get(key) is None


def test_bad_profiles_are_never_cached(
    tmp_path: Path, python: str, cfgen_env: dict[str, str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[compute]\nbid_percentage = 0\n", encoding="utf-8")
    for _ in range(2):
        result = run(python, cfgen_env, "--profile", str(bad))
        assert result.returncode == 2
        assert "compute.bid_percentage=0" in result.stderr
    assert not list(Path(cfgen_env["CFGEN_CACHE_DIR"]).glob("*.txt"))


def test_cache_can_be_turned_off_and_an_unwritable_cache_is_harmless(
    python: str, cfgen_env: dict[str, str]
) -> None:
    off = run(python, {**cfgen_env, "CFGEN_NO_CACHE": "1"})
    assert off.returncode == 0
    assert not list(Path(cfgen_env["CFGEN_CACHE_DIR"]).glob("*.txt"))
    broken = run(python, {**cfgen_env, "CFGEN_CACHE_DIR": "/proc/cfgen-cache"})
    assert broken.returncode == 0
    assert broken.stdout == off.stdout
    assert broken.stderr == ""
