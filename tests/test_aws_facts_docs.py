"""docs/aws-facts.md and its per-part pages stay checkable.

Every fact names an AWS (or, marked so, another vendor's) documentation page
and what holds it; a holder named as ``tests/<file>.py::<test>`` must exist, so
renaming or deleting the test that holds a fact turns this red instead of
leaving a claim nothing checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
INDEX = DOCS / "aws-facts.md"
PAGES = sorted((DOCS / "aws-facts.d").glob("*.md"))

_FILE = re.compile(r"(?<![\w/])((?:worker/)?tests/[\w/]+\.py)")
_REF = re.compile(r"(?<![\w/])((?:worker/)?tests/[\w/]+\.py)?::(\w+)")
_URL = re.compile(r"https://[^\s)>\]]+")
#: Lines that are not AWS facts with one page: stated assumptions, the
#: emulator's behaviour, and lists whose entries carry their pages in code.
_NOT_A_SOURCED_FACT = re.compile(r"^- (?:Not verified|moto|\(moto)|names its page")


def _facts(path: Path) -> list[str]:
    """The fact lines of a page: bullets, and table rows below a header."""
    lines = path.read_text(encoding="utf-8").splitlines()
    bullets = [ln for ln in lines if ln.startswith("- ")]
    rows = [
        ln
        for ln in lines
        if ln.startswith("| ") and not ln.startswith(("| fact", "| page", "|---"))
    ]
    return bullets + rows


def test_every_page_is_indexed() -> None:
    index = INDEX.read_text(encoding="utf-8")
    assert PAGES, "docs/aws-facts.d has no pages"
    missing = [p.name for p in PAGES if f"(aws-facts.d/{p.name})" not in index]
    assert not missing, f"docs/aws-facts.md does not link {missing}"


@pytest.mark.parametrize("page", [INDEX, *PAGES], ids=lambda p: p.name)
def test_every_fact_has_a_source(page: Path) -> None:
    facts = _facts(page)
    if page == INDEX:
        facts = [f for f in facts if "aws-facts.d/" not in f]  # the index table
    assert facts, f"{page.name}: no facts found"
    unsourced = [f[:80] for f in facts if not _URL.search(f) and not _NOT_A_SOURCED_FACT.search(f)]
    assert not unsourced, f"{page.name}: facts without a source page: {unsourced}"


@pytest.mark.parametrize("page", [INDEX, *PAGES], ids=lambda p: p.name)
def test_named_holders_exist(page: Path) -> None:
    broken: list[str] = []
    for fact in _facts(page):
        files = list(_FILE.finditer(fact))
        broken += [m.group(1) for m in files if not (REPO / m.group(1)).is_file()]
        for match in _REF.finditer(fact):
            # A bare ``::name`` belongs to the file named last before it.
            before = [m.group(1) for m in files if m.end() <= match.start()]
            file, name = match.group(1) or (before[-1] if before else None), match.group(2)
            if file is None or not (REPO / file).is_file():
                continue
            text = (REPO / file).read_text(encoding="utf-8")
            if not re.search(rf"^\s*(?:async )?def {name}\b|^class {name}\b", text, re.M):
                broken.append(f"{file}::{name}")
    assert not broken, f"{page.name}: holders that do not exist: {sorted(set(broken))}"
