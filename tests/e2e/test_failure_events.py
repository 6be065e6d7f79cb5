"""One alert per failed job: JobFailedRule's pattern against recorded Batch events.

Batch sends a "Batch Job State Change" event for every array child and for the
parent (AWS Batch user guide, "Job state change events"); the rendered pattern
leaves out events that carry ``detail.arrayProperties.index`` (children) and
keeps the parent's and those of plain jobs. The rendered pattern is put on an
EventBridge rule of the emulator (through the real AWS CLI) that targets an SQS
queue; events shaped like the guide's examples are sent with PutEvents (moto
cannot run a Batch job that fails), and the queue shows which ones matched.
The emulator implements EventBridge's matching itself: AWS's own engine is not
here; its documented semantics (exists: false matches a missing field) are in
docs/aws-facts.md.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_support import Emulator

from cfgen.config import load_profile
from cfgen.render import to_data

pytestmark = pytest.mark.e2e

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/JobQueue-abc"


def _event(
    job_id: str, status: str, array: dict[str, Any] | None, queue: str = QUEUE
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "jobName": "demo",
        "jobId": job_id,
        "jobQueue": queue,
        "status": status,
        "statusReason": "Essential container in task exited",
        "attempts": [],
    }
    if array is not None:
        detail["arrayProperties"] = array
    return {
        "version": "0",
        "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b",
        "detail-type": "Batch Job State Change",
        "source": "aws.batch",
        "account": "123456789012",
        "time": "2026-12-01T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:batch:us-east-1:123456789012:job/4c7599ae"],
        "detail": detail,
    }


def _pattern() -> str:
    pattern = to_data(load_profile("default"))["Resources"]["JobFailedRule"]["Properties"][
        "EventPattern"
    ]
    # The queue is a Ref in the template; CloudFormation puts the queue's ARN there.
    pattern["detail"]["jobQueue"] = [QUEUE]
    return json.dumps(pattern)


EVENTS = {
    "plain-job": (_event("plain-job", "FAILED", None), True),
    "array-parent": (
        _event("array-parent", "FAILED", {"size": 1000, "statusSummary": {"FAILED": 3}}),
        True,
    ),
    "array-child": (_event("array-parent:7", "FAILED", {"index": 7}), False),
    "succeeded": (_event("succeeded", "SUCCEEDED", None), False),
    "other-queue": (_event("other-queue", "FAILED", None, queue=QUEUE + "-other"), False),
}


def test_failure_rule_alerts_once_per_failed_job(emulator: Emulator) -> None:
    # The queue is the test's own probe: boto3 (this awscli ignores AWS_ENDPOINT_URL for SQS).
    sqs = emulator.client("sqs")
    queue_url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    emulator.aws("events", "put-rule", "--name", "job-failed", "--event-pattern", _pattern())
    emulator.aws(
        "events",
        "put-targets",
        "--rule",
        "job-failed",
        "--targets",
        json.dumps([{"Id": "q", "Arn": queue_arn}]),
    )
    entries = [
        {
            "Source": e["source"],
            "DetailType": e["detail-type"],
            "Detail": json.dumps(e["detail"]),
            "Resources": e["resources"],
        }
        for e, _ in EVENTS.values()
    ]
    out = emulator.aws("events", "put-events", "--entries", json.dumps(entries))
    assert out["FailedEntryCount"] == 0
    received: set[str] = set()
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            received.add(json.loads(message["Body"])["detail"]["jobId"])
        if len(received) >= 2:
            break
    expected = {e["detail"]["jobId"] for e, matches in EVENTS.values() if matches}
    assert received == expected
