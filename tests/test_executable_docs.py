"""Every shell block a user is meant to run in the docs runs, as written (issue 14 item 1).

Generic: the blocks are extracted from README.md, docs/*.md and worker/README.md
(fences ```bash, ```sh, ```shell; ```console blocks are recorded output), so a
block someone adds is run too. Each block runs with ``bash -euo pipefail`` in a
fresh copy of the repository, with this environment's Python and AWS CLI first
on PATH, no AWS credentials or config, HOME and the render cache in a scratch
folder. Blocks that start a local emulator (scripts/local-aws.sh) run against
it; the harness stops any emulator a block leaves behind.

Three kinds of exceptions, each visible here or in the block itself:

* ``python -m pip install ...`` lines run as ``pip install --dry-run --no-deps``:
  the requirement must resolve and build, but the test environment (which
  already has everything) is not reinstalled from the scratch copy.
* A block whose first line is ``# needs an AWS account`` is checked offline
  instead: ``bash -n``; every ``scripts/*.sh`` option it uses is in that
  script's ``--help``; every ``aws`` command is a real operation (or waiter) of
  the AWS CLI's service model with real parameter names; ``python -m cfgen``
  lines run.
* :data:`SKIPPED`: the reviewed list of blocks not run at all, with why. A
  stale entry (no such block any more) fails the test suite.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), REPO / "worker" / "README.md"])
SHELL_FENCES = {"bash", "sh", "shell"}
NEEDS_AWS = "# needs an AWS account"

#: Blocks that are not run, by (file, first line of the block), and why.
SKIPPED: dict[tuple[str, str], str] = {
    (
        "README.md",
        "python -m pip install . && python -m cfgen > cloudformation.yaml",
    ): "the quick start: `./scripts/test.sh` is the whole test suite, which cannot run itself;"
    " CI (.ci/run) runs exactly this command, and tests/test_packaging.py builds the wheel"
    " that `pip install .` installs",
}

_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "*.egg-info"
)


@dataclass(frozen=True)
class Block:
    file: str  # relative to the repository
    line: int  # of the opening fence
    text: str

    @property
    def first(self) -> str:
        return next((ln.strip() for ln in self.text.splitlines() if ln.strip()), "")

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.first)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def extract(path: Path, root: Path = REPO) -> list[Block]:
    """The shell blocks of one Markdown file, in order."""
    blocks: list[Block] = []
    fence: str | None = None
    lang = ""
    start = 0
    body: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", line)
        if fence is None and match:
            fence, lang, start, body = match.group(2), match.group(3).lower(), number, []
        elif fence is not None and line.strip().startswith(fence) and line.strip() == fence:
            if lang in SHELL_FENCES:
                blocks.append(Block(str(path.relative_to(root)), start, "\n".join(body) + "\n"))
            fence = None
        elif fence is not None:
            body.append(line)
    return blocks


def all_blocks() -> list[Block]:
    return [block for path in DOCS for block in extract(path)]


BLOCKS = all_blocks()


def test_the_harness_finds_the_blocks() -> None:
    files = {b.file for b in BLOCKS}
    assert {"README.md", "docs/deploy.md", "worker/README.md"} <= files
    assert len(BLOCKS) >= 8


def test_the_skip_list_is_current() -> None:
    keys = {b.key for b in BLOCKS}
    stale = [key for key in SKIPPED if key not in keys]
    assert not stale, f"SKIPPED names blocks that no longer exist: {stale}"


def test_extract_sees_fences_of_every_kind(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "```bash\necho a\n```\n```console\n$ echo b\n```\n~~~sh\necho c\n~~~\n```\nplain\n```\n",
        encoding="utf-8",
    )
    assert [b.text for b in extract(doc, tmp_path)] == ["echo a\n", "echo c\n"]


# --------------------------------------------------------------------------- running


def _environment(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CFGEN_", "PYTHON", "VIRTUAL_ENV"))
    }
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        CFGEN_CACHE_DIR=str(tmp / "cfgen-cache"),
        CFGEN_POLL_SECONDS="0.2",  # the scripts' documented poll interval knob
        CFGEN_LOCAL_AWS_PID_FILE=str(tmp / "local-aws.pid"),
    )
    return env


_PIP_INSTALL = re.compile(r"\bpython -m pip install\b")


def as_run(text: str) -> str:
    """The block as it runs here: pip installs become dry runs (see the module doc)."""
    return _PIP_INSTALL.sub("python -m pip install --dry-run --no-deps", text)


def _stop_emulator(work: Path, env: dict[str, str]) -> None:
    if Path(env["CFGEN_LOCAL_AWS_PID_FILE"]).exists():
        subprocess.run(
            [str(work / "scripts" / "local-aws.sh"), "stop"],
            cwd=work,
            env=env,
            capture_output=True,
            check=False,
            timeout=60,
        )


def run_block(block: Block, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run a block in its own session; output to files, so a process the block
    leaves in the background cannot hold the test; that session is ended after."""
    work = tmp / "repo"
    shutil.copytree(REPO, work, ignore=_IGNORE, symlinks=True)
    env = _environment(tmp)
    script = "set -euo pipefail\n" + as_run(block.text)
    out, err = tmp / "stdout", tmp / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            ["bash", "-c", script],
            cwd=work,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            code = -1
        finally:
            _stop_emulator(work, env)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the block's own session only
            proc.wait()
    return subprocess.CompletedProcess(
        proc.args, code, out.read_text(errors="replace"), err.read_text(errors="replace")
    )


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    if block.key in SKIPPED:
        pytest.skip(SKIPPED[block.key])
    if block.first.startswith(NEEDS_AWS):
        check_offline(block, tmp_path)
        return
    done = run_block(block, tmp_path)
    assert done.returncode == 0, (
        f"{block} does not run as written (exit {done.returncode}):\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
    assert "Traceback" not in done.stderr, done.stderr


# --------------------------------------------------------------------------- blocks that need AWS


def commands(text: str) -> list[list[str]]:
    """The block's commands as argument lists (continuations joined, comments dropped)."""
    joined = re.sub(r"\\\n", " ", text)
    out: list[list[str]] = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(words)
    return out


def _options(words: list[str]) -> list[str]:
    return [w.split("=", 1)[0] for w in words if w.startswith("--")]


def _check_script(words: list[str], env: dict[str, str]) -> None:
    script = REPO / words[0]
    assert script.is_file(), f"{words[0]}: no such script"
    done = subprocess.run(
        [str(script), "--help"], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for option in _options(words[1:]):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", done.stdout), (
            f"{' '.join(words)}: {words[0]} --help does not document {option}"
        )


def _check_aws(words: list[str]) -> None:
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    service, action = words[1], words[2]
    model = session.get_service_model(service)
    if action == "wait":
        waiters = session.get_waiter_model(service)
        names = {xform_name(name, "-"): name for name in waiters.waiter_names}
        assert words[3] in names, f"aws {service} wait {words[3]}: no such waiter"
        operation = model.operation_model(waiters.get_waiter(names[words[3]]).operation)
    else:
        names = {xform_name(name, "-"): name for name in model.operation_names}
        assert action in names, f"aws {service} {action}: no such operation"
        operation = model.operation_model(names[action])
    members = {xform_name(m, "-") for m in operation.input_shape.members}
    global_options = {"--region", "--endpoint-url", "--output", "--query", "--profile"}
    for option in _options(words[3:]):
        assert option in global_options or option[2:] in members, (
            f"aws {service} {action}: no parameter {option}"
        )


def check_offline(block: Block, tmp: Path) -> None:
    env = _environment(tmp)
    syntax = subprocess.run(["bash", "-n", "-c", block.text], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    checked = 0
    for words in commands(block.text):
        if words[0].startswith("scripts/"):
            _check_script(words, env)
        elif words[0] == "aws":
            _check_aws(words)
        elif words[:3] == ["python", "-m", "cfgen"] and ">" not in words:
            done = subprocess.run(
                [sys.executable, *words[1:]], env=env, capture_output=True, check=False
            )
            assert done.returncode == 0, done.stderr
        else:
            continue
        checked += 1
    assert checked, f"{block}: nothing in it could be checked offline"


def test_the_offline_check_can_fail(tmp_path: Path) -> None:
    bad = [
        "# needs an AWS account\nscripts/deploy.sh --stack-name x --no-such-option\n",
        "# needs an AWS account\naws cloudformation create-stak --stack-name x\n",
        "# needs an AWS account\naws cloudformation create-stack --stack-nam x\n",
        "# needs an AWS account\naws cloudformation wait stack-created --stack-name x\n",
    ]
    for text in bad:
        with pytest.raises(AssertionError):
            check_offline(Block("x.md", 1, text), tmp_path)
