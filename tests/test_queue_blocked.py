"""Blocked queues: the "Batch Job Queue Blocked" alert and the RUNNABLE time-limit actions."""

from __future__ import annotations

from typing import Any

import pytest

from cfgen.config import list_profiles, load_profile
from cfgen.lint.rules.fit import TIME_LIMIT_REASONS
from cfgen.monitoring import QUEUE_BLOCKED_FIX
from cfgen.preflight.catalogue import explain
from cfgen.render import to_data

Data = dict[str, Any]


@pytest.fixture(scope="module", params=list_profiles())
def data(request: pytest.FixtureRequest) -> Data:
    rendered: Data = to_data(load_profile(request.param))
    return rendered


def test_blocked_queue_events_of_this_queue_go_to_the_alert_topic(data: Data) -> None:
    rule = data["Resources"]["JobQueueBlockedRule"]["Properties"]
    # Exact event shape: batch-job-queue-blocked-events.html
    assert rule["EventPattern"] == {
        "source": ["aws.batch"],
        "detail-type": ["Batch Job Queue Blocked"],
        "detail": {"jobQueue": [{"Ref": "JobQueue"}]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "AlertTopic"}
    xf = target["InputTransformer"]
    assert xf["InputPathsMap"]["reason"] == "$.detail.statusReason"
    template = xf["InputTemplate"]["Fn::Sub"]
    assert "<reason>" in template and "Fix:" in template


def test_topic_policy_admits_the_blocked_rule(data: Data) -> None:
    policy = data["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]
    events = next(
        s for s in policy["Statement"] if s["Principal"]["Service"] == ["events.amazonaws.com"]
    )
    arns = events["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert {"Fn::GetAtt": ["JobQueueBlockedRule", "Arn"]} in arns


def test_alert_fix_names_every_documented_blocking_reason() -> None:
    for reason in (
        *TIME_LIMIT_REASONS,
        "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS",
        "ACTION_REQUIRED",
    ):
        assert reason in QUEUE_BLOCKED_FIX
        # ... and doctor knows each of them too.
        message = reason + " - CE(s) associated with the job queue are invalid."
        assert explain(message) is not None, reason


def test_time_limit_actions_cover_every_reason_batch_allows(data: Data) -> None:
    actions = data["Resources"]["JobQueue"]["Properties"]["JobStateTimeLimitActions"]
    assert {a["Reason"] for a in actions} == set(TIME_LIMIT_REASONS)
    assert {(a["State"], a["Action"]) for a in actions} == {("RUNNABLE", "CANCEL")}
