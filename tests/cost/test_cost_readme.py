"""The README's cost section is the real, current output of both commands."""

from __future__ import annotations

from pathlib import Path

from cfgen.cost import readme

ROOT = Path(__file__).resolve().parents[2]


def test_readme_cost_section_is_current() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    wanted = readme.splice(text, readme.render())
    assert wanted == text, f"README.md cost section is stale; run: {readme.REGENERATE}"


def test_section_shows_both_commands_and_the_three_strategies() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(readme.BEGIN) : text.index(readme.END)]
    assert "$ python -m cfgen cost" in section
    assert "$ python -m cfgen simulate" in section
    for name in ("On-Demand only", "recipe: no checkpoints", "cfgen: checkpoints"):
        assert name in section
