"""The command-line toolkit every cfgen command uses (and scripts/local_aws.py).

One spelling of what a command does at its edge:

* exit codes: ``EXIT_OK`` 0, ``EXIT_FINDINGS`` 1 (a check found something, or a
  runtime failure), ``EXIT_USAGE`` 2 (bad input);
* :class:`UsageError` and :class:`Parser`, an ``argparse.ArgumentParser`` whose
  errors are a one-line :class:`UsageError` instead of usage text and exit 2;
* :func:`run`, which runs a command body and maps UsageError to one line on
  stderr and exit 2, ``--help`` to exit 0 and a closed stdout pipe to exit 1
  without a traceback;
* argument types with documented bounds (:func:`int_in`, :func:`finite`);
* :func:`check_output` / :func:`write_output`: every file a command writes. A
  regular file (or the target of a symlink) is replaced atomically, through a
  temp file in its folder and a rename, so a reader sees the old or the new
  file, never half of one; a character device, FIFO or socket (``/dev/null``,
  ``/dev/stdout``, a named pipe) is written to directly and never replaced; a
  directory or a place that cannot be written is a one-line UsageError and
  nothing is written;
* :func:`replace_sections`: splicing generated text between README markers
  ``<!-- BEGIN name -->`` / ``<!-- END name -->``.

It imports nothing from cfgen, so every command can use it without cycles.
"""

from __future__ import annotations

import argparse
import math
import os
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input: one line on stderr naming the field, the value and the rule; exit 2.

    The message is kept on one line whatever it quotes: a control character of
    the input (a TOML key with a newline) is shown escaped.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(printable(a) if isinstance(a, str) else a for a in args))


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\n``, ``\\x1b``...)."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


class _Exit(Exception):  # noqa: N818 - control flow (--help), not an error
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Parser(argparse.ArgumentParser):
    """An ArgumentParser for cfgen: a bad argument raises UsageError (one line)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # --help and --version: argparse has printed what it had to print.
        if message:
            raise UsageError(message.strip())
        raise _Exit(status)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(prog: str, message: str) -> int:
    """Print ``prog: error: message`` as one line on stderr; return EXIT_USAGE."""
    text = one_line(message)
    if not text.startswith(f"{prog}:"):
        text = f"{prog}: error: {text}"
    print(text, file=sys.stderr)
    return EXIT_USAGE


def warn(prog: str, message: str) -> None:
    print(f"{prog}: warning: {one_line(message)}", file=sys.stderr)


def run(prog: str, body: Callable[[], int]) -> int:
    """Run a command body: UsageError is one line and exit 2, --help exit 0,
    a closed stdout (``cfgen ... | head``) exit 1 with no traceback."""
    try:
        return body()
    except UsageError as err:
        return fail(prog, str(err))
    except _Exit as done:
        return done.status
    except BrokenPipeError:
        return broken_pipe()


def broken_pipe() -> int:
    # The reader went away: no traceback, and no second error when Python
    # flushes stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FINDINGS


# --------------------------------------------------------------------------- argument types


def int_in(field: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high] (the bound is documented here)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} must be between {low} and {high}")
        return value

    parse.__name__ = field
    return parse


def finite(field: str, low: float = -math.inf, high: float = math.inf) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high] (no inf, no nan)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value:g} must be between {low:g} and {high:g}")
        return value

    parse.__name__ = field
    return parse


# --------------------------------------------------------------------------- output files


def _special(st: os.stat_result) -> bool:
    """A character device, FIFO or socket: written to in place, never replaced."""
    return stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode)


def check_output(path: str | Path, field: str = "output") -> None:
    """Raise UsageError unless ``path`` can be written; nothing is created."""
    _target(path, field)


def _target(path: str | Path, field: str) -> tuple[Path, bool]:
    """(where to write, whether to write in place). Symlinks are followed."""
    text = str(path)
    shown = f"{field}={text!r}"
    if text == "":
        raise UsageError(f"{shown}: must not be empty")
    if text.endswith(("/", os.sep)):
        raise UsageError(f"{shown}: is a directory; give a file path")
    try:
        st: os.stat_result | None = Path(text).stat()
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise UsageError(f"{shown}: a part of the path is not a folder") from None
    except OSError as err:
        raise UsageError(f"{shown}: cannot write: {err.strerror}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{shown}: is a directory; give a file path")
    if st is not None and _special(st):
        if not os.access(text, os.W_OK):
            raise UsageError(f"{shown}: not writable")
        return Path(text), True
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{shown}: not a regular file, device or pipe")
    real = Path(os.path.realpath(text))  # through symlinks: replace the target
    parent = real.parent
    if not parent.is_dir():
        raise UsageError(f"{shown}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{shown}: folder {str(parent)!r} is not writable")
    return real, False


def write_output(path: str | Path, data: str | bytes, field: str = "output") -> None:
    """Write ``data`` to ``path``: atomic replace for a regular file (or a
    symlink's target), in place for a device or pipe; UsageError otherwise."""
    body = data.encode("utf-8") if isinstance(data, str) else data
    target, in_place = _target(path, field)
    shown = f"{field}={str(path)!r}"
    if in_place:
        try:
            with target.open("wb") as fh:
                fh.write(body)
        except OSError as err:
            raise UsageError(f"{shown}: cannot write: {err.strerror}") from None
        return
    _replace_atomically(target, body, shown)


def _replace_atomically(target: Path, body: bytes, shown: str) -> None:
    import tempfile

    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as err:
        raise UsageError(f"{shown}: cannot write: {err.strerror}") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise UsageError(f"{shown}: cannot write: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"{shown}: cannot write: {err.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- README splicing


def marker(kind: str, section: str) -> str:
    return f"<!-- {kind} {section} -->"


def replace_sections(text: str, sections: Mapping[str, str], *, source: str = "README") -> str:
    """Replace what lies between each ``<!-- BEGIN s -->`` / ``<!-- END s -->`` pair.

    Every section must have exactly one BEGIN marker followed by one END marker;
    otherwise UsageError names the marker and the rule.
    """
    for section, content in sections.items():
        begin, end = marker("BEGIN", section), marker("END", section)
        for m in (begin, end):
            count = text.count(m)
            if count != 1:
                found = "not found" if count == 0 else f"found {count} times"
                raise UsageError(
                    f"{source}: marker {m!r} {found}; each of {', '.join(sections)}"
                    " needs exactly one BEGIN and one END marker"
                )
        start = text.index(begin) + len(begin)
        stop = text.index(end)
        if stop < start:
            raise UsageError(f"{source}: marker {end!r} comes before {begin!r}")
        text = text[:start] + content + text[stop:]
    return text


def read_text(path: str | Path, field: str) -> str:
    """A UTF-8 text file, or UsageError naming the field."""
    shown = f"{field}={str(path)!r}"
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{shown}: file not found") from None
    except IsADirectoryError:
        raise UsageError(f"{shown}: is a directory; give a file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{shown}: must be UTF-8 text") from None
    except OSError as err:
        raise UsageError(f"{shown}: cannot read: {err.strerror}") from None


def readme_section_main(
    argv: list[str], *, prog: str, section: str, what: str, render: Callable[[], str], fix: str
) -> int:
    """The body of a ``python -m cfgen.<part>.readme [--check] [--readme PATH]`` command.

    Rewrites the README's ``section`` (between its BEGIN/END markers) with
    ``render()``; ``--check`` exits 1 if it is stale, naming the ``fix`` command.
    The markers are checked before ``render`` runs (it may start an emulator).
    """
    parser = Parser(
        prog=prog,
        description=f"Rewrite the README's {section} section (between <!-- BEGIN {section} -->"
        f" and <!-- END {section} -->) from {what}.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the section is stale")
    parser.add_argument(
        "--readme", default="README.md", metavar="PATH", help="the README (default: README.md)"
    )
    args = parser.parse_args(argv)
    current = read_text(args.readme, "readme")
    replace_sections(current, {section: ""}, source=args.readme)
    wanted = replace_sections(current, {section: render()}, source=args.readme)
    if args.check:
        if wanted != current:
            print(f"{args.readme}: {section} section is stale; run: {fix}", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        write_output(args.readme, wanted, "readme")
    return 0
