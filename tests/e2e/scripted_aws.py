"""Scripted AWS endpoints on 127.0.0.1 for what the moto emulator lacks.

- :class:`Proxy` answers Service Quotas (JSON 1.1, ``ServiceQuotasV20190624.*``)
  and EC2 ``GetSpotPlacementScores`` (EC2 query protocol, XML) from a script and
  forwards every other request to moto unchanged. moto answers GetServiceQuota
  for ec2 with NoSuchResourceException and has no GetSpotPlacementScores.
  DescribeStacks responses get one correction: moto renders List parameter values
  as Python list reprs, AWS as comma-joined strings (see _join_list_parameters).
- :class:`BatchScript` serves what ``cfgen doctor`` reads of a live stack with
  jobs moto cannot produce (RUNNABLE with a statusReason, failed attempts with
  container reasons, log streams): CloudFormation DescribeStackResources (query,
  XML), AWS Batch (REST-JSON) and CloudWatch Logs GetLogEvents (JSON 1.1).

Only the responses are scripted; request signing, serialization, parsing and
pagination are botocore's own. Every request is recorded so tests can assert
that preflight and doctor stay read-only.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
CFN_NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _operation(headers: Any, body: bytes, path: str) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    form = parse_qs(body.decode("utf-8", "replace"))
    if "Action" in form:
        return form["Action"][0]
    return path


class _Base(BaseHTTPRequestHandler):
    calls: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(
        self, status: int, data: Any, content_type: str = "application/x-amz-json-1.1"
    ) -> None:
        self._send(status, json.dumps(data).encode(), content_type)

    def _xml(self, body: str) -> None:
        self._send(200, body.encode(), "text/xml")


# --------------------------------------------------------------------------- proxy
class Proxy(_Base):
    """Quotas and Spot placement scores from ``script``; everything else from moto."""

    upstream: ClassVar[str] = ""
    quotas: ClassVar[dict[str, float]] = {}
    spot_score: ClassVar[int] = 9

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        op = _operation(self.headers, body, self.path)
        type(self).calls.append(op)
        target = str(self.headers.get("X-Amz-Target", ""))
        if target.startswith("ServiceQuotasV20190624."):
            self._quota(op, json.loads(body or b"{}"))
        elif op == "GetSpotPlacementScores":
            self._xml(
                f'<GetSpotPlacementScoresResponse xmlns="{EC2_NS}"><requestId>r-1</requestId>'
                "<spotPlacementScoreSet><item><region>us-east-1</region>"
                f"<score>{type(self).spot_score}</score></item></spotPlacementScoreSet>"
                "</GetSpotPlacementScoresResponse>"
            )
        else:
            self._forward("POST", body)

    def do_GET(self) -> None:
        type(self).calls.append(self.path)
        self._forward("GET", None)

    def _quota(self, op: str, req: dict[str, Any]) -> None:
        code = str(req.get("QuotaCode", ""))
        if op in ("GetServiceQuota", "GetAWSDefaultServiceQuota") and code in type(self).quotas:
            self._json(
                200,
                {
                    "Quota": {
                        "ServiceCode": "ec2",
                        "QuotaCode": code,
                        "Value": type(self).quotas[code],
                        "Unit": "None",
                    }
                },
            )
        else:
            self._json(
                400,
                {"__type": "NoSuchResourceException", "message": f"no quota {code}"},
            )

    def _forward(self, method: str, body: bytes | None) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        req = urllib.request.Request(
            type(self).upstream + self.path, data=body, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, data, ctype = resp.status, resp.read(), resp.headers.get("Content-Type")
        except urllib.error.HTTPError as err:
            status, data, ctype = err.code, err.read(), err.headers.get("Content-Type")
        if "DescribeStacks" in (self.headers.get("X-Amz-Target") or "") or (
            body and b"Action=DescribeStacks" in body
        ):
            data = _join_list_parameters(data)
        self._send(status, data, ctype or "text/xml")


_LIST_VALUE = re.compile(rb"<ParameterValue>\[(.*?)\]</ParameterValue>", re.DOTALL)


def _join_list_parameters(xml: bytes) -> bytes:
    """moto's DescribeStacks renders List/CommaDelimitedList values as Python list reprs
    (``['a', 'b']``); AWS returns the comma-joined string (API_Parameter.ParameterValue
    is a String). Rewrite exactly that field so the CLI under test sees AWS's shape."""

    def join(m: re.Match[bytes]) -> bytes:
        items = re.findall(rb"(?:'|&#x27;|&apos;)(.*?)(?:'|&#x27;|&apos;)", m.group(1))
        return b"<ParameterValue>" + b",".join(items) + b"</ParameterValue>"

    return _LIST_VALUE.sub(join, xml)


# --------------------------------------------------------------------------- batch
class BatchScript(_Base):
    """A stack's Batch resources and jobs, as ``cfgen doctor`` reads them."""

    stack: ClassVar[str] = "cfgen-doctor"
    resources: ClassVar[list[tuple[str, str, str]]] = []  #: (logical, type, physical)
    compute_environments: ClassVar[list[dict[str, Any]]] = []
    job_queues: ClassVar[list[dict[str, Any]]] = []
    jobs: ClassVar[dict[str, dict[str, Any]]] = {}
    logs: ClassVar[dict[str, list[str]]] = {}  #: "group/stream" -> lines

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        op = _operation(self.headers, body, self.path)
        type(self).calls.append(op)
        if op == "DescribeStackResources":
            self._stack_resources(parse_qs(body.decode()))
        elif self.path.startswith("/v1/"):
            self._batch(self.path[4:], json.loads(body or b"{}"))
        elif op == "GetLogEvents":
            self._log_events(json.loads(body or b"{}"))
        else:
            self._json(400, {"__type": "UnknownOperationException", "message": op})

    def _stack_resources(self, form: dict[str, list[str]]) -> None:
        name = form.get("StackName", [""])[0]
        if name != type(self).stack:
            self._send(
                400,
                (
                    f'<ErrorResponse xmlns="{CFN_NS}"><Error><Type>Sender</Type>'
                    f"<Code>ValidationError</Code><Message>Stack with id {escape(name)} does not"
                    " exist</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
                ).encode(),
                "text/xml",
            )
            return
        members = "".join(
            f"<member><StackName>{name}</StackName><LogicalResourceId>{lid}</LogicalResourceId>"
            f"<PhysicalResourceId>{escape(pid)}</PhysicalResourceId>"
            f"<ResourceType>{rtype}</ResourceType><ResourceStatus>CREATE_COMPLETE"
            "</ResourceStatus><Timestamp>2026-01-01T00:00:00Z</Timestamp></member>"
            for lid, rtype, pid in type(self).resources
        )
        self._xml(
            f'<DescribeStackResourcesResponse xmlns="{CFN_NS}"><DescribeStackResourcesResult>'
            f"<StackResources>{members}</StackResources></DescribeStackResourcesResult>"
            "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
            "</DescribeStackResourcesResponse>"
        )

    def _batch(self, op: str, req: dict[str, Any]) -> None:
        cls = type(self)
        ctype = "application/json"
        if op == "describecomputeenvironments":
            wanted = set(req.get("computeEnvironments", []))
            ces = [c for c in cls.compute_environments if c["computeEnvironmentArn"] in wanted]
            self._json(200, {"computeEnvironments": ces}, ctype)
        elif op == "describejobqueues":
            wanted = set(req.get("jobQueues", []))
            self._json(
                200, {"jobQueues": [q for q in cls.job_queues if q["jobQueueArn"] in wanted]}, ctype
            )
        elif op == "listjobs":
            summaries = [
                {
                    "jobId": j["jobId"],
                    "jobName": j["jobName"],
                    "status": j["status"],
                    "statusReason": j.get("statusReason", ""),
                }
                for j in cls.jobs.values()
                if j["status"] == req.get("jobStatus") and j["jobQueue"] == req.get("jobQueue")
            ]
            self._json(200, {"jobSummaryList": summaries}, ctype)
        elif op == "describejobs":
            self._json(
                200, {"jobs": [cls.jobs[i] for i in req.get("jobs", []) if i in cls.jobs]}, ctype
            )
        else:
            self._json(400, {"__type": "ClientException", "message": op}, ctype)

    def _log_events(self, req: dict[str, Any]) -> None:
        key = f"{req.get('logGroupName')}/{req.get('logStreamName')}"
        lines = type(self).logs.get(key)
        if lines is None:
            self._json(
                400,
                {
                    "__type": "ResourceNotFoundException",
                    "message": "The specified log stream does not exist.",
                },
            )
            return
        limit = int(req.get("limit", 10000))
        events = [{"timestamp": 1767225600000 + i, "message": m} for i, m in enumerate(lines)]
        self._json(
            200, {"events": events[-limit:], "nextForwardToken": "f", "nextBackwardToken": "b"}
        )
