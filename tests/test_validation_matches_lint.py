"""Validation matches the lint (issue 14 item 4): what validates renders clean.

Each rule is checked both ways: the first value beyond the limit is one
precise error, and the limit itself renders a template that cfn-lint with
cfgen's rules passes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cfgen import ConfigError, profile_from_dict
from cfgen.config import MAX_TAGS
from cfgen.render import render


def lint(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "cfgen", "lint", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_most_tags_aws_allows_render_clean(tmp_path: Path) -> None:
    tags = {f"k{i}": f"v{i}" for i in range(MAX_TAGS - 3)}  # + project/environment/cost-centre
    profile = profile_from_dict({"tags": tags}, name="many-tags")
    assert len(profile.tags) == MAX_TAGS
    done = lint(tmp_path, render(profile))
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_tag_too_many_is_an_error() -> None:
    tags = {f"k{i}": "v" for i in range(MAX_TAGS - 2)}
    with pytest.raises(ConfigError, match=rf"tags: {MAX_TAGS + 1} tags: at most {MAX_TAGS}"):
        profile_from_dict({"tags": tags})


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("team", "caf\N{HOT BEVERAGE}", "tag value must be"),
        ("team", "a|b", "tag value must be"),
        ("team", "x" * 257, "tag value must be"),
        ("team", "", "tag value must be"),
        ("bad!key", "v", "tag key must be"),
        ("aws:owner", "v", "must not start with aws:"),
        ("cfgen:profile", "v", "reserved for cfgen"),
        ("cfgen-stack", "v", "reserved for cfgen"),
    ],
)
def test_tag_characters_follow_aws_rules(key: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        profile_from_dict({"tags": {key: value}})


def test_unicode_letters_and_the_allowed_punctuation_render_clean(tmp_path: Path) -> None:
    tags = {"équipe": "données_2024 +-=._:/@", "owner": "x"}
    done = lint(tmp_path, render(profile_from_dict({"tags": tags}, name="unicode-tags")))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "description", ["two\nlines", "a | b", "tab\there", " padded", "x" * 201, "", "bell\a"]
)
def test_description_is_one_printable_line_without_pipes(description: str) -> None:
    with pytest.raises(ConfigError, match="description="):
        profile_from_dict({"description": description})


@pytest.mark.parametrize("name", ["cloudformation", "budget", "defaults"])
def test_names_that_collide_with_another_output_are_reserved(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"profile={name!r}: reserved"):
        profile_from_dict({}, name=name)
    path = tmp_path / f"{name}.toml"
    path.write_text("", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "cfgen", "--profile", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "CFGEN_NO_CACHE": "1"},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "reserved" in done.stderr and len(done.stderr.splitlines()) == 1


def test_a_bom_in_a_profile_is_accepted(tmp_path: Path) -> None:
    from cfgen import load_profile

    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[compute]\nmax_vcpus = 8\n")
    assert load_profile(str(path)).compute.max_vcpus == 8


def test_every_fixed_output_file_is_a_reserved_name() -> None:
    from cfgen import budget
    from cfgen.config import RESERVED_NAMES, load_profile

    assert Path(budget.FILE_NAME).stem in RESERVED_NAMES
    assert Path(load_profile("default").output_file).stem in RESERVED_NAMES
