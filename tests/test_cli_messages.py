"""Help, version and clear messages (issue 14 items 6 and 7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cfgen

REPO = Path(__file__).resolve().parents[1]


def cfgen_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cfgen", *args], capture_output=True, text=True, env=env, check=False
    )


def one_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 2, done
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    for needle in needles:
        assert needle in line, line
    return line


def test_version(cfgen_env: dict[str, str]) -> None:
    done = cfgen_run(cfgen_env, "--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"cfgen {cfgen.__version__}\n", "")


def test_lint_help_names_cfgens_rules_and_their_docs(cfgen_env: dict[str, str]) -> None:
    done = cfgen_run(cfgen_env, "lint", "--help")
    assert done.returncode == 0, done.stderr
    intro = done.stdout.split("cfn-lint's own options follow.")[0]
    assert "E9501" in intro and "docs/lint.md" in intro and "cfgen.lint.rules" in intro
    assert "--append-rules" in done.stdout  # cfn-lint's own help follows


def test_lint_of_a_missing_file(cfgen_env: dict[str, str]) -> None:
    line = one_line(cfgen_run(cfgen_env, "lint", "/nonexistent.yaml"), "/nonexistent.yaml")
    assert "file not found" in line and "glob" not in line


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "must be UTF-8 text"),  # /bin/true, a binary
        (b"just: [unclosed\n", "not a CloudFormation template"),
        (b"- a list\n", "not a CloudFormation template"),
        (b"Parameters: {}\n", "no Resources mapping"),
    ],
)
def test_diff_of_something_that_is_no_template(
    tmp_path: Path, cfgen_env: dict[str, str], content: bytes | None, needle: str
) -> None:
    path = "/bin/true"
    if content is not None:
        (tmp_path / "x.yaml").write_bytes(content)
        path = str(tmp_path / "x.yaml")
    line = one_line(cfgen_run(cfgen_env, "diff", path, str(REPO / "build" / "gpu.yaml")), needle)
    assert "{filename}" not in line


def test_diff_accepts_a_bom(tmp_path: Path, cfgen_env: dict[str, str]) -> None:
    # Some Windows editors start UTF-8 files with a byte order mark.
    original = REPO / "build" / "cloudformation.yaml"
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + original.read_bytes())
    done = cfgen_run(cfgen_env, "diff", str(bom), str(original))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "no replacements, removals or interruptions\n"


@pytest.mark.parametrize(
    "command", ["", "build", "check", "list", "docs", "diagram", "cost", "simulate", "diff", "lint"]
)
def test_help_has_no_side_effects(tmp_path: Path, cfgen_env: dict[str, str], command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cfgen", *([command] if command else []), "--help"],
        capture_output=True,
        text=True,
        env=cfgen_env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0 and "usage" in done.stdout.lower(), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_readme_subcommand_list_has_no_line_that_reads_like_a_pipe() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for line in readme.splitlines():
        if line.startswith("python -m cfgen "):
            assert " | " not in line.split("#")[0], line
