"""Loading cfgen's rules: cfgen.lint.cli.main, python -m cfgen lint, plain cfn-lint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cfgen.lint.cli import main

from .helpers import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
GOOD = FIXTURES / "good" / "batch_spot.yaml"
EVENTS = FIXTURES / "bad" / "events.yaml"
CFN_LINT = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))


@pytest.fixture(autouse=True)
def _outside_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no .cfnlintrc applies (the repository's adds informational checks)."""
    monkeypatch.chdir(tmp_path)


def test_main_clean_template_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--include-checks", "I", "--", str(GOOD)]) == 0
    assert capsys.readouterr().out == ""


def test_main_reports_cfgen_rules_in_cfn_lint_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--format", "json", "--", str(EVENTS)]) == 2
    ids = sorted({m["Rule"]["Id"] for m in json.loads(capsys.readouterr().out)})
    assert ids == ["E9540", "E9541", "E9542", "E9543", "E9544"]


def test_main_honours_cfn_lint_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-i", "E9540", "E9541", "E9542", "E9543", "E9544", "--", str(EVENTS)]) == 0
    capsys.readouterr()


def test_main_warning_only_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.read_text(encoding="utf-8").replace("HttpTokens: required", "HttpTokens: optional")
    path = tmp_path / "imdsv1.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["--format", "parseable", "--", str(path)]) == 4
    assert ":W9560:" in capsys.readouterr().out


def test_python_m_cfgen_lint() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cfgen", "lint", "--format", "parseable", str(EVENTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT / "tests",
    )
    assert done.returncode == 2, done.stderr
    assert ":E9540:" in done.stdout


@pytest.mark.skipif(CFN_LINT is None, reason="cfn-lint console script not installed")
def test_plain_cfn_lint_at_the_repo_root_reads_cfnlintrc() -> None:
    done = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", str(EVENTS.relative_to(ROOT))],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert ":E9540:" in done.stdout, done.stdout + done.stderr


@pytest.mark.skipif(CFN_LINT is None, reason="cfn-lint console script not installed")
@pytest.mark.parametrize("rules", ["cfgen.lint.rules", str(ROOT / "src/cfgen/lint/rules")])
def test_plain_cfn_lint_append_rules(rules: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(CFN_LINT), "--append-rules", rules, "--format", "parseable", str(EVENTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,  # no .cfnlintrc here
    )
    assert ":E9540:" in done.stdout, done.stdout + done.stderr


def test_e9050_metric_names_from_cfnlintrc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".cfnlintrc").write_text(
        "configure_rules:\n  E9550:\n    metric_names: [Foo, Bar]\n", encoding="utf-8"
    )
    assert main(["--format", "parseable", "--", str(GOOD)]) == 2
    assert ":E9550:AWS/Batch publishes no metric JobsMovedToFailed" in capsys.readouterr().out


def test_e9050_extra_metric_names_extend_the_documented_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = FIXTURES / "bad" / "monitoring.yaml"
    assert main(["--format", "parseable", "--", str(bad)]) & 2  # cfn-lint: bit 2 = errors
    assert "publishes no metric JobsFailed" in capsys.readouterr().out
    (tmp_path / ".cfnlintrc").write_text(
        "configure_rules:\n  E9550:\n    extra_metric_names: [JobsFailed]\n", encoding="utf-8"
    )
    main(["--format", "parseable", "--", str(bad)])
    out = capsys.readouterr().out
    assert "publishes no metric JobsFailed" not in out
    assert "publishes no metric FailedJobCount" in out  # documented list still applies


def test_e9050_metric_name_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--format", "parseable", "-x", "E9550:metric_names=JobsRetried", "--", str(GOOD)]
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert "publishes no metric JobsMovedToFailed" in out
    assert "publishes no metric JobsRetried" not in out


def test_python_m_cfgen_lint_with_only_file_arguments(tmp_path: Path) -> None:
    # The documented form, no option before the files: cfn-lint's --append-rules
    # takes several values and must not swallow the template paths.
    done = subprocess.run(
        [sys.executable, "-m", "cfgen", "lint", str(EVENTS), str(GOOD)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "E9540" in done.stdout
    assert "Traceback" not in done.stderr
    clean = subprocess.run(
        [sys.executable, "-m", "cfgen", "lint", str(ROOT / "build" / "cloudformation.yaml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_old_ids_are_accepted_for_one_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-i E9040 (the old id of E9540) still ignores it, with a deprecation note."""
    old = ["E9040", "E9041", "E9042", "E9043", "E9044"]
    assert main(["-i", *old, "--", str(EVENTS)]) == 0
    err = capsys.readouterr().err
    assert "E9040 names an old cfgen rule id" in err
    assert "E9540" in err


def test_old_id_in_template_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = EVENTS.read_text(encoding="utf-8")
    meta = "Metadata:\n  cfn-lint:\n    config:\n      ignore_checks: [E9040, E9041, E9042, E9043, E9044]\n"
    path = tmp_path / "meta.yaml"
    path.write_text(meta + text, encoding="utf-8")
    assert main(["--format", "parseable", "--", str(path)]) == 0
    capsys.readouterr()


def test_quickstart_pack_ids_do_not_silence_cfgen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Quick Start template silencing the qs pack's W9003 keeps cfgen's W9503."""
    text = (FIXTURES / "bad" / "compute.yaml").read_text(encoding="utf-8")
    meta = "Metadata:\n  cfn-lint:\n    config:\n      ignore_checks: [W9003, W9005, E9007]\n"
    path = tmp_path / "qs.yaml"
    path.write_text(meta + text, encoding="utf-8")
    main(["--format", "parseable", "--", str(path)])
    out = capsys.readouterr().out
    assert ":W9503:" in out
    assert ":W9505:" in out
    assert ":E9507:" in out
