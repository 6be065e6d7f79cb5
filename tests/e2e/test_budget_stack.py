"""The budget stack (build/budget.yaml) deploys as docs/deploy.md says, and is deleted.

The emulator accepts AWS::Budgets::Budget in CloudFormation without creating a
budget (docs/moto-notes.md), so this checks the documented create-stack command
and the template's parameters and rule inputs, not the budget's notifications
(those are render-and-inspect tests in tests/test_profiles.py).
"""

from __future__ import annotations

import pytest
from e2e_support import REPO, Emulator

pytestmark = pytest.mark.e2e


def test_budget_stack_creates_and_deletes(emulator: Emulator) -> None:
    stack = "cfgen-e2e-budget"
    emulator.aws(
        "cloudformation",
        "create-stack",
        "--stack-name",
        stack,
        "--template-body",
        f"file://{REPO / 'build' / 'budget.yaml'}",
        "--parameters",
        "ParameterKey=BatchStackName,ParameterValue=batch",
        "ParameterKey=MonthlyBudgetUsd,ParameterValue=500",
        "ParameterKey=AlertEmail,ParameterValue=me@example.com",
    )
    emulator.aws("cloudformation", "wait", "stack-create-complete", "--stack-name", stack)
    (desc,) = emulator.aws("cloudformation", "describe-stacks", "--stack-name", stack)["Stacks"]
    assert desc["StackStatus"] == "CREATE_COMPLETE"
    params = {p["ParameterKey"]: p["ParameterValue"] for p in desc["Parameters"]}
    assert params["BatchStackName"] == "batch" and params["AlertTopicArn"] == ""
    emulator.aws("cloudformation", "delete-stack", "--stack-name", stack)
    emulator.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)
