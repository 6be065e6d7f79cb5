"""deploy.sh's event stream and failure report, against a scripted CloudFormation endpoint.

moto cannot produce this path: its CreateStack is synchronous, never rolls
back and records no per-resource events (docs/moto-notes.md). So this test
serves the CloudFormation Query API on 127.0.0.1 with a scripted create that
fails the way AWS does -- CREATE_IN_PROGRESS, resource events arriving over
several polls, CREATE_FAILED with reasons, ROLLBACK_COMPLETE -- and drives the
real deploy.sh and the real AWS CLI against it. Only the responses are
scripted; request parsing, pagination, --query and output formatting are the
CLI's own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import pytest
from e2e_support import base_env, explain, script

pytestmark = pytest.mark.e2e

NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
STACK = "cfgen-fails"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/0f0e0d0c"
CHANGE_SET_ID = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs/0a0b0c0d"
SPOT_REASON = (
    'Resource handler returned message: "Error executing request, Exception : '
    "Instance type 'x9.huge' is not supported in us-east-1\""
)
# (status after this poll, events that appear with it), oldest event first.
TIMELINE: list[tuple[str, list[tuple[str, str, str, str]]]] = [
    (
        "CREATE_IN_PROGRESS",
        [
            (STACK, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
            ("ComputeSecurityGroup", "AWS::EC2::SecurityGroup", "CREATE_IN_PROGRESS", ""),
        ],
    ),
    (
        "ROLLBACK_IN_PROGRESS",
        [
            ("ComputeSecurityGroup", "AWS::EC2::SecurityGroup", "CREATE_COMPLETE", ""),
            (
                "SpotComputeEnvironment",
                "AWS::Batch::ComputeEnvironment",
                "CREATE_FAILED",
                SPOT_REASON,
            ),
            ("JobQueue", "AWS::Batch::JobQueue", "CREATE_FAILED", "Resource creation cancelled"),
            (
                STACK,
                "AWS::CloudFormation::Stack",
                "ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to create: [SpotComputeEnvironment, JobQueue].",
            ),
        ],
    ),
    (
        "ROLLBACK_COMPLETE",
        [
            ("ComputeSecurityGroup", "AWS::EC2::SecurityGroup", "DELETE_COMPLETE", ""),
            (STACK, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", ""),
        ],
    ),
]


class ScriptedCloudFormation(BaseHTTPRequestHandler):
    """The CloudFormation Query API for one stack whose creation fails."""

    created = False
    change_set = False
    polls = 0
    calls: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        action = form["Action"]
        cls = type(self)
        cls.calls.append(action)
        if action == "GetTemplateSummary":
            params = "".join(
                f"<member><ParameterKey>{k}</ParameterKey><ParameterType>{escape(t)}</ParameterType>"
                "<NoEcho>false</NoEcho></member>"
                for k, t in (
                    ("VpcId", "AWS::EC2::VPC::Id"),
                    ("SubnetIds", "List<AWS::EC2::Subnet::Id>"),
                    ("InstanceTypes", "CommaDelimitedList"),
                )
            )
            self._ok(action, f"<Parameters>{params}</Parameters>")
        elif action == "CreateStack":
            cls.created = True
            self._ok(action, f"<StackId>{STACK_ID}</StackId>")
        elif action == "CreateChangeSet":
            # deploy.sh creates every stack through a CREATE change set.
            cls.change_set = True
            self._ok(action, f"<Id>{CHANGE_SET_ID}</Id><StackId>{STACK_ID}</StackId>")
        elif action == "DescribeChangeSet" and cls.change_set:
            changes = "".join(
                "<member><Type>Resource</Type><ResourceChange><Action>Add</Action>"
                f"<LogicalResourceId>{logical}</LogicalResourceId>"
                f"<ResourceType>{rtype}</ResourceType></ResourceChange></member>"
                for logical, rtype in (
                    ("ComputeSecurityGroup", "AWS::EC2::SecurityGroup"),
                    ("JobQueue", "AWS::Batch::JobQueue"),
                    ("SpotComputeEnvironment", "AWS::Batch::ComputeEnvironment"),
                )
            )
            self._ok(
                action,
                f"<ChangeSetName>cs</ChangeSetName><ChangeSetId>{CHANGE_SET_ID}</ChangeSetId>"
                f"<StackId>{STACK_ID}</StackId><StackName>{STACK}</StackName>"
                "<Status>CREATE_COMPLETE</Status><ExecutionStatus>AVAILABLE</ExecutionStatus>"
                f"<Changes>{changes}</Changes>",
            )
        elif action == "ExecuteChangeSet" and cls.change_set:
            cls.created = True
            self._ok(action, "")
        elif not cls.created and cls.change_set and action == "DescribeStacks":
            self._ok(
                action,
                f"<Stacks><member><StackName>{STACK}</StackName><StackId>{STACK_ID}</StackId>"
                "<CreationTime>2026-01-01T00:00:00Z</CreationTime>"
                "<StackStatus>REVIEW_IN_PROGRESS</StackStatus></member></Stacks>",
            )
        elif not cls.created and cls.change_set and action == "DescribeStackEvents":
            self._ok(action, "<StackEvents></StackEvents>")
        elif not cls.created:
            self._error(f"Stack with id {form.get('StackName', STACK)} does not exist")
        elif action == "DescribeStacks":
            cls.polls = min(cls.polls + 1, len(TIMELINE))
            status = TIMELINE[cls.polls - 1][0]
            self._ok(
                action,
                f"<Stacks><member><StackName>{STACK}</StackName><StackId>{STACK_ID}</StackId>"
                f"<CreationTime>2026-01-01T00:00:00Z</CreationTime>"
                f"<StackStatus>{status}</StackStatus></member></Stacks>",
            )
        elif action == "DescribeStackEvents":
            seen = [e for _, events in TIMELINE[: cls.polls] for e in events]
            members = "".join(
                f"<member><EventId>event-{i}</EventId><StackName>{STACK}</StackName>"
                f"<StackId>{STACK_ID}</StackId><LogicalResourceId>{logical}</LogicalResourceId>"
                f"<ResourceType>{rtype}</ResourceType>"
                f"<Timestamp>2026-01-01T00:00:{i:02d}Z</Timestamp>"
                f"<ResourceStatus>{status}</ResourceStatus>"
                + (
                    f"<ResourceStatusReason>{escape(reason)}</ResourceStatusReason>"
                    if reason
                    else ""
                )
                + "</member>"
                for i, (logical, rtype, status, reason) in reversed(list(enumerate(seen)))
            )  # newest first, as CloudFormation returns them
            self._ok(action, f"<StackEvents>{members}</StackEvents>")
        else:
            self._error(f"unexpected action {action}")

    def _ok(self, action: str, result: str) -> None:
        body = (
            f'<{action}Response xmlns="{NS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>"
        )
        self._send(200, body)

    def _error(self, message: str) -> None:
        body = (
            f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>ValidationError</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
        self._send(400, body)

    def _send(self, code: int, body: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedCloudFormation)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_deploy_streams_events_and_reports_each_failed_resource(
    endpoint: str, tmp_path: Path
) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("Resources: {}\n", encoding="utf-8")
    env = {**base_env(tmp_path), "AWS_ENDPOINT_URL": endpoint}
    proc = script(
        "deploy.sh", "--stack-name", STACK, "--template", str(template),
        "--vpc-id", "vpc-0abc", "--subnet-ids", "subnet-01,subnet-02",
        "InstanceTypes=x9.huge,c6i.large", env=env,
    )  # fmt: skip
    assert proc.returncode == 1, explain(proc)
    assert proc.stdout == "", explain(proc)
    lines = proc.stderr.splitlines()
    # Every event exactly once, oldest first, as it arrives.
    streamed = [line.split()[1:3] for line in lines if line.startswith("2026-01-01T")]
    expected = [[status, logical] for _, events in TIMELINE for logical, _, status, _ in events]
    assert streamed == expected
    assert any(SPOT_REASON in line for line in lines if line.startswith("2026-01-01T"))
    # Then the verdict and every failed resource with its reason.
    report = lines[lines.index(f"stack {STACK}: ROLLBACK_COMPLETE") :]
    assert report == [
        f"stack {STACK}: ROLLBACK_COMPLETE",
        "failed resources:",
        f"  SpotComputeEnvironment (AWS::Batch::ComputeEnvironment): {SPOT_REASON}",
        "  JobQueue (AWS::Batch::JobQueue): Resource creation cancelled",
    ]
    assert ScriptedCloudFormation.calls.count("CreateChangeSet") == 1
    assert ScriptedCloudFormation.calls.count("ExecuteChangeSet") == 1
    assert "CreateStack" not in ScriptedCloudFormation.calls


# --- destroy.sh with jobs in flight ------------------------------------------------

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/cfgen-jobs-JobQueue-1"
OTHER_QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/not-this-stack"
JOBS_STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/cfgen-jobs/0a0b"
#: What ListJobs returns for the stack's queue, per status (moto-style array
#: children "<parent>:<index>" included, as moto lists them).
JOBS = {
    "SUBMITTED": [],
    "PENDING": ["array-parent"],
    "RUNNABLE": ["job-runnable"],
    "STARTING": ["job-starting"],
    "RUNNING": ["job-running", "array-parent:3"],
    "SUCCEEDED": ["job-done"],
    "FAILED": ["job-failed"],
}


class ScriptedStackWithJobs(ScriptedCloudFormation):
    """CloudFormation (Query), Batch (REST-JSON) and S3 for a stack with running jobs."""

    deleted = False
    log: ClassVar[list[tuple[str, str]]] = []

    def do_HEAD(self) -> None:  # s3api head-bucket, path style
        self.log.append(("HeadBucket", self.path))
        self.send_response(200 if self.path.strip("/") == "cfgen-jobs-data" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length).decode()
        cls = type(self)
        if self.path.startswith("/v1/"):  # Batch
            body = json.loads(raw or "{}")
            action = self.path.split("/")[2]
            cls.log.append((action, json.dumps(body, sort_keys=True)))
            if action == "listjobs":
                jobs = JOBS[body["jobStatus"]] if body["jobQueue"] == QUEUE else []
                self._json({"jobSummaryList": [{"jobId": j, "jobName": j} for j in jobs]})
            elif action == "terminatejob":
                self._json({})
            else:
                self._json({"__type": "ClientException", "message": action}, 400)
            return
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        action = form["Action"]
        cls.log.append((action, form.get("StackName", "")))
        status = "DELETE_COMPLETE" if cls.deleted else "CREATE_COMPLETE"
        if action == "DescribeStacks":
            self._ok(
                action,
                f"<Stacks><member><StackName>cfgen-jobs</StackName><StackId>{JOBS_STACK_ID}"
                f"</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>"
                f"{status}</StackStatus><Outputs><member><OutputKey>DataBucketName</OutputKey>"
                "<OutputValue>cfgen-jobs-data</OutputValue></member></Outputs></member></Stacks>",
            )
        elif action == "DescribeStackResources":
            members = "".join(
                f"<member><StackName>cfgen-jobs</StackName><LogicalResourceId>{logical}"
                f"</LogicalResourceId><PhysicalResourceId>{physical}</PhysicalResourceId>"
                f"<ResourceType>{rtype}</ResourceType><Timestamp>2026-01-01T00:00:00Z"
                "</Timestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
                for logical, physical, rtype in (
                    ("JobQueue", QUEUE, "AWS::Batch::JobQueue"),
                    ("DataBucket", "cfgen-jobs-data", "AWS::S3::Bucket"),
                )
            )
            self._ok(action, f"<StackResources>{members}</StackResources>")
        elif action == "DescribeStackEvents":
            self._ok(action, "<StackEvents></StackEvents>")
        elif action == "DeleteStack":
            cls.deleted = True
            self._ok(action, "")
        elif action == "ListStacks":
            self._ok(
                action,
                f"<StackSummaries><member><StackId>{JOBS_STACK_ID}</StackId><StackName>cfgen-jobs"
                f"</StackName><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>"
                f"{status}</StackStatus></member></StackSummaries>",
            )
        else:
            self._error(f"unexpected action {action}")

    def _json(self, payload: dict[str, Any], code: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_destroy_terminates_the_stacks_active_jobs_before_deleting(tmp_path: Path) -> None:
    """moto finishes every job inside SubmitJob, so there is never one to stop there."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedStackWithJobs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {
            **base_env(tmp_path),
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
        }
        proc = script("destroy.sh", "--stack-name", "cfgen-jobs", env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout == "retained data bucket: cfgen-jobs-data\n"
    log = ScriptedStackWithJobs.log
    actions = [action for action, _ in log]
    listed = {json.loads(body)["jobStatus"] for action, body in log if action == "listjobs"}
    assert listed == {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"}
    assert all(json.loads(b)["jobQueue"] == QUEUE for a, b in log if a == "listjobs")
    terminated = [json.loads(body) for action, body in log if action == "terminatejob"]
    # Every active job of the stack's queue, the array parent once, no child, nothing finished.
    assert sorted(t["jobId"] for t in terminated) == [
        "array-parent",
        "job-runnable",
        "job-running",
        "job-starting",
    ]
    assert {t["reason"] for t in terminated} == {"destroy.sh: stack cfgen-jobs is being deleted"}
    assert "canceljob" not in actions
    # Jobs first, then the deletion; the bucket is only looked at, never deleted.
    assert max(i for i, a in enumerate(actions) if a == "terminatejob") < actions.index(
        "DeleteStack"
    )
    assert actions.count("DeleteStack") == 1
    assert ("HeadBucket", "/cfgen-jobs-data") in log
