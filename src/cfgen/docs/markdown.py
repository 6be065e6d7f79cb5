"""Markdown for GitHub (GFM) table cells: escaping, code spans, tables."""

from __future__ import annotations

import re

from cfgen.clikit import one_line

#: En dash (U+2013): ranges such as 1-100, and empty table cells (visibly empty).
DASH = "\u2013"
NONE = DASH

# Characters that Markdown (GFM) would read as markup in a table cell. "|" ends
# the cell; "<" starts raw HTML (List<AWS::EC2::Subnet::Id> would vanish).
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&])")
# "_" is markup only at a word boundary (GFM ignores intraword underscores).
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_text(text: str) -> str:
    """Plain text for a table cell: one line, markup characters escaped."""
    text = _MD_SPECIAL.sub(r"\\\1", one_line(text))
    return _MD_UNDERSCORE.sub(r"\\_", text)


def md_code(value: str) -> str:
    """A code span for a table cell. Backslash escapes do not work inside code
    spans, except ``\\|``, which GFM tables turn back into ``|``."""
    value = " ".join(value.splitlines())
    if value == "":
        return '`""`'
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    if value.startswith("`") or value.endswith("`") or value.strip() == "":
        value = f" {value} "
    return fence + value.replace("|", "\\|") + fence


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
