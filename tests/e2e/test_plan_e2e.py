"""Change sets on the emulator: the AWS CLI, `cfgen plan`, and deploy.sh's approval flow.

Everything goes through the real AWS CLI / boto3 against moto in server mode
(scripts/local-aws.sh). What moto's change sets lack (Replacement, Details,
parameter-only changes, jobs in flight) is covered by tests/test_plan.py on a
scripted endpoint; docs/moto-notes.md lists the gaps this file holds.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from e2e_support import REPO, SCRIPTS, Emulator, explain, run, script

pytestmark = pytest.mark.e2e

TEMPLATE = REPO / "tests" / "e2e" / "fixtures" / "data-stack.yaml"


def _params(emulator: Emulator, stack: str) -> dict[str, str]:
    out = emulator.aws("cloudformation", "describe-stacks", "--stack-name", stack)
    return {p["ParameterKey"]: p["ParameterValue"] for p in out["Stacks"][0]["Parameters"]}


def _change_sets(emulator: Emulator, stack: str) -> list[dict[str, str]]:
    # moto's ListChangeSets lists every stack's change sets (docs/moto-notes.md).
    listed = emulator.aws("cloudformation", "list-change-sets", "--stack-name", stack)
    return [c for c in listed["Summaries"] if c["StackName"] == stack]


def _template_body(emulator: Emulator, stack: str) -> str:
    return str(
        emulator.aws("cloudformation", "get-template", "--stack-name", stack)["TemplateBody"]
    )


def test_change_set_calls_through_the_aws_cli(emulator: Emulator) -> None:
    """What moto answers (docs/moto-notes.md, "Change sets")."""
    stack = "cfgen-cs-cli"
    made = emulator.aws(
        "cloudformation", "create-change-set", "--stack-name", stack,
        "--change-set-name", "first", "--change-set-type", "CREATE",
        "--template-body", f"file://{TEMPLATE}", "--capabilities", "CAPABILITY_IAM",
        "--parameters", "ParameterKey=RepositoryName,ParameterValue=cs-cli-a",
    )  # fmt: skip
    status = emulator.aws("cloudformation", "describe-stacks", "--stack-name", stack)
    assert status["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    desc = emulator.aws("cloudformation", "describe-change-set", "--change-set-name", made["Id"])
    assert desc["Status"] == "CREATE_COMPLETE"
    changes = sorted(
        (c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
        for c in desc["Changes"]
    )
    assert changes == [("Add", "DataBucket"), ("Add", "Repository")]
    # moto's gap: no Replacement / Details on any change.
    assert all("Replacement" not in c["ResourceChange"] for c in desc["Changes"])

    emulator.aws("cloudformation", "execute-change-set", "--change-set-name", made["Id"])
    stacks = emulator.aws("cloudformation", "describe-stacks", "--stack-name", stack)["Stacks"]
    assert stacks[0]["StackStatus"] == "CREATE_COMPLETE"
    # scripts/local_aws.py's fix: outputs after an executed change set.
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0]["Outputs"]}
    assert outputs["RepositoryName"] == "cs-cli-a"

    # An unchanged update: moto refuses it in CreateChangeSet itself.
    proc = run(
        ["aws", "cloudformation", "create-change-set", "--stack-name", stack,
         "--change-set-name", "same", "--change-set-type", "UPDATE",
         "--template-body", f"file://{TEMPLATE}",
         "--parameters", "ParameterKey=RepositoryName,UsePreviousValue=true"],
        emulator.env,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "No updates are to be performed" in proc.stderr

    # A change set that is deleted is gone; the stack is untouched.
    other = emulator.aws(
        "cloudformation", "create-change-set", "--stack-name", stack,
        "--change-set-name", "second", "--change-set-type", "UPDATE",
        "--template-body", f"file://{TEMPLATE}",
        "--parameters", "ParameterKey=RepositoryName,ParameterValue=cs-cli-b",
    )  # fmt: skip
    emulator.aws("cloudformation", "delete-change-set", "--change-set-name", other["Id"])
    assert "second" not in [c["ChangeSetName"] for c in _change_sets(emulator, stack)]
    assert _params(emulator, stack) == {"RepositoryName": "cs-cli-a"}
    assert script("destroy.sh", "--stack-name", stack, env=emulator.env).returncode == 0


def _plan(emulator: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "cfgen", "plan", *args], emulator.env)


def test_plan_creates_and_deletes_its_change_set_and_never_executes_it(
    emulator: Emulator,
) -> None:
    stack = "cfgen-plan-e2e"
    # A plan for a stack that does not exist: a CREATE change set, then nothing left.
    proc = _plan(emulator, "--stack", stack, "--template", str(TEMPLATE), "RepositoryName=p-a")
    assert proc.returncode == 0, explain(proc)
    assert "CREATE change set" in proc.stdout
    assert "add     DataBucket" in proc.stdout
    listed = emulator.aws("cloudformation", "list-stacks")["StackSummaries"]
    assert [s["StackStatus"] for s in listed if s["StackName"] == stack] == ["DELETE_COMPLETE"]

    deploy = script(
        "deploy.sh", "--stack-name", stack, "--template", str(TEMPLATE), "RepositoryName=p-a",
        env=emulator.env,
    )  # fmt: skip
    assert deploy.returncode == 0, explain(deploy)
    before = _template_body(emulator, stack)

    # A replacement (RepositoryName is create-only): exit 1, JSON says so.
    proc = _plan(
        emulator, "--stack", stack, "--template", str(TEMPLATE), "--format", "json",
        "RepositoryName=p-b",
    )  # fmt: skip
    assert proc.returncode == 1, explain(proc)
    data = json.loads(proc.stdout)
    (repo,) = (r for r in data["resources"] if r["logical_id"] == "Repository")
    assert repo["action"] == "replace"
    assert repo["cfgen"] == "REPLACE create-only RepositoryName changed"
    # moto lists no parameter-only change: the plan says the views disagree.
    assert repo["cloudformation"] == "-"
    assert "does not list it" in repo["disagreement"]
    # Never executed, and deleted.
    assert _params(emulator, stack) == {"RepositoryName": "p-a"}
    assert _template_body(emulator, stack) == before
    assert not [
        c for c in _change_sets(emulator, stack) if c["ChangeSetName"].startswith("cfgen-plan-")
    ]

    # --keep leaves it for inspection.
    proc = _plan(
        emulator, "--stack", stack, "--template", str(TEMPLATE), "--keep", "RepositoryName=p-c"
    )
    assert proc.returncode == 1, explain(proc)
    kept = [
        c for c in _change_sets(emulator, stack) if c["ChangeSetName"].startswith("cfgen-plan-")
    ]
    assert len(kept) == 1 and kept[0]["ExecutionStatus"] == "AVAILABLE"
    assert f"kept change set {kept[0]['ChangeSetName']}" in proc.stderr
    assert _params(emulator, stack) == {"RepositoryName": "p-a"}

    # No change at all: a no-op plan, exit 0.
    proc = _plan(emulator, "--stack", stack, "--template", str(TEMPLATE))
    assert proc.returncode == 0, explain(proc)
    assert "Summary: no changes" in proc.stdout
    assert script("destroy.sh", "--stack-name", stack, env=emulator.env).returncode == 0


def _deploy_on_a_terminal(env: dict[str, str], answer: str, *args: str) -> tuple[int, str]:
    """deploy.sh with a pseudo-terminal on stdin that types ANSWER at the prompt."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(SCRIPTS / "deploy.sh"), *args],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO,
    )  # fmt: skip
    os.close(slave)
    try:
        stderr = b""
        deadline = time.monotonic() + 120
        # Wait for the prompt on stderr, then answer on the terminal.
        assert proc.stderr is not None
        while b"[y/N]" not in stderr and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 1)
            if ready:
                chunk = os.read(proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                stderr += chunk
        os.write(master, answer.encode() + b"\n")
        _out, rest = proc.communicate(timeout=120)
        return proc.returncode, (stderr + rest).decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_deploy_asks_for_approval_and_a_refusal_leaves_the_stack_untouched(
    emulator: Emulator,
) -> None:
    stack = "cfgen-approve"
    env = emulator.env
    base = ("--stack-name", stack, "--template", str(TEMPLATE))

    # First creation goes through a CREATE change set; a refused one leaves no stack.
    refused = script(*("deploy.sh", *base), "--require-approval", "any-change",
                     "RepositoryName=ap-a", env=env)  # fmt: skip
    assert refused.returncode == 3, explain(refused)
    assert "creating CREATE change set cfgen-deploy-" in refused.stderr
    assert "there is no terminal to ask" in refused.stderr
    gone = run(["aws", "cloudformation", "describe-stacks", "--stack-name", stack], env)
    assert gone.returncode != 0 and "does not exist" in gone.stderr

    created = script(*("deploy.sh", *base), "RepositoryName=ap-a", env=env)  # default: replacement
    assert created.returncode == 0, explain(created)
    assert "CREATE change set" in created.stderr and "Plan for stack" in created.stderr
    assert "RepositoryName\tap-a" in created.stdout
    before = _template_body(emulator, stack)

    # A replacement, without a terminal: refused, change set deleted, stack unchanged.
    refused = script(*("deploy.sh", *base), "RepositoryName=ap-b", env=env)
    assert refused.returncode == 3, explain(refused)
    assert "replace  Repository" in refused.stderr
    assert "not approved: deleted change set cfgen-deploy-" in refused.stderr
    assert _params(emulator, stack) == {"RepositoryName": "ap-a"}
    assert _template_body(emulator, stack) == before
    assert [c["ChangeSetName"] for c in _change_sets(emulator, stack)
            if c["ExecutionStatus"] == "AVAILABLE"] == []  # fmt: skip

    # On a terminal: "n" refuses...
    code, stderr = _deploy_on_a_terminal(env, "n", *base, "RepositoryName=ap-b")
    assert code == 3, stderr
    assert "Execute change set cfgen-deploy-" in stderr
    assert _params(emulator, stack) == {"RepositoryName": "ap-a"}
    # ...and "y" executes exactly the change set shown.
    code, stderr = _deploy_on_a_terminal(env, "y", *base, "RepositoryName=ap-b")
    assert code == 0, stderr
    shown = stderr.split("Plan for stack ")[1].split(" change set ")[1].split(";")[0]
    assert f"executing change set {shown} on stack {stack}" in stderr
    executed = [c for c in _change_sets(emulator, stack) if c["ChangeSetName"] == shown]
    assert executed and executed[0]["ExecutionStatus"] == "EXECUTE_COMPLETE"
    assert _params(emulator, stack) == {"RepositoryName": "ap-b"}

    # --require-approval never approves a non-interactive run.
    done = script(*("deploy.sh", *base), "--require-approval", "never",
                  "RepositoryName=ap-c", env=env)  # fmt: skip
    assert done.returncode == 0, explain(done)
    assert _params(emulator, stack) == {"RepositoryName": "ap-c"}
    assert script("destroy.sh", "--stack-name", stack, env=env).returncode == 0
