"""The README's generated sections: profiles, parameters, outputs, diagram.

The README embeds the default profile's tables and diagram between marker
comments (``<!-- BEGIN parameters -->`` ... ``<!-- END parameters -->``,
likewise ``outputs``, ``diagram`` and ``profiles``); ``cfgen build`` refreshes
them and ``cfgen check`` and tests/test_docs.py fail when they drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cfgen.clikit import replace_sections
from cfgen.docs.mermaid import mermaid
from cfgen.docs.tables import outputs_markdown, parameters_markdown

if TYPE_CHECKING:
    from cfgen.config import Profile

#: The command that regenerates the README's marked sections.
UPDATE_COMMAND = "python -m cfgen docs --update-readme"

#: README sections this module owns, in the order they are checked.
SECTIONS = ("parameters", "outputs", "diagram")


def profiles_markdown(profiles: Sequence[Profile]) -> str:
    """The README's profile table: name, file, what it is for, resources."""
    from cfgen.render import to_data

    lines = [
        "| profile | template | what it is for | resources |",
        "|---|---|---|---|",
    ]
    for p in profiles:
        count = len(to_data(p)["Resources"])
        lines.append(f"| `{p.name}` | `build/{p.output_file}` | {p.description} | {count} |")
    return "\n".join(lines) + "\n"


def readme_sections(data: Mapping[str, Any]) -> dict[str, str]:
    """The text that belongs between each pair of README markers."""
    return {
        "parameters": "\n\n" + parameters_markdown(data) + "\n",
        "outputs": "\n\n" + outputs_markdown(data) + "\n",
        "diagram": "\n\n```mermaid\n" + mermaid(data) + "```\n\n",
    }


def update_readme(readme_text: str, profile: Profile | str, *, source: str = "README") -> str:
    """The README with its parameters, outputs and diagram sections rendered from
    ``profile`` (a Profile, or a name or path for ``load_profile``)."""
    from cfgen.config import list_profiles, load_profile
    from cfgen.render import to_data

    if isinstance(profile, str):
        profile = load_profile(profile)
    sections = readme_sections(to_data(profile))
    if "<!-- BEGIN profiles -->" in readme_text:
        # The table of every profile (name, file, purpose, resource count).
        sections["profiles"] = "\n" + profiles_markdown([load_profile(n) for n in list_profiles()])
    if "<!-- BEGIN dashboard -->" in readme_text:
        # The dashboard's widgets (cfgen.dashboard), the same in every profile.
        from cfgen.dashboard import widgets_markdown

        sections["dashboard"] = "\n" + widgets_markdown()
    return replace_sections(readme_text, sections, source=source)
