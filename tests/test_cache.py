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


def test_cache_can_be_turned_off(python: str, cfgen_env: dict[str, str]) -> None:
    off = run(python, {**cfgen_env, "CFGEN_NO_CACHE": "1"})
    assert off.returncode == 0
    assert off.stderr == ""
    assert not list(Path(cfgen_env["CFGEN_CACHE_DIR"]).glob("*.txt"))


@pytest.mark.parametrize("kind", ["proc", "file", "file-parent"])
def test_an_unusable_cache_is_skipped_with_one_warning(
    python: str, cfgen_env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    # Issue 14: CFGEN_CACHE_DIR pointing at a file printed no template at all.
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    folder = {
        "proc": "/proc/cfgen-cache",
        "file": str(tmp_path / "a-file"),
        "file-parent": str(tmp_path / "a-file" / "cache"),
    }[kind]
    broken = run(python, {**cfgen_env, "CFGEN_CACHE_DIR": folder})
    assert broken.returncode == 0
    assert broken.stdout == render(load_profile("default"))
    lines = broken.stderr.splitlines()
    assert len(lines) == 1, broken.stderr
    assert lines[0].startswith("cfgen: warning: render cache") and folder in lines[0]
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "x"


def test_a_change_to_any_module_misses_the_cache(tmp_path: Path) -> None:
    # Every file of cfgen's package is part of the key: lint/, cost/, docs/,
    # data/ as well as the generator (issue 13: a mutation outside the
    # top-level *.py files used to hit a stale entry).
    import shutil

    root = tmp_path / "cfgen"
    shutil.copytree(Path(cache.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    base = cache.key_for("default", "yaml", root=root)
    assert base is not None
    files = cache.source_files(root)
    assert {"template.py", "lint/cli.py", "cost/cli.py", "docs/readme.py"} <= {
        str(f.relative_to(root)) for f in files
    }
    for path in files:
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        assert cache.key_for("default", "yaml", root=root) != base, path
        path.write_bytes(original)
    assert cache.key_for("default", "yaml", root=root) == base


def test_the_profile_argument_as_given_is_part_of_the_key(tmp_path: Path) -> None:
    # The header names the profile's source as given, so two spellings of one
    # file must not share an entry.
    profile = tmp_path / "p.toml"
    profile.write_text("[compute]\nmax_vcpus = 8\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    other = f"{tmp_path}/sub/../p.toml"
    assert cache.key_for(str(profile), "yaml") != cache.key_for(other, "yaml")
