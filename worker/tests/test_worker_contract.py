"""The exit-code contract: spotworker.exitcodes == the job definition's RetryStrategy.

Batch evaluates EvaluateOnExit rules in order; a rule matches when all of its
patterns match (``*`` only at the end); the first match decides RETRY or EXIT.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

import pytest
import yaml
from spotworker import exitcodes
from swtestlib import REPO_ROOT

BUILD = REPO_ROOT / "build"
# The default template first (named in the issue), then every other rendered profile.
# budget.yaml is the budget stack: no job definition.
OTHERS = sorted(
    p.name for p in BUILD.glob("*.yaml") if p.name not in ("cloudformation.yaml", "budget.yaml")
)
TEMPLATES = ["cloudformation.yaml", *OTHERS]
CONTRACT = REPO_ROOT / "docs" / "CONTRACT.md"


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (!Ref, !Sub, ...) as plain data."""


def _short_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    return {name: value}


CfnLoader.add_multi_constructor("!", _short_tag)


def evaluate(
    rules: list[dict[str, Any]], *, exit_code: int | None, reason: str, status: str
) -> str:
    """The action Batch takes for an attempt that ended like this (None: no rule matched)."""
    for rule in rules:
        checks = {
            "OnExitCode": "" if exit_code is None else str(exit_code),
            "OnReason": reason,
            "OnStatusReason": status,
        }
        patterns = {k: str(v) for k, v in rule.items() if k in checks}
        if patterns and all(fnmatchcase(checks[k], p) for k, p in patterns.items()):
            return str(rule["Action"]).upper()
    return "NONE"


def job_definition(name: str) -> dict[str, Any]:
    template = BUILD / name
    if not template.exists():
        pytest.skip(f"build/{name} is not rendered yet (the generator's job)")
    doc = yaml.load(template.read_text(encoding="utf-8"), Loader=CfnLoader)
    resource: dict[str, Any] = doc["Resources"]["WorkerJobDefinition"]
    assert resource["Type"] == "AWS::Batch::JobDefinition"
    return resource


def test_loader_reads_short_tags() -> None:
    doc = yaml.load("A: !Ref B\nC: !Sub 'x-${D}'\nE: !GetAtt [F, Arn]\n", Loader=CfnLoader)
    assert doc == {"A": {"Ref": "B"}, "C": {"Fn::Sub": "x-${D}"}, "E": {"Fn::GetAtt": ["F", "Arn"]}}


@pytest.mark.parametrize("name", TEMPLATES)
def test_retry_strategy_matches_exit_codes(name: str) -> None:
    strategy = job_definition(name)["Properties"]["RetryStrategy"]
    rules = strategy["EvaluateOnExit"]
    assert 1 <= len(rules) <= 5  # Batch's limit
    retried = {
        int(r["OnExitCode"]) for r in rules if "OnExitCode" in r and r["Action"].upper() == "RETRY"
    }
    assert retried == set(exitcodes.RETRYABLE)
    assert rules[-1] == {"OnReason": "*", "Action": "EXIT"}
    container_exit = "Essential container in task exited"
    for code in exitcodes.RETRYABLE:
        assert (
            evaluate(rules, exit_code=code, reason=container_exit, status=container_exit) == "RETRY"
        )
    for code in {*exitcodes.PERMANENT, 1, 137}:  # and a crash, and a SIGKILL by the OOM killer
        assert (
            evaluate(rules, exit_code=code, reason=container_exit, status=container_exit) == "EXIT"
        )
    # The capacity was reclaimed (Spot): no exit code at all, retried.
    reclaim = (
        "Your Spot Task was interrupted."
        if "fargate" in name
        else "Host EC2 (instance i-0abc) terminated."
    )
    assert evaluate(rules, exit_code=None, reason=reclaim, status=reclaim) == "RETRY"
    # A transient start failure (no exit code; the error class is in the reason).
    for reason in (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
        "DockerTimeoutError: Could not transition to started; timed out after waiting 3m0s",
        "ResourceInitializationError: unable to pull secrets or registry auth",
    ):
        assert (
            evaluate(rules, exit_code=None, reason=reason, status="Task failed to start") == "RETRY"
        ), reason
    attempts = strategy["Attempts"]
    assert attempts == {"Ref": "JobAttempts"} or (isinstance(attempts, int) and attempts >= 2)


@pytest.mark.parametrize("name", TEMPLATES)
def test_job_definition_environment_matches_worker(name: str) -> None:
    props = job_definition(name)["Properties"]
    env = {e["Name"]: e["Value"] for e in props["ContainerProperties"].get("Environment", [])}
    for var in (
        "CFGEN_DATA_BUCKET",
        "CFGEN_INPUT_PREFIX",
        "CFGEN_OUTPUT_PREFIX",
        "CFGEN_CHECKPOINT_PREFIX",
        "CFGEN_DEADLETTER_PREFIX",
        "TMPDIR",
    ):
        assert var in env, var
    assert env["TMPDIR"] == "/scratch"


def test_contract_doc_table_matches_exit_codes() -> None:
    """docs/CONTRACT.md's exit-code table says the same as spotworker.exitcodes."""
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split("## Exit codes and retries", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*(\d+)\s*\|[^|]*\|\s*([A-Z\u2013-]+)\s*\|", section, flags=re.M)
    table = {int(code): action for code, action in rows}
    assert {c for c, a in table.items() if a == "RETRY"} == set(exitcodes.RETRYABLE)
    assert table[exitcodes.SUCCESS] != "RETRY"
    rules = re.findall(r'^\d\. `(On\w+): "([^"]+)"` → (RETRY|EXIT)', section, flags=re.M)
    as_rules = [{kind: value, "Action": action} for kind, value, action in rules]
    assert as_rules[-1] == {"OnReason": "*", "Action": "EXIT"}
    assert {int(r["OnExitCode"]) for r in as_rules if "OnExitCode" in r} == set(exitcodes.RETRYABLE)
