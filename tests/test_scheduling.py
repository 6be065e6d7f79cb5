"""Issue 19: several queues, fair share, escalation: profile validation and the rendered template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cfgen.config import ConfigError, load_profile
from cfgen.render import to_data

QUEUE = '[[scheduling.queues]]\nname = "main"\npriority = 1\ncompute = ["spot", "on-demand"]\n'


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


#: templates/shared-team.toml plus an urgent FIFO queue and the retry alarms (left
#: out of the shipped profile to keep it under --template-body's 51,200 bytes).
URGENT = """
[[scheduling.queues]]
name = "urgent"
priority = 10
compute = ["spot"]
runnable_timeout_seconds = 900
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from cfgen.config import templates_dir

    text = (templates_dir() / "shared-team.toml").read_text(encoding="utf-8")
    text = text.replace("retry_alarm = false", "retry_alarm = true") + URGENT
    path = tmp_path_factory.mktemp("profiles") / "shared-team-urgent.toml"
    path.write_text(text, encoding="utf-8")
    return to_data(load_profile(str(path)))


# --------------------------------------------------------------------------- validation

BAD = [
    (QUEUE + 'shares = { "team-a" = 1.0 }\n', "scheduling.queues[0].shares='team-a'", "letters and digits"),
    (QUEUE + 'shares = { "a" = 1000 }\n', "scheduling.queues[0].shares.a=1000", "0.0001 and 999.9999"),
    (QUEUE + 'shares = { "a" = 0 }\n', "shares.a=0", "weight factor"),
    (QUEUE + 'shares = { "userA*" = 1, "userA1" = 2 }\n', "'userA1': overlaps the prefix 'userA*'", "overlap"),
    (QUEUE + "shares = {}\n", "scheduling.queues[0].shares={}", "share identifier"),
    (QUEUE + 'shares = { "a" = 1 }\nshare_decay_seconds = 604801\n', "share_decay_seconds=604801", "0 and 604800"),
    (QUEUE + 'shares = { "a" = 1 }\ncompute_reservation = 100\n', "compute_reservation=100", "0 and 99"),
    ('[scheduling]\njob_scheduling_priority = 10000\n', "scheduling.job_scheduling_priority=10000", "0 and 9999"),
    (QUEUE.replace("priority = 1", "priority = 0"), "scheduling.queues[0].priority=0", "1 and 1000"),
    (QUEUE.replace('["spot", "on-demand"]', '["on-demand"]'), "must start on Spot", "escalate_to_on_demand"),
    (QUEUE.replace('["spot", "on-demand"]', '["spot", "spot"]'), "twice", "compute"),
    (QUEUE.replace('["spot", "on-demand"]', '["fargate"]'), "renders only spot, on-demand", "compute"),
    (QUEUE + QUEUE, "scheduling.queues[1].name='main'", "share a name"),
    (QUEUE.replace('"main"', '"Main"'), "scheduling.queues[0].name='Main'", "lower-case"),
    (QUEUE + "color = 1\n", "scheduling.queues[0].color=1", "unknown key"),
    ('[compute]\non_demand_fallback = false\n[scheduling]\nescalate_to_on_demand = true\n',
     "scheduling.escalate_to_on_demand=True", "on_demand_fallback"),
    ('[scheduling]\nqueues = ["a"]\n', "scheduling.queues=['a']", "list of tables"),
    ('[scheduling]\nescalate_after_attempts = 11\n', "scheduling.escalate_after_attempts=11", "1 and 10"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field", "rule"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_scheduling_is_one_precise_line(
    tmp_path: Path, text: str, field: str, rule: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_profile(write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message
    assert field in message and rule in message, message


def test_bad_scheduling_on_the_command_line_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, QUEUE + 'shares = { "a" = 1000 }\n')
    out = tmp_path / "out.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "cfgen", "--profile", path, "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "shares.a=1000" in result.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- rendering


def test_no_declared_queues_is_the_one_queue_of_before() -> None:
    data = to_data(load_profile("default"))
    queues = [k for k, v in data["Resources"].items() if v["Type"] == "AWS::Batch::JobQueue"]
    assert queues == ["JobQueue"]
    assert "SchedulingPriority" not in data["Resources"]["WorkerJobDefinition"]["Properties"]
    assert not [v for v in data["Resources"].values() if "StepFunctions" in v["Type"]]


def test_queues_have_their_priority_compute_and_stuck_job_actions(shared: dict[str, Any]) -> None:
    res = shared["Resources"]
    urgent = res["UrgentJobQueue"]["Properties"]
    assert urgent["Priority"] == 10
    assert [e["ComputeEnvironment"]["Ref"] for e in urgent["ComputeEnvironmentOrder"]] == [
        "SpotComputeEnvironment"
    ]
    assert urgent["JobStateTimeLimitActions"][0]["MaxTimeSeconds"] == 900
    assert "SchedulingPolicyArn" not in urgent
    assert res["JobQueue"]["Properties"]["SchedulingPolicyArn"] == {"Ref": "SchedulingPolicy"}
    # The escalation queue is placed first on the shared On-Demand environment.
    escalation = res["EscalationJobQueue"]
    assert escalation["Condition"] == "HasOnDemandFallback"
    assert escalation["Properties"]["Priority"] == 11
    assert escalation["Properties"]["ComputeEnvironmentOrder"] == [
        {"ComputeEnvironment": {"Ref": "OnDemandComputeEnvironment"}, "Order": 1}
    ]


def test_fair_share_policy_and_job_priority(shared: dict[str, Any]) -> None:
    policy = shared["Resources"]["SchedulingPolicy"]["Properties"]["FairsharePolicy"]
    assert policy["ShareDecaySeconds"] == 3600
    assert policy["ComputeReservation"] == 10
    assert {s["ShareIdentifier"]: s["WeightFactor"] for s in policy["ShareDistribution"]} == {
        "analytics": 0.5,
        "research": 1.0,
        "adhoc*": 4.0,
    }
    assert "Name" not in shared["Resources"]["SchedulingPolicy"]["Properties"]
    job = shared["Resources"]["WorkerJobDefinition"]["Properties"]
    assert job["SchedulingPriority"] == 100


def test_failure_rule_and_retry_alarms_cover_every_queue(shared: dict[str, Any]) -> None:
    res = shared["Resources"]
    queues = res["JobFailedRule"]["Properties"]["EventPattern"]["detail"]["jobQueue"]
    assert queues == [
        {"Ref": "JobQueue"},
        {"Ref": "UrgentJobQueue"},
        {"Fn::If": ["HasOnDemandFallback", {"Ref": "EscalationJobQueue"}, {"Ref": "AWS::NoValue"}]},
    ]
    # One alarm per queue that starts on Spot (the metrics are per queue).
    alarms = {k for k, v in res.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == {"RetryRateAlarm", "UrgentRetryRateAlarm"}
    dims = res["UrgentRetryRateAlarm"]["Properties"]["Metrics"][0]["MetricStat"]["Metric"][
        "Dimensions"
    ]
    # The queue's name, cut from its own ARN (not the first queue's).
    assert '{"Ref": "UrgentJobQueue"}' in json.dumps(dims[0]["Value"])
    assert '"JobQueue"' not in json.dumps(dims[0]["Value"])
    policy = res["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    cloudwatch = next(s for s in policy if s["Sid"] == "CloudWatchPublishesRetryAlarm")
    assert cloudwatch["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["RetryRateAlarm", "Arn"]},
        {"Fn::GetAtt": ["UrgentRetryRateAlarm", "Arn"]},
    ]


def test_outputs_name_every_queue_and_the_state_machine(shared: dict[str, Any]) -> None:
    outputs = shared["Outputs"]
    assert outputs["JobQueueArn"]["Value"] == {"Ref": "JobQueue"}
    assert outputs["UrgentJobQueueArn"]["Value"] == {"Ref": "UrgentJobQueue"}
    assert outputs["EscalationJobQueueArn"]["Condition"] == "HasOnDemandFallback"
    assert outputs["EscalationStateMachineArn"]["Value"] == {"Ref": "EscalationStateMachine"}
    assert outputs["EscalationStateMachineArn"]["Condition"] == "HasOnDemandFallback"


def test_escalation_role_submits_only_to_its_two_queues(shared: dict[str, Any]) -> None:
    role = shared["Resources"]["EscalationRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": ["states.amazonaws.com"]
    }
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    submit = next(s for s in statements if s["Action"] == ["batch:SubmitJob"])
    assert submit["Resource"] == [
        {"Ref": "JobQueue"},
        {"Ref": "EscalationJobQueue"},
        {"Ref": "WorkerJobDefinition"},
    ]


def test_the_spot_run_of_an_escalating_job_has_fewer_attempts_same_rules(
    shared: dict[str, Any],
) -> None:
    res = shared["Resources"]
    text = res["EscalationStateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][0]
    spot = json.loads(text)["States"]["RunOnSpot"]["Parameters"]
    job = res["WorkerJobDefinition"]["Properties"]["RetryStrategy"]
    assert spot["RetryStrategy"]["Attempts"] == 3
    assert spot["RetryStrategy"]["EvaluateOnExit"] == job["EvaluateOnExit"]
