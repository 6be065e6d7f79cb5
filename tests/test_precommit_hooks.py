"""Another repository uses cfgen's pre-commit hooks by `repo:` and `rev:`.

The test builds a git repository of this working tree (a local path is a valid
`repo:` for pre-commit), then a scratch "user" repository whose
.pre-commit-config.yaml names it with `rev:` set to that commit, and runs the
real `pre-commit run`: pre-commit clones the hook repository at that rev,
creates the hook's own virtual environment and pip-installs cfgen from the
clone (language: python). PRE_COMMIT_HOME is a temporary folder: the user's own
pre-commit cache is never touched.

Installing cfgen's dependencies (botocore, numpy, cfn-lint, sympy...) into a
fresh environment takes minutes on a loaded machine, so by default the hook
environment reuses the ones this test runs with: pip installs cfgen alone
(PIP_NO_DEPS, no build isolation) and PYTHONPATH points at this interpreter's
site-packages, which Python reads without its .pth files (so cfgen itself is
the clone's). CFGEN_HOOKS_FULL_INSTALL=1 runs pre-commit's full install
instead (what a user gets; about 2 minutes with a warm pip cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "lint" / "fixtures" / "bad" / "events.yaml"
GOOD = ROOT / "tests" / "lint" / "fixtures" / "good" / "batch_spot.yaml"
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed (dev extra)"),
]


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def _hook_repo(dest: Path) -> str:
    """A git repository of this working tree's files (tracked and new); its commit."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "cfgen hooks under test")
    return _git(dest, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    dest = tmp_path_factory.mktemp("cfgen-hooks")
    return dest, _hook_repo(dest)


def _run(user: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "GIT_CONFIG_GLOBAL": os.devnull}
    env.pop("PRE_COMMIT", None)
    if os.environ.get("CFGEN_HOOKS_FULL_INSTALL") != "1":
        env.update(
            PIP_NO_DEPS="1",
            PIP_NO_BUILD_ISOLATION="1",
            PYTHONPATH=sysconfig.get_paths()["purelib"],
        )
    return subprocess.run(
        [str(PRE_COMMIT), "run", "--all-files", "--show-diff-on-failure"],
        cwd=user,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_another_repository_runs_cfgen_lint_and_check_by_repo_and_rev(
    hook_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo, rev = hook_repo
    user = tmp_path / "user"
    (user / "cloudformation").mkdir(parents=True)
    (user / "build").mkdir()
    shutil.copy(GOOD, user / "cloudformation" / "stack.yaml")
    for rendered in (ROOT / "build").glob("*.yaml"):
        shutil.copy(rendered, user / "build" / rendered.name)
    (user / ".pre-commit-config.yaml").write_text(
        f"repos:\n"
        f"  - repo: {repo}\n"
        f"    rev: {rev}\n"
        f"    hooks:\n"
        f"      - id: cfgen-lint\n"
        f"        files: ^cloudformation/\n"
        f"      - id: cfgen-check\n",
        encoding="utf-8",
    )
    _git(user, "init", "-q")
    _git(user, "add", "-A")
    home = tmp_path / "pre-commit-home"

    ok = _run(user, home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "cfgen lint" in ok.stdout and "Passed" in ok.stdout

    # A template with Batch-on-Spot mistakes fails the lint hook with cfgen's rules...
    shutil.copy(BAD, user / "cloudformation" / "events.yaml")
    # ...and a hand-edited rendered template fails the drift hook.
    drifted = user / "build" / "cloudformation.yaml"
    drifted.write_text(drifted.read_text("utf-8") + "# edited by hand\n", encoding="utf-8")
    _git(user, "add", "-A")
    bad = _run(user, home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "E9540" in bad.stdout
    assert "build/cloudformation.yaml: differs from a fresh render" in bad.stdout
