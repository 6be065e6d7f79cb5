"""Every file a command writes (issue 14 item 2), for each kind of path.

A regular file is replaced atomically (a new inode, never half a file), through
a symlink its target; a character device, FIFO or pipe is written in place and
stays what it is; a directory or a place that cannot be written is one line,
exit 2, and nothing written. Driven through real subprocesses of `cfgen`.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[1] / "build"
DEFAULT = (BUILD / "cloudformation.yaml").read_text(encoding="utf-8")


def cfgen(env: dict[str, str], *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cfgen", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        **kw,  # type: ignore[arg-type]
    )


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_regular_file_is_replaced_atomically_with_its_mode(
    tmp_path: Path, cfgen_env: dict[str, str]
) -> None:
    target = tmp_path / "cf.yaml"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    before = target.stat().st_ino
    assert cfgen(cfgen_env, "-o", str(target)).returncode == 0
    assert target.read_text(encoding="utf-8") == DEFAULT
    assert target.stat().st_ino != before  # a rename, not an in-place rewrite
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cf.yaml"]


def test_symlink_replaces_its_target_and_stays_a_link(
    tmp_path: Path, cfgen_env: dict[str, str]
) -> None:
    real = tmp_path / "real" / "cf.yaml"
    real.parent.mkdir()
    real.write_text("stale\n", encoding="utf-8")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    assert cfgen(cfgen_env, "-o", str(link)).returncode == 0
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == DEFAULT
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "real" / "new.yaml")
    assert cfgen(cfgen_env, "-o", str(dangling)).returncode == 0
    assert dangling.is_symlink()
    assert (tmp_path / "real" / "new.yaml").read_text(encoding="utf-8") == DEFAULT


def test_dev_null_stays_a_character_device(cfgen_env: dict[str, str]) -> None:
    done = cfgen(cfgen_env, "-o", os.devnull)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)


def test_dev_full_is_one_line_exit_2(cfgen_env: dict[str, str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    one_line_error(cfgen(cfgen_env, "-o", "/dev/full"), "/dev/full", "No space left")
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)


def test_fifo_is_written_in_place(tmp_path: Path, cfgen_env: dict[str, str]) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    done = cfgen(cfgen_env, "-o", str(fifo), timeout=120)
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received == [DEFAULT.encode()]


def test_pipe_through_dev_stdout(cfgen_env: dict[str, str]) -> None:
    # stdout is a pipe here: /dev/stdout -> /proc/self/fd/1 -> pipe, written in place.
    done = cfgen(cfgen_env, "-o", "/dev/stdout")
    assert done.returncode == 0, done.stderr
    assert done.stdout == DEFAULT


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        ("", "is a directory"),
        ("/", "is a directory"),
        ("/missing/cf.yaml", "does not exist"),
        ("/file/cf.yaml", "not a folder"),
        ("/file/", "is a directory"),
    ],
)
def test_unwritable_places_write_nothing(
    tmp_path: Path, cfgen_env: dict[str, str], make: str, needle: str
) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    one_line_error(cfgen(cfgen_env, "-o", f"{tmp_path}{make}"), needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_write_failing_half_way_leaves_the_old_file(
    tmp_path: Path, cfgen_env: dict[str, str]
) -> None:
    # RLIMIT_FSIZE makes the kernel refuse the write beyond 1000 bytes (EFBIG):
    # a real short write, no mock. The old file and no temp file remain.
    target = tmp_path / "cf.yaml"
    target.write_text("old\n", encoding="utf-8")
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000));"
        "from cfgen.cli import main; sys.exit(main(['-o', sys.argv[1]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        capture_output=True,
        text=True,
        env={**cfgen_env, "CFGEN_NO_CACHE": "1"},
        check=False,
    )
    one_line_error(done, "cannot write", "File too large")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cf.yaml"]


def test_docs_update_readme_through_a_symlink(tmp_path: Path, cfgen_env: dict[str, str]) -> None:
    real = tmp_path / "README.real.md"
    real.write_text(
        "# x\n<!-- BEGIN parameters -->\n<!-- END parameters -->\n"
        "<!-- BEGIN outputs -->\n<!-- END outputs -->\n"
        "<!-- BEGIN diagram -->\n<!-- END diagram -->\n",
        encoding="utf-8",
    )
    link = tmp_path / "README.md"
    link.symlink_to(real)
    done = cfgen(cfgen_env, "docs", "--update-readme", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink()
    assert "| `VpcId` |" in real.read_text(encoding="utf-8")


def test_build_into_a_directory_path_that_is_a_file(
    tmp_path: Path, cfgen_env: dict[str, str]
) -> None:
    (tmp_path / "build").write_text("x", encoding="utf-8")
    one_line_error(
        cfgen(cfgen_env, "build", "--out-dir", str(tmp_path / "build"), cwd=tmp_path), "out-dir"
    )
    assert (tmp_path / "build").read_text(encoding="utf-8") == "x"
