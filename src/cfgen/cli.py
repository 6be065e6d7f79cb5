"""Command line: argument parsing and exit codes only; no template logic.

    cfgen [--profile NAME|PATH] [--format yaml|json] [-o PATH]   render a template
    cfgen build [--out-dir DIR]      render every profile into build/
    cfgen check [--out-dir DIR]      exit 1 if build/ differs from a fresh render
    cfgen list                       the profiles, one line each
    cfgen lint FILE...               cfn-lint with cfgen's Batch-on-Spot rules
    cfgen diff OLD NEW               what an update would replace or interrupt
    cfgen cost / simulate            cost estimate, Monte Carlo of interruptions
    cfgen docs / diagram             Markdown tables, Mermaid diagram

Exit codes: 0 ok, 1 a check found something, 2 bad input (one line on stderr,
nothing written).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

#: Subcommands implemented elsewhere: name -> (module, function, one-line help).
#: Imported lazily so rendering never pays for them.
_DELEGATED: dict[str, tuple[str, str, str]] = {
    "lint": ("cfgen.lint.cli", "main", "run cfn-lint with cfgen's Batch-on-Spot rules"),
    "diff": ("cfgen.diff", "main", "show what updating OLD to NEW would replace or interrupt"),
    "plan": ("cfgen.plan", "main", "create a change set for a stack and show what it would do"),
    "cost": ("cfgen.cost.cli", "cost_main", "hourly cost of a profile, Spot against On-Demand"),
    "simulate": ("cfgen.cost.cli", "simulate_main", "simulate a workload under interruptions"),
    "docs": ("cfgen.docs", "docs_main", "Markdown tables of parameters and outputs"),
    "diagram": ("cfgen.docs", "diagram_main", "Mermaid diagram of the resources"),
}
_LOCAL = ("build", "check", "list")


class UsageError(Exception):
    """Bad command-line input: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _render_parser() -> _Parser:
    p = _Parser(
        prog="cfgen",
        description=(
            "Print the CloudFormation template of a profile (default: the 'default' profile)."
            f" Subcommands: {', '.join(_LOCAL + tuple(_DELEGATED))}; `cfgen SUBCOMMAND --help`."
        ),
    )
    p.add_argument(
        "--profile",
        default="default",
        help="profile name in templates/ or path to a .toml file (default: default)",
    )
    p.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format")
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write to PATH (atomically: all or nothing) instead of stdout",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in _DELEGATED:
            return _delegate(args[0], args[1:])
        if args and args[0] in _LOCAL:
            return _LOCAL_COMMANDS[args[0]](args[1:])
        return _render_command(args)
    except UsageError as err:
        return _fail(f"cfgen: error: {err}")
    except BrokenPipeError:
        return _broken_pipe()


def _delegate(name: str, argv: list[str]) -> int:
    module_name, func_name, _ = _DELEGATED[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:  # pragma: no cover - a partial install
        raise UsageError(f"subcommand {name!r} is not available: {err}") from None
    func: Callable[[list[str]], int] = getattr(module, func_name)
    return func(argv)


def _render_command(argv: list[str]) -> int:
    # `cfgen` with no arguments is the common case: skip building an argparse
    # parser (its help formatter alone imports shutil, bz2 and lzma).
    args = _render_parser().parse_args(argv) if argv else _DEFAULT_RENDER
    if args.output is not None:
        _check_output_path(args.output)
    text = _render_text(args.profile, args.format)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(Path(args.output), text)
    return EXIT_OK


_DEFAULT_RENDER = argparse.Namespace(profile="default", format="yaml", output=None)


def _render_text(name_or_path: str, fmt: str) -> str:
    """Render a profile, through the content-addressed cache (cfgen.cache).

    A hit means these exact inputs were validated and rendered before; a miss
    validates, renders and stores. The cache never changes the text.
    """
    from cfgen import cache

    key = cache.key_for(name_or_path, fmt) if cache.enabled() else None
    if key is not None and (hit := cache.get(key)) is not None:
        return hit
    from cfgen.config import ConfigError, load_profile
    from cfgen.render import render

    try:
        text = render(load_profile(name_or_path), fmt)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    if key is not None:
        cache.put(key, text)
    return text


def _check_output_path(output: str) -> None:
    path = Path(output)
    if output.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(f"output={output!r}: is a directory; give a file path")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"output={output!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"output={output!r}: folder {str(parent)!r} is not writable")


def write_atomic(path: Path, text: str) -> None:
    """Write through a temp file in the same folder, then rename: all or nothing."""
    _check_output_path(str(path))
    data = text.encode("utf-8")
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise UsageError(f"output={str(path)!r}: cannot write: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"output={str(path)!r}: cannot write: {err.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- build / check / list


def _out_dir_parser(prog: str, description: str) -> _Parser:
    p = _Parser(prog=f"cfgen {prog}", description=description)
    p.add_argument(
        "--out-dir",
        default="build",
        metavar="DIR",
        help="folder of the rendered templates (default: build)",
    )
    p.add_argument(
        "--readme",
        default="README.md",
        metavar="PATH",
        help=(
            "README whose generated sections (profiles, parameters, outputs, diagram) are kept"
            " in sync, if it exists and has cfgen's markers (default: README.md)"
        ),
    )
    return p


def _readme_update(path: Path) -> tuple[str, str] | None:
    """(current, refreshed) text of a README with cfgen's markers, else None."""
    if not path.is_file():
        return None
    current = path.read_text(encoding="utf-8")
    if "<!-- BEGIN parameters -->" not in current:
        return None
    from cfgen.docs import DocsError, update_readme

    try:
        return current, update_readme(current, "default")
    except DocsError as err:
        raise UsageError(str(err)) from None


def _render_all() -> dict[str, str]:
    from cfgen.config import ConfigError, list_profiles, load_profile
    from cfgen.render import render

    rendered: dict[str, str] = {}
    for name in list_profiles():
        try:
            profile = load_profile(name)
        except ConfigError as err:
            raise UsageError(str(err)) from None
        rendered[profile.output_file] = render(profile)
    return rendered


def _build(argv: list[str]) -> int:
    args = _out_dir_parser("build", "Render every profile in templates/ into build/.").parse_args(
        argv
    )
    out = Path(args.out_dir)
    if not out.is_dir():
        raise UsageError(f"out-dir={args.out_dir!r}: folder does not exist")
    rendered = _render_all()
    for file_name, text in rendered.items():
        write_atomic(out / file_name, text)
        print(f"wrote {out / file_name}")
    for stale in sorted(set(_yaml_files(out)) - set(rendered)):
        (out / stale).unlink()
        print(f"removed {out / stale} (no profile renders it)")
    readme = _readme_update(Path(args.readme))
    if readme is not None and readme[0] != readme[1]:
        write_atomic(Path(args.readme), readme[1])
        print(f"updated the generated sections of {args.readme}")
    return EXIT_OK


def _check(argv: list[str]) -> int:
    args = _out_dir_parser(
        "check", "Exit 1 if any file in build/ differs from a fresh render (drift)."
    ).parse_args(argv)
    out = Path(args.out_dir)
    if not out.is_dir():
        raise UsageError(f"out-dir={args.out_dir!r}: folder does not exist")
    rendered = _render_all()
    drift = []
    for file_name, text in rendered.items():
        path = out / file_name
        if not path.is_file():
            drift.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            drift.append(f"{path}: differs from a fresh render")
    drift += [
        f"{out / s}: no profile renders it" for s in sorted(set(_yaml_files(out)) - set(rendered))
    ]
    readme = _readme_update(Path(args.readme))
    if readme is not None and readme[0] != readme[1]:
        drift.append(f"{args.readme}: generated sections differ from a fresh render")
    for line in drift:
        print(line, file=sys.stderr)
    if drift:
        print("to fix: python -m cfgen build", file=sys.stderr)
        return EXIT_FINDINGS
    print(f"{len(rendered)} templates in {out} (and the README's tables) are up to date")
    return EXIT_OK


def _yaml_files(folder: Path) -> list[str]:
    return [p.name for p in folder.glob("*.yaml")]


def _list(argv: list[str]) -> int:
    parser = _Parser(prog="cfgen list", description="List the profiles, one line each.")
    parser.add_argument(
        "--markdown", action="store_true", help="a Markdown table with resource counts (README)"
    )
    args = parser.parse_args(argv)
    from cfgen.config import ConfigError, list_profiles, load_profile

    profiles = []
    for name in list_profiles():
        try:
            profiles.append(load_profile(name))
        except ConfigError as err:
            raise UsageError(str(err)) from None
    if args.markdown:
        from cfgen.docs import profiles_markdown

        print(profiles_markdown(profiles), end="")
        return EXIT_OK
    for profile in profiles:
        print(f"{profile.name:<14} {profile.output_file:<22} {profile.description}")
    return EXIT_OK


_LOCAL_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "build": _build,
    "check": _check,
    "list": _list,
}


# --------------------------------------------------------------------------- errors


def _fail(line: str) -> int:
    print(line.replace("\n", " "), file=sys.stderr)
    return EXIT_USAGE


def _broken_pipe() -> int:
    # The reader went away (`cfgen | head`): no traceback, and no second
    # error when Python flushes stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FINDINGS
