"""The README's report section is the output of a real array job run on the emulator
(python -m cfgen.report.readme, in its own process: moto's state is per process),
and stays current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_report_section_is_current() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfgen.report.readme",
            "--check",
            "--readme",
            str(ROOT / "README.md"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_demo_shows_the_interruption_and_no_redone_work() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("<!-- BEGIN report -->") : text.index("<!-- END report -->")]
    total = next(line for line in section.splitlines() if line.startswith("total"))
    assert total.split()[2:4] == ["4", "1"]  # 4 attempts, 1 interrupted
    assert "(0 input bytes redone)" in section
