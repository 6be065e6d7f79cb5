"""Command line: argument parsing and exit codes only; no template logic.

    cfgen [--profile NAME|PATH] [--format yaml|json] [-o PATH]   render a template
    cfgen build [--out-dir DIR]      render every profile into build/
    cfgen check [--out-dir DIR]      exit 1 if build/ differs from a fresh render
    cfgen list                       the profiles, one line each
    cfgen lint FILE...               cfn-lint with cfgen's Batch-on-Spot rules
    cfgen diff OLD NEW               what an update would replace or interrupt
    cfgen cost, cfgen simulate       cost estimate, Monte Carlo of interruptions
    cfgen docs, cfgen diagram        Markdown tables, Mermaid diagram
    cfgen preflight, cfgen doctor    will jobs run (before a deploy), why not (after)
    cfgen report                     what the jobs really cost (the worker's cost ledger)
    cfgen --version

Exit codes (cfgen.clikit): 0 ok, 1 a check found something, 2 bad input (one
line on stderr, nothing written). The render cache (cfgen.cache) lives here,
in the command line only.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cfgen import __version__, clikit
from cfgen.clikit import EXIT_FINDINGS, EXIT_OK, Parser, UsageError

PROG = "cfgen"

#: Subcommands implemented elsewhere: name -> (module, function, one-line help).
#: Imported lazily so rendering never pays for them.
_DELEGATED: dict[str, tuple[str, str, str]] = {
    "lint": ("cfgen.lint.cli", "main", "run cfn-lint with cfgen's Batch-on-Spot rules"),
    "diff": ("cfgen.diff", "main", "show what updating OLD to NEW would replace or interrupt"),
    "plan": ("cfgen.plan", "main", "create a change set for a stack and show what it would do"),
    "cost": ("cfgen.cost.cli", "cost_main", "hourly cost of a profile, Spot against On-Demand"),
    "simulate": ("cfgen.cost.cli", "simulate_main", "simulate a workload under interruptions"),
    "docs": ("cfgen.docs.cli", "docs_main", "Markdown tables of parameters and outputs"),
    "diagram": ("cfgen.docs.cli", "diagram_main", "Mermaid diagram of the resources"),
    "preflight": ("cfgen.preflight.cli", "preflight_main", "will jobs run? checks before a deploy"),
    "doctor": ("cfgen.preflight.cli", "doctor_main", "why a live stack's jobs are stuck or fail"),
    "report": ("cfgen.report.cli", "main", "what a stack's jobs really cost (the cost ledger)"),
}
_LOCAL = ("build", "check", "list")


def _render_parser() -> Parser:
    p = Parser(
        prog=PROG,
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
        help="write to PATH instead of stdout: a file is replaced atomically (all or"
        " nothing, through a symlink its target), a device or pipe is written in place",
    )
    p.add_argument("--version", action="version", version=f"cfgen {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in _DELEGATED:
        return _delegate(args[0], args[1:])
    if args and args[0] in _LOCAL:
        return clikit.run(f"{PROG} {args[0]}", lambda: _LOCAL_COMMANDS[args[0]](args[1:]))
    return clikit.run(PROG, lambda: _render_command(args))


def _delegate(name: str, argv: list[str]) -> int:
    module_name, func_name, _ = _DELEGATED[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:  # pragma: no cover - a partial install
        return clikit.fail(f"{PROG} {name}", f"subcommand {name!r} is not available: {err}")
    func: Callable[[list[str]], int] = getattr(module, func_name)
    if name == "lint":
        return clikit.run(f"{PROG} lint", lambda: _lint(func, argv))
    return clikit.run(f"{PROG} {name}", lambda: func(argv))


def _render_command(argv: list[str]) -> int:
    # `cfgen` with no arguments is the common case: skip building an argparse
    # parser (its help formatter alone imports shutil, bz2 and lzma).
    args = _render_parser().parse_args(argv) if argv else _DEFAULT_RENDER
    if args.output is not None:
        clikit.check_output(args.output)
    text = _render_text(args.profile, args.format)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        clikit.write_output(args.output, text)
    return EXIT_OK


_DEFAULT_RENDER = argparse.Namespace(profile="default", format="yaml", output=None)


def _render_text(name_or_path: str, fmt: str) -> str:
    """Render a profile, through the content-addressed cache (cfgen.cache).

    A hit means these exact inputs were validated and rendered before; a miss
    validates, renders and stores. The cache never changes the text, and a
    cache that cannot be used is skipped with a one-line warning.
    """
    from cfgen import cache

    key = cache.key_for(name_or_path, fmt) if cache.enabled() else None
    if key is not None and (hit := cache.get(key)) is not None:
        return hit
    from cfgen.config import load_profile
    from cfgen.render import render

    text = render(load_profile(name_or_path), fmt)
    if key is not None:
        try:
            cache.put(key, text)
        except cache.CacheUnusable as err:
            clikit.warn(PROG, str(err))
    return text


# --------------------------------------------------------------------------- lint

_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")


def _lint(cfn_lint: Callable[[list[str]], int], argv: list[str]) -> int:
    """cfn-lint with cfgen's rules: cfgen's word first on --help, a clear missing-file error."""
    if any(a in ("-h", "--help") for a in argv):
        print(_lint_intro())
        return cfn_lint(["--help"])
    for arg in argv:
        if (
            not arg.startswith("-")
            and arg.lower().endswith(_TEMPLATE_SUFFIXES)
            and not any(c in arg for c in "*?[")
            and not Path(arg).exists()
        ):
            raise UsageError(f"template={arg!r}: file not found")
    return cfn_lint(argv)


def _lint_intro() -> str:
    import contextlib
    import io

    from cfgen.lint.cli import main as lint_main

    listing = io.StringIO()
    with contextlib.redirect_stdout(listing), contextlib.redirect_stderr(io.StringIO()):
        lint_main(["--list-rules"])
    rules = [
        line.split(":", 1)[0]
        for line in listing.getvalue().splitlines()
        if line[:2] in ("E9", "W9") and ":" in line
    ]
    span = f"{rules[0]}-{rules[-1]}, " if rules else ""
    return (
        "usage: cfgen lint [cfn-lint options] FILE...\n\n"
        f"cfn-lint with cfgen's {len(rules)} Batch-on-Spot rules appended ({span}"
        "module cfgen.lint.rules). The rule table with what each catches and why:"
        " docs/lint.md in the cfgen repository; `cfgen lint --list-rules` lists them."
        " Exit codes are cfn-lint's: a bit mask of 2 error, 4 warning, 8 informational.\n\n"
        "cfn-lint's own options follow.\n"
    )


# --------------------------------------------------------------------------- build / check / list


def _out_dir_parser(prog: str, description: str) -> Parser:
    p = Parser(prog=f"{PROG} {prog}", description=description)
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
    current = clikit.read_text(path, "readme")
    if "<!-- BEGIN parameters -->" not in current:
        return None
    from cfgen.docs.readme import update_readme

    return current, update_readme(current, "default", source=str(path))


def _render_all() -> dict[str, str]:
    from cfgen.config import list_profiles, load_profile
    from cfgen.render import render

    rendered: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in list_profiles():
        profile = load_profile(name)
        if profile.output_file in owner:  # pragma: no cover - config reserves such names
            raise UsageError(
                f"profile={name!r}: output file {profile.output_file!r} is also"
                f" profile {owner[profile.output_file]!r}'s; rename one"
            )
        owner[profile.output_file] = name
        rendered[profile.output_file] = render(profile)
    # The budget stack: profile-independent, deployed in a region that has budgets.
    from cfgen import budget

    rendered[budget.FILE_NAME] = budget.render_budget()
    return rendered


def _out_dir(text: str) -> Path:
    out = Path(text)
    if not out.is_dir():
        raise UsageError(f"out-dir={text!r}: folder does not exist")
    return out


def _build(argv: list[str]) -> int:
    args = _out_dir_parser("build", "Render every profile in templates/ into build/.").parse_args(
        argv
    )
    out = _out_dir(args.out_dir)
    rendered = _render_all()
    readme = _readme_update(Path(args.readme))
    for file_name in rendered:
        clikit.check_output(out / file_name, "out-dir")
    for file_name, text in rendered.items():
        clikit.write_output(out / file_name, text, "out-dir")
        print(f"wrote {out / file_name}")
    for stale in sorted(set(_yaml_files(out)) - set(rendered)):
        (out / stale).unlink()
        print(f"removed {out / stale} (no profile renders it)")
    if readme is not None and readme[0] != readme[1]:
        clikit.write_output(args.readme, readme[1], "readme")
        print(f"updated the generated sections of {args.readme}")
    return EXIT_OK


def _check(argv: list[str]) -> int:
    args = _out_dir_parser(
        "check", "Exit 1 if any file in build/ differs from a fresh render (drift)."
    ).parse_args(argv)
    out = _out_dir(args.out_dir)
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
    parser = Parser(prog=f"{PROG} list", description="List the profiles, one line each.")
    parser.add_argument(
        "--markdown", action="store_true", help="a Markdown table with resource counts (README)"
    )
    args = parser.parse_args(argv)
    from cfgen.config import list_profiles, load_profile

    profiles = [load_profile(name) for name in list_profiles()]
    if args.markdown:
        from cfgen.docs.readme import profiles_markdown

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
