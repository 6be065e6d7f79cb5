"""The escalation state machine's decision, executed by the emulator's ASL engine.

moto executes Step Functions state machines (its port of LocalStack's ASL
interpreter, switched on with the ``stepfunctions.execute_state_machine``
config), but it cannot run the optimized ``batch:submitJob.sync`` task: it
hands the PascalCase task parameters to botocore unchanged, and botocore's
serializer rejects them (KeyError 'JobName'; docs/moto-notes.md). Nor can
moto's Batch end a job with a Spot reclaim's status reason.

So the rendered definition (build/shared-team.yaml) runs with one change: each
Batch task becomes a Pass state with the *same* Parameters, ResultPath and
transition, so the engine evaluates exactly what would be submitted. The Spot
task's failure is replayed from a recorded error: its Cause is the failed job's
DescribeJobs description as a JSON string (PascalCase keys, as the .sync
integration reports it), with the status reason Batch gives a reclaimed
attempt. The execution starts at ReadFailure with that error as $.spotError.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import Emulator

from cfgen.config import load_profile
from cfgen.render import to_data

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
SPOT_QUEUE = f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/JobQueue-spot"
ON_DEMAND_QUEUE = f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/EscalationJobQueue-od"
JOB_DEFINITION = f"arn:aws:batch:us-east-1:{ACCOUNT}:job-definition/WorkerJobDefinition-x:1"
#: Status reasons of a failed job: a Spot reclaim, and a failure of the job itself.
#: https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html
RECLAIM = "Host EC2 (instance i-0123456789abcdef0) terminated."
APP_FAILURE = "Essential container in task exited"
JOB_INPUT = {
    "jobName": "shard-7",
    "containerOverrides": {"Environment": [{"Name": "SHARD", "Value": "7"}]},
    "shareIdentifier": "analytics",
}


def _recorded_failure(reason: str) -> dict[str, str]:
    """The error a failed submitJob.sync task reports: States.TaskFailed + the job."""
    job = {
        "JobName": "shard-7",
        "JobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
        "JobQueue": SPOT_QUEUE,
        "Status": "FAILED",
        "StatusReason": reason,
        "Attempts": [{"StatusReason": reason} for _ in range(5)],
    }
    return {"Error": "States.TaskFailed", "Cause": json.dumps(job)}


def _definition(profile: str = "shared-team") -> dict[str, Any]:
    """The rendered state machine, Sub variables filled in, Batch tasks as Pass states."""
    props = to_data(load_profile(profile))["Resources"]["EscalationStateMachine"]["Properties"]
    text, _variables = props["DefinitionString"]["Fn::Sub"]
    values = {
        "AWS::Partition": "aws",
        "SpotQueue": SPOT_QUEUE,
        "OnDemandQueue": ON_DEMAND_QUEUE,
        "JobDefinition": JOB_DEFINITION,
    }
    doc: dict[str, Any] = json.loads(
        re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], str(text))
    )
    for name, state in doc["States"].items():
        if state["Type"] == "Task":
            assert state["Resource"] == "arn:aws:states:::batch:submitJob.sync", name
            doc["States"][name] = {
                "Type": "Pass",
                "Parameters": state["Parameters"],
                "ResultPath": state["ResultPath"],
                **({"End": True} if state.get("End") else {"Next": state["Next"]}),
            }
    return doc


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    emu = Emulator(tmp_path_factory.mktemp("sfn"))
    emu.start()
    try:
        request = urllib.request.Request(
            emu.endpoint + "/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()
        yield emu.client("stepfunctions")
    finally:
        emu.stop()


def _execute(sfn: Any, reason: str, name: str) -> tuple[dict[str, Any], list[str]]:
    doc = _definition()
    doc["StartAt"] = "ReadFailure"
    machine = sfn.create_state_machine(
        name=name,
        definition=json.dumps(doc),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/EscalationRole",
    )["stateMachineArn"]
    execution = sfn.start_execution(
        stateMachineArn=machine,
        name=name,
        input=json.dumps({**JOB_INPUT, "spotError": _recorded_failure(reason)}),
    )["executionArn"]
    deadline = time.monotonic() + 60
    while True:
        out: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if out["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    events = sfn.get_execution_history(executionArn=execution)["events"]
    visited = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    return out, visited


def test_a_job_that_reclaims_ended_is_submitted_again_on_demand_with_the_same_inputs(
    sfn: Any,
) -> None:
    out, visited = _execute(sfn, RECLAIM, "reclaimed")
    assert out["status"] == "SUCCEEDED", out
    assert visited == ["ReadFailure", "WasReclaimed", "RunOnDemand"]
    submitted = json.loads(out["output"])["onDemand"]
    assert submitted == {
        "JobName": JOB_INPUT["jobName"],
        "JobQueue": ON_DEMAND_QUEUE,
        "JobDefinition": JOB_DEFINITION,
        "ContainerOverrides": JOB_INPUT["containerOverrides"],
    }  # no ShareIdentifier: the escalation queue is FIFO and would reject one


def test_any_other_failure_ends_the_execution_without_a_second_run(sfn: Any) -> None:
    out, visited = _execute(sfn, APP_FAILURE, "app-failure")
    assert out["status"] == "FAILED", out
    assert visited == ["ReadFailure", "WasReclaimed", "FailedOnSpot"]
    assert out.get("error") == "JobFailed"


def test_the_spot_submission_carries_the_share_identifier() -> None:
    # Evaluated by the same engine in the first test for the On-Demand task;
    # here the Spot task's bindings, read from the rendered document.
    spot = _definition()["States"]["RunOnSpot"]["Parameters"]
    assert spot["JobQueue"] == SPOT_QUEUE
    assert spot["ShareIdentifier.$"] == "$.shareIdentifier"
    assert spot["ContainerOverrides.$"] == "$.containerOverrides"


# --------------------------------------------------------------------------- submit-job.sh --escalate

_STACK = {
    "Resources": {
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/EscalationRole",
                "DefinitionString": '{"StartAt":"Wait","States":{"Wait":{"Type":"Wait",'
                '"Seconds":3600,"End":true}}}',
            },
        }
    },
    "Outputs": {"EscalationStateMachineArn": {"Value": {"Ref": "Machine"}}},
}


def test_submit_job_escalate_starts_an_execution_with_the_jobs_inputs(
    emulator: Emulator,
) -> None:
    # A stack with just the output the script reads (the full shared-team
    # stack deploys in test_profiles_e2e.py); moto records the execution's input.
    emulator.aws(
        "cloudformation",
        "create-stack",
        "--stack-name",
        "cfgen-escalate",
        "--template-body",
        json.dumps(_STACK),
    )
    try:
        _submit_and_check(emulator)
    finally:
        emulator.aws("cloudformation", "delete-stack", "--stack-name", "cfgen-escalate")


def _submit_and_check(emulator: Emulator) -> None:
    from e2e_support import explain, script

    proc = script(
        "submit-job.sh",
        "--stack-name",
        "cfgen-escalate",
        "--escalate",
        "--job-name",
        "shard-7",
        "--share-id",
        "analytics",
        "--env",
        "SHARD=7",
        env=emulator.env,
    )
    assert proc.returncode == 0, explain(proc)
    execution = proc.stdout.strip()
    assert execution.startswith("arn:aws:states:") and execution.endswith(":shard-7"), execution
    described = emulator.aws("stepfunctions", "describe-execution", "--execution-arn", execution)
    assert json.loads(described["input"]) == JOB_INPUT

    proc = script("submit-job.sh", "--stack-name", "cfgen-escalate", env=emulator.env)
    assert proc.returncode == 1
    assert "has no output JobQueueArn" in proc.stderr
