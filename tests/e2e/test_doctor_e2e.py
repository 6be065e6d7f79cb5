"""`cfgen doctor` against a scripted endpoint (tests/e2e/scripted_aws.BatchScript).

moto cannot hold a job in RUNNABLE with a statusReason, fail attempts with
container reasons, or keep log streams for them, so the stack's Batch state
is scripted: every message of the catalogue appears once -- RUNNABLE reasons
on RUNNABLE jobs, compute-environment reasons on INVALID compute
environments, the rest on failed attempts -- and the real `cfgen doctor`
reads it through botocore.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REPO, base_env, explain
from scripted_aws import BatchScript, serve
from test_preflight_e2e import check_golden

from cfgen.preflight.catalogue import CATALOGUE
from cfgen.preflight.catalogue import explain as catalogue_explain

pytestmark = pytest.mark.e2e

STACK = "cfgen-doctor"
ARN = "arn:aws:batch:us-east-1:123456789012"
QUEUE = f"{ARN}:job-queue/JobQueue-abc"
GROUP = "/cfgen/cfgen-doctor"
RUNNABLE_KEYS = {
    "insufficient-capacity",
    "ce-max-resource",
    "job-resource-requirement",
    "service-role-permissions",
    "invalid-ce",
}
CE_KEYS = {
    "service-role-assume",
    "spot-fleet-role",
    "instance-type-unsupported",
    "vcpu-limit",
    "max-spot-count",
    "ec2-insufficient-capacity",
}
JOB_KEYS = {"canceled-capacity", "canceled-misconfiguration", "dependency-failed"}
#: Messages Batch writes on the attempt itself (the others are the container's reason).
ATTEMPT_KEYS = {"spot-reclaim", "task-failed-to-start", "essential-exited", "attempt-timeout"}
RECLAIM = "Host EC2 (instance i-0123456789abcdef0) terminated."


def _ce(name: str, status: str, reason: str = "", state: str = "ENABLED") -> dict[str, Any]:
    return {
        "computeEnvironmentName": name,
        "computeEnvironmentArn": f"{ARN}:compute-environment/{name}",
        "state": state,
        "status": status,
        "statusReason": reason,
        "type": "MANAGED",
        "computeResources": {"type": "SPOT", "desiredvCpus": 4, "maxvCpus": 256},
    }


def _job(job_id: str, status: str, reason: str = "", attempts: list[Any] | None = None) -> Any:
    return {
        "jobId": job_id,
        "jobName": f"job-{job_id}",
        "jobQueue": QUEUE,
        "status": status,
        "statusReason": reason,
        "attempts": attempts or [],
        "container": {"logConfiguration": {"options": {"awslogs-group": GROUP}}},
    }


def _attempt(
    reason: str, *, container_reason: str = "", code: int | None = None, stream: str = ""
) -> Any:
    container: dict[str, Any] = {"reason": container_reason}
    if code is not None:
        container["exitCode"] = code
    if stream:
        container["logStreamName"] = stream
    return {"statusReason": reason, "container": container}


def script() -> type[BatchScript]:
    by_key = {e.key: e for e in CATALOGUE}
    ces = [_ce("spot", "VALID"), _ce("on-demand", "VALID", state="DISABLED")]
    ces += [_ce(f"broken-{k}", "INVALID", by_key[k].example) for k in sorted(CE_KEYS)]
    jobs: dict[str, Any] = {}
    for n, key in enumerate(sorted(RUNNABLE_KEYS)):
        jobs[f"r{n}"] = _job(f"r{n}", "RUNNABLE", by_key[key].example)
    jobs["r-wait"] = _job("r-wait", "RUNNABLE")
    for n, key in enumerate(sorted(JOB_KEYS)):
        jobs[f"j{n}"] = _job(f"j{n}", "FAILED", by_key[key].example)
    rest = [e for e in CATALOGUE if e.key not in RUNNABLE_KEYS | CE_KEYS | JOB_KEYS]
    for n in range(0, len(rest), 5):
        # Start failures: "Task failed to start" on the attempt, the error on the container.
        attempts = [
            _attempt(e.example)
            if e.key in ATTEMPT_KEYS
            else _attempt("Task failed to start", container_reason=e.example)
            for e in rest[n : n + 5]
        ]
        jobs[f"f{n}"] = _job(f"f{n}", "FAILED", "Essential container in task exited", attempts)
    # Two Spot reclaims, then the job's own failure with its log lines; one stream is gone.
    jobs["spot"] = _job(
        "spot",
        "FAILED",
        "Essential container in task exited",
        [
            _attempt(RECLAIM, stream="worker/default/a1"),
            _attempt(RECLAIM, stream="worker/default/expired"),
            _attempt("Essential container in task exited", code=1, stream="worker/default/a3"),
        ],
    )
    jobs["ok"] = _job("ok", "SUCCEEDED", "", [_attempt(RECLAIM), _attempt("", code=0)])

    class Scripted(BatchScript):
        calls: list[str] = []  # noqa: RUF012 - per-test state of a handler class

    Scripted.stack = STACK
    Scripted.resources = [
        ("JobQueue", "AWS::Batch::JobQueue", QUEUE),
        ("LogGroup", "AWS::Logs::LogGroup", GROUP),
        ("S3BucketPolicy", "AWS::S3::BucketPolicy", ""),
    ] + [
        (c["computeEnvironmentName"], "AWS::Batch::ComputeEnvironment", c["computeEnvironmentArn"])
        for c in ces
    ]
    Scripted.compute_environments = ces
    Scripted.job_queues = [
        {
            "jobQueueName": "JobQueue-abc",
            "jobQueueArn": QUEUE,
            "state": "ENABLED",
            "status": "VALID",
        }
    ]
    Scripted.jobs = jobs
    Scripted.logs = {
        f"{GROUP}/worker/default/a1": ["starting", "chunk 1/4 done"],
        f"{GROUP}/worker/default/a3": [f"line {i}" for i in range(1, 9)]
        + ["Traceback (most recent call last):", "ValueError: bad record 17"],
    }
    return Scripted


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[BatchScript]]]:
    handler = script()
    with serve(handler) as url:
        yield url, handler


def doctor(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**base_env(tmp_path), "AWS_ENDPOINT_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "cfgen", "doctor", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_doctor_names_every_cause_and_fix(tmp_path: Path, endpoint: tuple[str, Any]) -> None:
    url, handler = endpoint
    proc = doctor(tmp_path, url, "--stack", STACK)
    assert proc.returncode == 1, explain(proc)
    out = proc.stdout
    # Every catalogue entry was met and explained, with its fix.
    for entry in CATALOGUE:
        assert f"[{entry.key}]" in out, entry.key
        assert f"fix: {entry.fix}" in out, entry.key
    # Why: a compute environment that went INVALID, with the reason and its fix.
    assert re.search(
        r"FAIL\s+compute-environment\s+compute environment broken-service-role-assume", out
    )
    # Why: a job asking for more memory than any instance type has.
    assert re.search(
        r"FAIL\s+runnable\s+job job-r\d \(r\d\) RUNNABLE: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        out,
    )
    assert "INFO  runnable             job job-r-wait (r-wait) RUNNABLE: waiting its turn" in out
    # Last log lines; a missing stream is reported, not a crash.
    assert (
        "last 5 log line(s): line 6 | line 7 | line 8 | Traceback (most recent call last): | ValueError: bad record 17"
        in out
    )
    assert f"log stream {GROUP}/worker/default/expired does not exist" in out
    # Spot reclaims: 2 in the failed job + 1 in the succeeded one, of all attempts seen,
    attempts = sum(len(j["attempts"]) for j in handler.jobs.values() if j["status"] != "RUNNABLE")
    # plus the catalogue's own spot-reclaim example on a start-failure job.
    assert f"4 of {attempts} recent attempts ended in a Spot reclaim" in out
    check_golden("doctor.txt", out)
    assert handler.calls and all(
        re.match(r"^(Describe|Get|List|/v1/(describe|list))", c) for c in handler.calls
    ), handler.calls


def test_doctor_one_job_as_json(tmp_path: Path, endpoint: tuple[str, Any]) -> None:
    url, _ = endpoint
    proc = doctor(
        tmp_path, url, "--stack", STACK, "--job", "spot", "--format", "json", "--log-lines", "2"
    )
    assert proc.returncode == 0, explain(proc)
    report = json.loads(proc.stdout)
    checks = report["checks"]
    assert [c["check"] for c in checks] == [
        "job",
        "attempt",
        "logs",
        "attempt",
        "logs",
        "attempt",
        "logs",
        "spot-reclaims",
    ]
    assert checks[-1]["message"] == "2 of 3 attempts ended in a Spot reclaim"
    assert (
        checks[1]["source"] == "https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"
    )
    assert checks[6]["message"].endswith(
        "last 2 log line(s): Traceback (most recent call last): | ValueError: bad record 17"
    )
    check_golden("doctor-job.json", proc.stdout)


def test_doctor_bad_input_is_one_line_exit_2(tmp_path: Path, endpoint: tuple[str, Any]) -> None:
    url, _ = endpoint
    for args, needle in (
        (["--stack", "nope"], "stack='nope'"),
        (["--stack", STACK, "--job", "missing"], "job='missing': no such job"),
        (["--stack", STACK, "--log-lines", "-1"], "log-lines=-1"),
        ([], "--stack"),
    ):
        proc = doctor(tmp_path, url, *args)
        assert proc.returncode == 2, explain(proc)
        assert proc.stdout == "" and proc.stderr.count("\n") == 1 and needle in proc.stderr


def test_every_catalogue_example_is_explained_by_its_own_entry() -> None:
    assert len(CATALOGUE) >= 25
    assert len({e.key for e in CATALOGUE}) == len(CATALOGUE)
    for entry in CATALOGUE:
        assert catalogue_explain(entry.example) is entry, entry.key
        assert entry.source.startswith("https://"), entry.key
        assert entry.cause and entry.fix, entry.key
