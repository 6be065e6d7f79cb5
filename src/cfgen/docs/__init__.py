"""Documentation generated from the rendered template, one module per concern.

    markdown.py     GFM escaping, code spans, tables
    intrinsics.py   CloudFormation values as text; references between resources
    tables.py       the Parameters and Outputs tables
    mermaid.py      the Mermaid diagram
    readme.py       the README's generated sections (profiles, parameters, outputs, diagram)
    cli.py          ``cfgen docs`` and ``cfgen diagram``

Everything is derived from the template as plain data (``cfgen.render.to_data``),
never from a hand-written list: a new parameter, output, resource or reference
shows up in the docs the next time they are generated. Output is deterministic:
the same template gives byte-identical Markdown.
"""

from __future__ import annotations

from cfgen.docs.intrinsics import Edge, condition_text, intrinsic_text, resource_edges
from cfgen.docs.markdown import DASH, md_code, md_text
from cfgen.docs.mermaid import mermaid
from cfgen.docs.readme import (
    SECTIONS,
    UPDATE_COMMAND,
    profiles_markdown,
    readme_sections,
    update_readme,
)
from cfgen.docs.tables import outputs_markdown, parameters_markdown

__all__ = [
    "DASH",
    "SECTIONS",
    "UPDATE_COMMAND",
    "Edge",
    "condition_text",
    "intrinsic_text",
    "md_code",
    "md_text",
    "mermaid",
    "outputs_markdown",
    "parameters_markdown",
    "profiles_markdown",
    "readme_sections",
    "resource_edges",
    "update_readme",
]
