"""``cfgen docs`` and ``cfgen diagram``: argument parsing and exit codes only.

cfgen docs [--profile P]                  Parameters and Outputs as Markdown tables
cfgen docs --update-readme [README.md]    refresh the README's generated sections
cfgen docs --check-readme [README.md]     exit 1 if they differ from a fresh render
cfgen diagram [--profile P]               Mermaid flowchart of the resources
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cfgen import clikit
from cfgen.clikit import EXIT_FINDINGS, EXIT_OK, Parser


def _add_profile(p: Parser) -> None:
    p.add_argument(
        "--profile",
        default="default",
        help="profile name in templates/ or path to a .toml file (default: default)",
    )


def _data(name_or_path: str) -> dict[str, Any]:
    from cfgen.config import load_profile
    from cfgen.render import to_data

    return to_data(load_profile(name_or_path))


def _readme_command(path: Path, profile: str, *, write: bool) -> int:
    from cfgen.config import load_profile
    from cfgen.docs.readme import SECTIONS, UPDATE_COMMAND, update_readme

    text = clikit.read_text(path, "readme")
    fresh = update_readme(text, load_profile(profile), source=str(path))
    if fresh == text:
        print(f"{path}: generated sections are up to date")
        return EXIT_OK
    if not write:
        print(f"{path}: generated sections differ from a fresh render", file=sys.stderr)
        print(f"to fix: {UPDATE_COMMAND}", file=sys.stderr)
        return EXIT_FINDINGS
    clikit.write_output(path, fresh, "readme")
    print(f"{path}: updated the {', '.join(SECTIONS)} sections")
    return EXIT_OK


def _docs(argv: list[str]) -> int:
    from cfgen.docs.tables import outputs_markdown, parameters_markdown

    p = Parser(
        prog="cfgen docs",
        description="Print Markdown tables of a profile's parameters and outputs.",
    )
    _add_profile(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--update-readme",
        nargs="?",
        const="README.md",
        metavar="README",
        help="rewrite the parameters/outputs/diagram sections between the README's markers"
        " (default file: README.md)",
    )
    mode.add_argument(
        "--check-readme",
        nargs="?",
        const="README.md",
        metavar="README",
        help="exit 1 if those sections differ from a fresh render (default file: README.md)",
    )
    args = p.parse_args(argv)
    if args.update_readme is not None:
        return _readme_command(Path(args.update_readme), args.profile, write=True)
    if args.check_readme is not None:
        return _readme_command(Path(args.check_readme), args.profile, write=False)
    data = _data(args.profile)
    sys.stdout.write(
        f"## Parameters\n\n{parameters_markdown(data)}\n## Outputs\n\n{outputs_markdown(data)}"
    )
    return EXIT_OK


def _diagram(argv: list[str]) -> int:
    from cfgen.docs.mermaid import mermaid

    p = Parser(
        prog="cfgen diagram",
        description="Print a Mermaid flowchart of a profile's resources and the references"
        " between them.",
    )
    _add_profile(p)
    data = _data(p.parse_args(argv).profile)
    sys.stdout.write(mermaid(data))
    return EXIT_OK


def docs_main(argv: list[str]) -> int:
    """``cfgen docs``: Markdown tables of the parameters and outputs, or refresh the README."""
    return clikit.run("cfgen docs", lambda: _docs(argv))


def diagram_main(argv: list[str]) -> int:
    """``cfgen diagram``: a Mermaid flowchart of a profile's resources and references."""
    return clikit.run("cfgen diagram", lambda: _diagram(argv))
