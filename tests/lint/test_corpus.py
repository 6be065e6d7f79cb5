"""cfgen's rules on a corpus of public templates with AWS Batch resources.

``corpus/manifest.json`` names each template (source repository, path, commit,
licence, sha256); ``corpus/expectations.json`` holds every finding cfgen lint
reports on them with a reviewed verdict (true / false / debatable) and a
one-line reason. The test fails on any finding the expectations do not hold,
on any expected finding that is gone, and on any crash; it also holds the
precision and debatable share that docs/lint.md reports.

The template files themselves are public repositories' content, which this
repository does not commit: they are read from ``$CFGEN_LINT_CORPUS``,
``tests/lint/corpus/templates/`` or a ``lint-corpus/`` folder of the steering
repository's ``shared/`` (beside the clone in CI, or /work/shared). Without
them the corpus test is skipped, unless ``CFGEN_LINT_CORPUS_REQUIRED=1``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.helpers import load_plugins
from cfnlint.rules import RulesCollection

from cfgen.lint import RULES_DIR

HERE = Path(__file__).parent / "corpus"
ROOT = Path(__file__).resolve().parents[2]
MANIFEST: list[dict[str, str]] = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
EXPECTED: list[dict[str, Any]] = json.loads(
    (HERE / "expectations.json").read_text(encoding="utf-8")
)
VERDICTS = {"true", "false", "debatable"}


def _corpus_dir() -> Path | None:
    candidates = [
        os.environ.get("CFGEN_LINT_CORPUS", ""),
        str(HERE / "templates"),
        str(ROOT.parent / "shared" / "lint-corpus"),
        "/work/shared/lint-corpus",
    ]
    for c in candidates:
        if c and all((Path(c) / e["file"]).is_file() for e in MANIFEST):
            return Path(c)
    return None


CORPUS = _corpus_dir()
needs_corpus = pytest.mark.skipif(
    CORPUS is None and os.environ.get("CFGEN_LINT_CORPUS_REQUIRED") != "1",
    reason="corpus templates not present (public files are not committed; see manifest.json)",
)


@cache
def _rules() -> RulesCollection:
    """cfgen's rules alone: cfn-lint's schema rules would make the run 20x slower."""
    rules = RulesCollection(include_rules=["I"])
    rules.extend(load_plugins(str(RULES_DIR)))
    return rules


def _key(f: dict[str, Any]) -> tuple[str, str, int, str]:
    return (f["file"], f["rule"], int(f["line"]), f["message"])


@cache
def _run() -> tuple[tuple[str, str, int, str], ...]:
    assert CORPUS is not None, "corpus templates not found"
    found = []
    for entry in MANIFEST:
        text = (CORPUS / entry["file"]).read_text(encoding="utf-8")
        for m in lint(text, rules=_rules(), config={"regions": ["us-east-1"]}):
            found.append((entry["file"], m.rule.id, m.linenumber, m.message))
    return tuple(sorted(found))


def test_manifest_is_complete() -> None:
    assert len(MANIFEST) >= 30
    for entry in MANIFEST:
        assert set(entry) == {"file", "repository", "path", "commit", "licence", "sha256"}
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), entry
        assert entry["licence"] in {"Apache-2.0", "MIT-0", "MIT"}, entry
    assert len({e["file"] for e in MANIFEST}) == len(MANIFEST)


def test_expectations_are_reviewed() -> None:
    files = {e["file"] for e in MANIFEST}
    for f in EXPECTED:
        assert f["verdict"] in VERDICTS, f
        assert f["reason"].strip() and "\n" not in f["reason"], f
        assert f["file"] in files, f
    errors = [f for f in EXPECTED if f["rule"][0] == "E" and f["verdict"] == "false"]
    assert errors == [], "a false E-level finding"


def _stats() -> tuple[int, int, int, int]:
    ours = [f for f in EXPECTED if re.fullmatch(r"[EWI]95\d\d", f["rule"])]
    true = sum(f["verdict"] == "true" for f in ours)
    false = sum(f["verdict"] == "false" for f in ours)
    debatable = sum(f["verdict"] == "debatable" for f in ours)
    return len(ours), true, false, debatable


def test_precision_and_debatable_share_meet_the_targets_and_docs_say_so() -> None:
    total, true, false, debatable = _stats()
    precision = true / (true + false)
    assert precision >= 0.97
    assert debatable / total < 0.15
    docs = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    line = (
        f"{total} findings on {len(MANIFEST)} templates: {true} true, {false} false, "
        f"{debatable} debatable; precision {precision:.1%}, debatable {debatable / total:.1%}"
    )
    assert line in docs, line


@needs_corpus
def test_corpus_files_are_the_manifest_versions() -> None:
    assert CORPUS is not None
    for entry in MANIFEST:
        digest = hashlib.sha256((CORPUS / entry["file"]).read_bytes()).hexdigest()
        assert digest == entry["sha256"], entry["file"]


@needs_corpus
def test_findings_are_exactly_the_reviewed_ones() -> None:
    got = set(_run())
    want = {_key(f) for f in EXPECTED}
    assert sorted(got - want) == [], "findings without a reviewed verdict"
    assert sorted(want - got) == [], "reviewed findings no longer reported"
