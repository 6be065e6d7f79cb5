"""`cfgen plan` against a scripted CloudFormation + Batch endpoint: golden plans.

moto's change sets list only Action, LogicalResourceId and ResourceType: no
Replacement, no Details, and parameter-only changes not at all; its jobs are
SUCCEEDED at once, so no queue ever has RUNNING or RUNNABLE jobs
(docs/moto-notes.md). So this file serves, on 127.0.0.1, the few calls
`cfgen plan` makes -- CloudFormation's Query API (DescribeStacks, GetTemplate,
CreateChangeSet, DescribeChangeSet, DeleteChangeSet, DescribeStackResources) and
Batch's REST-JSON API (DescribeJobQueues, ListJobs) -- with answers shaped like
AWS's (ResourceChange with Replacement and Details, jobs in flight), and runs
the real `python -m cfgen plan` (boto3) against it. Only the responses are
scripted; request signing, parsing and pagination are botocore's own.

Four scenarios on the default profile's template, each a golden plan in
tests/golden/plans/<scenario>.{txt,md,json}: an in-place change (a parameter),
a replacement (tags on a compute environment, with jobs running), an IAM and
security-group broadening, and a no-op. To refresh the golden files after an
intended change: CFGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plan.py
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import pytest
from cfnlint.decode import decode_str

from cfgen import plan as cfgen_plan

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "plans"
NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
STACK = "batch"
ACCOUNT = "123456789012"
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/5a5b"
CS_NAME = "cfgen-plan-scripted"
CS_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/{CS_NAME}/6c6d"
CE_ARN = f"arn:aws:batch:us-east-1:{ACCOUNT}:compute-environment/SpotComputeEnvironment-Ab12"
OD_ARN = f"arn:aws:batch:us-east-1:{ACCOUNT}:compute-environment/OnDemandComputeEnvironment-Cd34"
QUEUE_ARN = f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/JobQueue-Ef56"
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to "
    "create a change set."
)
DEPLOYED_PARAMETERS = {
    "VpcId": "vpc-0abc",
    "SubnetIds": "subnet-01,subnet-02",
    "MaxvCpus": "256",
    "InstanceTypes": "c6i.large,m6i.large",
}


@dataclass
class Scenario:
    changes: list[dict[str, Any]] = field(default_factory=list)
    status: str = "CREATE_COMPLETE"
    reason: str = ""
    jobs: dict[str, int] = field(default_factory=dict)  # status -> count on the queue


class ScriptedAws(BaseHTTPRequestHandler):
    """CloudFormation (Query/XML) and Batch (REST-JSON) for one deployed stack."""

    scenario: ClassVar[Scenario] = Scenario()
    deployed: ClassVar[str] = ""
    calls: ClassVar[list[tuple[str, dict[str, str]]]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        if self.path.startswith("/v1/"):
            self._batch(self.path.removeprefix("/v1/"), json.loads(body or "{}"))
            return
        form = {k: v[0] for k, v in parse_qs(body).items()}
        action = form["Action"]
        type(self).calls.append((action, form))
        handler = getattr(self, f"_cfn_{action}", None)
        if handler is None:
            self._error(f"unexpected action {action}")
        else:
            self._ok(action, handler(form))

    # --- CloudFormation -------------------------------------------------------------
    def _cfn_DescribeStacks(self, form: dict[str, str]) -> str:  # noqa: N802 (the API action)
        params = "".join(
            f"<member><ParameterKey>{k}</ParameterKey><ParameterValue>{escape(v)}"
            "</ParameterValue></member>"
            for k, v in DEPLOYED_PARAMETERS.items()
        )
        return (
            f"<Stacks><member><StackName>{STACK}</StackName><StackId>{STACK_ID}</StackId>"
            "<CreationTime>2026-01-01T00:00:00Z</CreationTime>"
            f"<StackStatus>UPDATE_COMPLETE</StackStatus><Parameters>{params}</Parameters>"
            "</member></Stacks>"
        )

    def _cfn_GetTemplate(self, form: dict[str, str]) -> str:  # noqa: N802 (the API action)
        return f"<TemplateBody>{escape(self.deployed)}</TemplateBody>"

    def _cfn_CreateChangeSet(self, form: dict[str, str]) -> str:  # noqa: N802 (the API action)
        return f"<Id>{CS_ID}</Id><StackId>{STACK_ID}</StackId>"

    def _cfn_DeleteChangeSet(self, form: dict[str, str]) -> str:  # noqa: N802 (the API action)
        return ""

    def _cfn_DescribeChangeSet(self, form: dict[str, str]) -> str:  # noqa: N802 (the API action)
        sc = self.scenario
        changes = "".join(
            f"<member><Type>Resource</Type><ResourceChange>{_xml(c)}</ResourceChange></member>"
            for c in sc.changes
        )
        reason = f"<StatusReason>{escape(sc.reason)}</StatusReason>" if sc.reason else ""
        return (
            f"<ChangeSetName>{CS_NAME}</ChangeSetName><ChangeSetId>{CS_ID}</ChangeSetId>"
            f"<StackId>{STACK_ID}</StackId><StackName>{STACK}</StackName>"
            f"<Status>{sc.status}</Status>{reason}"
            f"<ExecutionStatus>{'AVAILABLE' if sc.status != 'FAILED' else 'UNAVAILABLE'}"
            f"</ExecutionStatus><Changes>{changes}</Changes>"
        )

    def _cfn_DescribeStackResources(self, form: dict[str, str]) -> str:  # noqa: N802 (the API action)
        rows = (
            ("SpotComputeEnvironment", CE_ARN, "AWS::Batch::ComputeEnvironment"),
            ("OnDemandComputeEnvironment", OD_ARN, "AWS::Batch::ComputeEnvironment"),
            ("JobQueue", QUEUE_ARN, "AWS::Batch::JobQueue"),
        )
        members = "".join(
            f"<member><StackName>{STACK}</StackName><StackId>{STACK_ID}</StackId>"
            f"<LogicalResourceId>{lid}</LogicalResourceId>"
            f"<PhysicalResourceId>{pid}</PhysicalResourceId><ResourceType>{rtype}</ResourceType>"
            "<Timestamp>2026-01-01T00:00:00Z</Timestamp>"
            "<ResourceStatus>UPDATE_COMPLETE</ResourceStatus></member>"
            for lid, pid, rtype in rows
        )
        return f"<StackResources>{members}</StackResources>"

    # --- Batch ----------------------------------------------------------------------
    def _batch(self, op: str, body: dict[str, Any]) -> None:
        type(self).calls.append((op, {k: str(v) for k, v in body.items()}))
        if op == "describejobqueues":
            queue = {
                "jobQueueName": "JobQueue-Ef56",
                "jobQueueArn": QUEUE_ARN,
                "state": "ENABLED",
                "status": "VALID",
                "priority": 1,
                "computeEnvironmentOrder": [
                    {"order": 1, "computeEnvironment": CE_ARN},
                    {"order": 2, "computeEnvironment": OD_ARN},
                ],
            }
            self._json({"jobQueues": [queue] if QUEUE_ARN in body.get("jobQueues", []) else []})
        elif op == "listjobs":
            assert body["jobQueue"] == QUEUE_ARN, body
            total = self.scenario.jobs.get(body["jobStatus"], 0)
            start = int(body.get("nextToken") or 0)
            end = min(total, start + int(body.get("maxResults", 100)))
            page: dict[str, Any] = {
                "jobSummaryList": [
                    {"jobId": f"job-{i}", "jobName": f"job-{i}", "status": body["jobStatus"]}
                    for i in range(start, end)
                ]
            }
            if end < total:
                page["nextToken"] = str(end)
            self._json(page)
        else:
            self._send(400, json.dumps({"message": f"unexpected {op}"}), "application/json")

    # --- wire -----------------------------------------------------------------------
    def _ok(self, action: str, result: str) -> None:
        self._send(
            200,
            f'<{action}Response xmlns="{NS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>",
            "text/xml",
        )

    def _error(self, message: str) -> None:
        self._send(
            400,
            f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>ValidationError</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>",
            "text/xml",
        )

    def _json(self, data: dict[str, Any]) -> None:
        self._send(200, json.dumps(data), "application/json")

    def _send(self, code: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _xml(value: Any) -> str:
    """A dict as Query-protocol XML: lists become <member> elements."""
    if isinstance(value, dict):
        return "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in value.items())
    if isinstance(value, list):
        return "".join(f"<member>{_xml(v)}</member>" for v in value)
    return escape(str(value))


@pytest.fixture
def endpoint() -> Iterator[str]:
    ScriptedAws.calls = []
    ScriptedAws.deployed = (ROOT / "build" / "cloudformation.yaml").read_text("utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _template() -> dict[str, Any]:
    data, errors = decode_str((ROOT / "build" / "cloudformation.yaml").read_text("utf-8"))
    assert not errors
    return copy.deepcopy(dict(data))


def _plan(endpoint: str, tmp_path: Path, template: dict[str, Any], *args: str) -> tuple[int, str]:
    path = tmp_path / "new.json"
    path.write_text(json.dumps(template, default=str), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CFGEN_"))} | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # dummy credentials for the scripted endpoint
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
        "CFGEN_POLL_SECONDS": "0.05",
    }
    out = {}
    code = 0
    for fmt in ("text", "markdown", "json"):
        proc = subprocess.run(
            [sys.executable, "-m", "cfgen", "plan", "--stack", STACK, "--template", str(path),
             "--format", fmt, *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode in {0, 1}, proc.stderr
        assert proc.stderr == "", proc.stderr
        out[fmt], code = proc.stdout, proc.returncode
    return code, "\n".join(out.values())


def _golden(name: str, code: int, text: str) -> None:
    path = GOLDEN / f"{name}.plan"
    actual = f"exit {code}\n{text}"
    if os.environ.get("CFGEN_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text("utf-8") if path.is_file() else ""
    assert actual == expected, (
        f"{path} differs from the plan; if the change is intended: "
        "CFGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plan.py"
    )


def _no_execution() -> None:
    actions = [a for a, _ in ScriptedAws.calls]
    assert "ExecuteChangeSet" not in actions
    assert actions.count("DeleteChangeSet") == actions.count("CreateChangeSet") == 3


def test_in_place_parameter_change(endpoint: str, tmp_path: Path) -> None:
    ScriptedAws.scenario = Scenario(
        changes=[
            {
                "Action": "Modify",
                "LogicalResourceId": "SpotComputeEnvironment",
                "PhysicalResourceId": CE_ARN,
                "ResourceType": "AWS::Batch::ComputeEnvironment",
                "Replacement": "False",
                "Scope": ["Properties"],
                "Details": [
                    {
                        "Target": {
                            "Attribute": "Properties",
                            "Name": "ComputeResources",
                            "RequiresRecreation": "Never",
                        },
                        "Evaluation": "Static",
                        "ChangeSource": "ParameterReference",
                        "CausingEntity": "MaxvCpus",
                    }
                ],
            }
        ]
    )
    code, text = _plan(endpoint, tmp_path, _template(), "MaxvCpus=512")
    _golden("in-place", code, text)
    assert code == 0
    _no_execution()
    # The new value is sent; every other parameter keeps the stack's value.
    (_, form) = next(c for c in ScriptedAws.calls if c[0] == "CreateChangeSet")
    sent = {
        form[f"Parameters.member.{i}.ParameterKey"]: form.get(
            f"Parameters.member.{i}.ParameterValue",
            "previous" if form.get(f"Parameters.member.{i}.UsePreviousValue") == "true" else "?",
        )
        for i in range(1, 10)
        if f"Parameters.member.{i}.ParameterKey" in form
    }
    assert sent == {
        "MaxvCpus": "512",
        "VpcId": "previous",
        "SubnetIds": "previous",
        "InstanceTypes": "previous",
    }
    assert form["ChangeSetType"] == "UPDATE"
    assert form["Capabilities.member.1"] == "CAPABILITY_IAM"


def test_replacement_of_a_compute_environment_with_jobs_running(
    endpoint: str, tmp_path: Path
) -> None:
    template = _template()
    ce = template["Resources"]["SpotComputeEnvironment"]["Properties"]
    ce["Tags"] = {"team": "data"}  # create-only on AWS::Batch::ComputeEnvironment
    ScriptedAws.scenario = Scenario(
        changes=[
            {
                "Action": "Modify",
                "LogicalResourceId": "SpotComputeEnvironment",
                "PhysicalResourceId": CE_ARN,
                "ResourceType": "AWS::Batch::ComputeEnvironment",
                "Replacement": "True",
                "Scope": ["Properties"],
                "Details": [
                    {
                        "Target": {
                            "Attribute": "Properties",
                            "Name": "Tags",
                            "RequiresRecreation": "Always",
                        },
                        "Evaluation": "Static",
                        "ChangeSource": "DirectModification",
                    }
                ],
            },
            {
                "Action": "Modify",
                "LogicalResourceId": "JobQueue",
                "PhysicalResourceId": QUEUE_ARN,
                "ResourceType": "AWS::Batch::JobQueue",
                "Replacement": "False",
                "Scope": ["Properties"],
                "Details": [
                    {
                        "Target": {
                            "Attribute": "Properties",
                            "Name": "ComputeEnvironmentOrder",
                            "RequiresRecreation": "Never",
                        },
                        "Evaluation": "Dynamic",
                        "ChangeSource": "ResourceReference",
                        "CausingEntity": "SpotComputeEnvironment",
                    }
                ],
            },
        ],
        jobs={"RUNNING": 3, "RUNNABLE": 157},  # 157: two ListJobs pages
    )
    code, text = _plan(endpoint, tmp_path, template)
    _golden("replacement", code, text)
    assert code == 1
    _no_execution()
    data = json.loads(text[text.index("\n{") + 1 :])
    assert data["approval_required"] == {
        "never": False,
        "replacement": True,
        "broadening": True,
        "any-change": True,
    }
    assert [(j["logical_id"], j["running"], j["runnable"]) for j in data["jobs"]] == [
        ("SpotComputeEnvironment", 3, 157)
    ]


def test_iam_and_security_group_broadening(endpoint: str, tmp_path: Path) -> None:
    template = _template()
    job_role = template["Resources"]["JobRole"]["Properties"]
    statements = job_role["Policies"][0]["PolicyDocument"]["Statement"]
    statements.append(
        {
            "Sid": "WriteInput",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [
                {
                    "Fn::Sub": [
                        "${Bucket}/input/*",
                        {"Bucket": {"Fn::GetAtt": ["DataBucket", "Arn"]}},
                    ]
                }
            ],
        }
    )
    sg = template["Resources"]["ComputeSecurityGroup"]["Properties"]
    sg["SecurityGroupIngress"] = [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
    ]
    ScriptedAws.scenario = Scenario(
        changes=[
            {
                "Action": "Modify",
                "LogicalResourceId": "ComputeSecurityGroup",
                "PhysicalResourceId": "sg-0123",
                "ResourceType": "AWS::EC2::SecurityGroup",
                "Replacement": "False",
                "Scope": ["Properties"],
                "Details": [
                    {
                        "Target": {
                            "Attribute": "Properties",
                            "Name": "SecurityGroupIngress",
                            "RequiresRecreation": "Never",
                        },
                        "Evaluation": "Static",
                        "ChangeSource": "DirectModification",
                    }
                ],
            },
            {
                "Action": "Modify",
                "LogicalResourceId": "JobRole",
                "PhysicalResourceId": "batch-JobRole-1A2B",
                "ResourceType": "AWS::IAM::Role",
                "Replacement": "False",
                "Scope": ["Properties"],
                "Details": [
                    {
                        "Target": {
                            "Attribute": "Properties",
                            "Name": "Policies",
                            "RequiresRecreation": "Never",
                        },
                        "Evaluation": "Static",
                        "ChangeSource": "DirectModification",
                    }
                ],
            },
        ]
    )
    code, text = _plan(endpoint, tmp_path, template)
    _golden("iam-broadening", code, text)
    assert code == 0  # nothing replaced: only --require-approval broadening asks
    data = json.loads(text[text.index("\n{") + 1 :])
    assert data["approval_required"]["replacement"] is False
    assert data["approval_required"]["broadening"] is True
    assert [(c["change"], c["action"]) for c in data["iam"]] == [("broadened", "s3:PutObject")]
    assert [
        (c["change"], c["direction"], c["ports"], c["peer"]) for c in data["security_groups"]
    ] == [("broadened", "ingress", "22", "0.0.0.0/0")]


def test_a_parameter_driven_infrastructure_update_interrupts_jobs(
    endpoint: str, tmp_path: Path
) -> None:
    """CloudFormation: in place. cfgen diff, with the parameter values substituted: an
    infrastructure update (new instance types) that replaces both CEs' instances."""

    def modify(lid: str, arn: str) -> dict[str, Any]:
        return {
            "Action": "Modify",
            "LogicalResourceId": lid,
            "PhysicalResourceId": arn,
            "ResourceType": "AWS::Batch::ComputeEnvironment",
            "Replacement": "False",
            "Details": [
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": "ComputeResources",
                        "RequiresRecreation": "Never",
                    },
                    "Evaluation": "Static",
                    "ChangeSource": "ParameterReference",
                    "CausingEntity": "InstanceTypes",
                }
            ],
        }

    ScriptedAws.scenario = Scenario(
        changes=[
            modify("OnDemandComputeEnvironment", OD_ARN),
            modify("SpotComputeEnvironment", CE_ARN),
        ],
        jobs={"RUNNING": 2},
    )
    code, text = _plan(endpoint, tmp_path, _template(), "InstanceTypes=c7i.large")
    assert code == 1, text
    data = json.loads(text[text.index("\n{") + 1 :])
    for ce in data["resources"]:
        assert ce["action"] == "modify"
        assert ce["disagreement"] == ""
        assert "ComputeResources.InstanceTypes" in ce["interrupts"]
        assert ce["cloudformation"] == (
            "Modify, Replacement: False (ComputeResources <- InstanceTypes)"
        )
    # Both CEs serve the one queue: its jobs are counted for each.
    assert [(j["logical_id"], j["running"], j["runnable"]) for j in data["jobs"]] == [
        ("OnDemandComputeEnvironment", 2, 0),
        ("SpotComputeEnvironment", 2, 0),
    ]


def test_no_op(endpoint: str, tmp_path: Path) -> None:
    ScriptedAws.scenario = Scenario(status="FAILED", reason=NO_CHANGES)
    code, text = _plan(endpoint, tmp_path, _template())
    _golden("no-op", code, text)
    assert code == 0
    assert "no changes" in text
    _no_execution()


def test_a_failed_change_set_is_an_error_exit_3(endpoint: str, tmp_path: Path) -> None:
    ScriptedAws.scenario = Scenario(
        status="FAILED", reason="Parameter validation failed: parameter value vpc-x does not exist"
    )
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_template(), default=str), encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "CFGEN_POLL_SECONDS": "0.05",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "cfgen", "plan", "--stack", STACK, "--template", str(path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 3
    assert proc.stderr == (
        f"cfgen plan: change set {CS_NAME} failed: Parameter validation failed: parameter "
        "value vpc-x does not exist\n"
    )
    assert [a for a, _ in ScriptedAws.calls].count("DeleteChangeSet") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "1bad"], "cfgen plan: --stack: '1bad' is not a stack name"),
        (
            ["--stack", "s", "Max-vCpus=1"],
            "cfgen plan: argument Key=Value: parameter 'Max-vCpus=1'",
        ),
        (["--stack", "s", "--format", "xml"], "cfgen plan: argument --format: invalid choice"),
        (
            ["--stack", "s", "--template", "/nonexistent.yaml"],
            "cfgen plan: --template: '/nonexistent.yaml'",
        ),
        (
            ["--stack", "s", "--change-set", "x", "--profile", "gpu"],
            "cfgen plan: --profile: cannot",
        ),
        ([], "cfgen plan: the following arguments are required: --stack"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert cfgen_plan.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert err.count("\n") == 1


def test_approval_levels_ladder() -> None:
    """Each --require-approval level asks in every case the level before it asks."""
    add = cfgen_plan.ResourcePlan("A", "AWS::S3::Bucket", "add", "Add", "ADD")
    grant = cfgen_plan.PermissionChange("broadened", "R policy p", "Allow", "s3:*", "*")
    replace = cfgen_plan.ResourcePlan("B", "AWS::ECR::Repository", "replace", "-", "REPLACE")
    plans = {
        "addition": cfgen_plan.Plan("s", "c", "UPDATE", "changes", resources=(add,)),
        "broadening": cfgen_plan.Plan(
            "s", "c", "UPDATE", "changes", resources=(add,), iam=(grant,)
        ),
        "replacement": cfgen_plan.Plan("s", "c", "UPDATE", "changes", resources=(replace,)),
        "no-op": cfgen_plan.Plan("s", "c", "UPDATE", "no-changes"),
    }
    asks = {
        level: sorted(name for name, p in plans.items() if p.approval_required(level))
        for level in cfgen_plan.LEVELS
    }
    assert asks == {
        "never": [],
        "replacement": ["replacement"],
        "broadening": ["broadening", "replacement"],
        "any-change": ["addition", "broadening", "replacement"],
    }


def test_readme_deploy_section_shows_the_golden_replacement_plan() -> None:
    """The README's sample plan is the real output (golden replacement plan, text format)."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("<!-- BEGIN deploy -->") : readme.index("<!-- END deploy -->")]
    golden = (GOLDEN / "replacement.plan").read_text("utf-8").split("\n", 1)[1]
    text = golden[: golden.index("### cfgen plan")].rstrip("\n")
    assert text in section, "README's deploy section: paste tests/golden/plans/replacement.plan"
    for level in cfgen_plan.LEVELS:
        assert f"`{level}`" in section
    assert "--require-approval" in section and "exits 3" in section
