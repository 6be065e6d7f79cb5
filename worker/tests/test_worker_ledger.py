"""The cost ledger (spotworker.ledger) against the emulator's S3, the fake IMDS and a
scripted ECS task metadata endpoint on 127.0.0.1.

The ECS endpoint is scripted (moto has none): it answers ``GET <uri>/task`` with
the fields of the v4 task metadata response the ledger reads, as documented in
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-response.html
"""

from __future__ import annotations

import io
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakeimds import FakeIMDS
from faultproxy import FaultProxy
from spotworker import exitcodes, ledger
from spotworker.config import load_config
from spotworker.interrupt import StopFlag
from spotworker.logs import EventLog
from swtestlib import (
    Worker,
    gen_records,
    jsonl,
    nth,
    run_inprocess,
    worker_env,
)

FARGATE_TASK = {
    "Cluster": "arn:aws:ecs:us-east-1:111122223333:cluster/AWSBatch-fargate",
    "TaskARN": "arn:aws:ecs:us-east-1:111122223333:task/AWSBatch-fargate/0f1e2d3c",
    "Family": "worker",
    "Revision": "3",
    "Limits": {"CPU": 0.5, "Memory": 1024},
    "AvailabilityZone": "us-east-1c",
    "LaunchType": "FARGATE",
    "Containers": [],
}


class ScriptedECSMetadata:
    """``GET /task`` answers ``task`` (a dict, or raw bytes); ``delay`` seconds first."""

    def __init__(self, task: dict[str, Any] | bytes, delay: float = 0.0) -> None:
        body = task if isinstance(task, bytes) else json.dumps(task).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                time.sleep(delay)
                ok = self.path.rstrip("/").endswith("/task")
                payload = body if ok else b"{}"
                self.send_response(200 if ok else 404)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self._server.server_address[1]}/v4/abc-123"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def ecs() -> Iterator[ScriptedECSMetadata]:
    server = ScriptedECSMetadata(FARGATE_TASK)
    try:
        yield server
    finally:
        server.close()


def _put_input(s3: Any, bucket: str, n: int = 200) -> None:
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=jsonl(gen_records(n, 7)))


def _record(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return body


def _ledger_keys(s3: Any, bucket: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="ledger/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_ec2_record_from_imds_and_batch_variables(
    s3: Any, bucket: str, tmp_path: Path, imds: FakeIMDS
) -> None:
    _put_input(s3, bucket)
    env = worker_env(
        bucket,
        tmp_path,
        AWS_BATCH_JOB_ID="job-77:3",
        AWS_BATCH_JOB_ARRAY_INDEX="3",
        CFGEN_ARRAY_SIZE="4",
        AWS_BATCH_JOB_ATTEMPT="2",
        AWS_BATCH_JQ_NAME="batch-JobQueue-abc",
        AWS_BATCH_CE_NAME="SpotComputeEnvironment-xyz",
        CFGEN_IMDS_POLL="1",
        AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint("ec2"),
    )
    run = run_inprocess(env)
    assert run.code == 0, run.raw
    (line,) = run.named("ledger")
    assert line == {**line, "status": "written", "key": "ledger/job-77/3/2.json"}
    rec = _record(s3, bucket, "ledger/job-77/3/2.json")
    assert rec["format"] == ledger.FORMAT == 1
    assert (rec["job_id"], rec["array_index"], rec["attempt"]) == ("job-77", 3, 2)
    assert rec["queue"] == "batch-JobQueue-abc"
    assert rec["compute_environment"] == "SpotComputeEnvironment-xyz"
    assert rec["exit"] == {"reason": "done", "code": 0, "stop": None}
    assert rec["host"] == {
        **rec["host"],
        "platform": "ec2",
        "instance_type": "c6i.xlarge",
        "lifecycle": "spot",
        "availability_zone": "us-east-1b",
        "instance_id": "i-0123456789abcdef0",
    }
    assert rec["missing"] == []
    # shard 3 of 4 holds the one object (shard_of), or none: its numbers are this attempt's
    done = run.named("done")[0]
    assert rec["work"]["bytes"] == done["attempt_bytes"] == done["bytes"]
    assert rec["work"]["records"] == done["records"]
    assert rec["work"]["resumed_bytes"] == 0
    assert rec["started_at"] <= rec["ended_at"] and rec["duration_s"] >= 0


def test_fargate_record_from_the_task_metadata_endpoint(
    s3: Any, bucket: str, tmp_path: Path, ecs: ScriptedECSMetadata, imds: FakeIMDS
) -> None:
    _put_input(s3, bucket)
    env = worker_env(
        bucket,
        tmp_path,
        ECS_CONTAINER_METADATA_URI_V4=ecs.uri,
        AWS_BATCH_JQ_NAME="q",
        AWS_BATCH_CE_NAME="FargateSpotComputeEnvironment-1",
        # IMDS would answer (the Spot notice poller asks it), but the record of a
        # Fargate task never takes instance facts from it
        CFGEN_IMDS_POLL="1",
        AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint("fargate"),
    )
    run = run_inprocess(env)
    assert run.code == 0, run.raw
    rec = _record(s3, bucket, "ledger/job-1234/0/1.json")
    host = rec["host"]
    assert host["platform"] == "fargate"
    assert (host["vcpus"], host["memory_mib"]) == (0.5, 1024)
    assert host["launch_type"] == "FARGATE"
    assert host["availability_zone"] == "us-east-1c"
    assert host["task_arn"] == FARGATE_TASK["TaskARN"]
    assert host["instance_type"] is None
    assert rec["work"]["records"] == 200 and rec["missing"] == []


def test_nothing_known_is_listed_as_missing(s3: Any, bucket: str, tmp_path: Path) -> None:
    _put_input(s3, bucket)
    run = run_inprocess(worker_env(bucket, tmp_path))  # local: no Batch, no IMDS, no ECS
    assert run.code == 0
    rec = _record(s3, bucket, "ledger/job-1234/0/1.json")
    assert rec["host"]["platform"] == "unknown"
    assert rec["missing"] == ["compute_environment", "host.platform", "queue"]


def test_a_record_is_written_once_and_never_replaced(s3: Any, bucket: str, tmp_path: Path) -> None:
    _put_input(s3, bucket)
    env = worker_env(bucket, tmp_path)
    assert run_inprocess(env).code == 0
    first = s3.get_object(Bucket=bucket, Key="ledger/job-1234/0/1.json")["ETag"]
    again = run_inprocess(env)  # the same attempt number again (a local rerun)
    assert again.code == 0
    assert again.named("ledger")[0]["status"] == "exists"
    assert s3.get_object(Bucket=bucket, Key="ledger/job-1234/0/1.json")["ETag"] == first
    assert run_inprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"}).code == 0
    assert _ledger_keys(s3, bucket) == ["ledger/job-1234/0/1.json", "ledger/job-1234/0/2.json"]


def test_an_interrupted_attempt_records_the_reason_and_where_it_resumes(
    s3: Any, bucket: str, tmp_path: Path, proxy: FaultProxy
) -> None:
    _put_input(s3, bucket, 3000)
    proxy.add(action="throttle", method="GET", path="/input/", times=-1, rate=40_000)
    env = worker_env(bucket, tmp_path, CFGEN_READ_CHUNK_BYTES=4096, CFGEN_CHECKPOINT_SECONDS=0.2)
    worker = Worker({**env, "AWS_ENDPOINT_URL": proxy.url})
    worker.wait_for(nth("checkpoint", 2))
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.finish() == exitcodes.INTERRUPTED, "".join(worker.raw)
    rec1 = _record(s3, bucket, "ledger/job-1234/0/1.json")
    assert rec1["exit"] == {"reason": "interrupted", "code": 143, "stop": "SIGTERM"}
    assert 0 < rec1["work"]["bytes"] == rec1["work"]["end_bytes"]
    assert rec1["work"]["end_bytes"] == worker.named("interrupt")[0]["bytes"]
    second = run_inprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert second.code == 0
    rec2 = _record(s3, bucket, "ledger/job-1234/0/2.json")
    # it resumed where the first stopped (the checkpoint at the safe point): nothing redone
    assert rec2["work"]["resumed_bytes"] == rec1["work"]["end_bytes"]
    assert rec2["work"]["resumed_records"] == rec1["work"]["end_records"]
    assert rec2["work"]["end_records"] == 3000
    assert rec1["work"]["records"] + rec2["work"]["records"] == 3000


def test_a_failed_write_is_one_log_line(tmp_path: Path) -> None:
    # A real S3 error: the record's bucket does not exist.
    cfg = load_config(worker_env("no-such-bucket-ledger", tmp_path))
    out = io.StringIO()
    ledger.Attempt(cfg).finish(exitcodes.DATA_ERROR, StopFlag(), EventLog(out))
    (line,) = [json.loads(x) for x in out.getvalue().splitlines()]
    assert line["event"] == "ledger" and line["status"] == "failed"
    assert "NoSuchBucket" in line["error"]


def test_the_write_is_bounded_in_time(
    s3: Any, bucket: str, tmp_path: Path, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put_input(s3, bucket)
    monkeypatch.setattr(ledger, "DEADLINE_SECONDS", 1.0)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    proxy.add(action="stall", method="PUT", path="/ledger/", after=-1, times=-1, seconds=20)
    started = time.monotonic()
    run = run_inprocess(worker_env(bucket, tmp_path))
    assert run.code == 0, run.raw
    assert time.monotonic() - started < 10
    assert run.named("ledger")[0]["status"] == "timeout"
    assert run.named("done")[0]["status"] == "committed"


def test_slow_or_broken_metadata_endpoints_are_bounded(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    slow = ScriptedECSMetadata(FARGATE_TASK, delay=5)
    broken = ScriptedECSMetadata(b"{not json")
    try:
        for server in (slow, broken):
            cfg = load_config(
                worker_env(bucket, tmp_path, ECS_CONTAINER_METADATA_URI_V4=server.uri)
            )
            started = time.monotonic()
            rec = ledger.Attempt(cfg).record(0, StopFlag())
            assert time.monotonic() - started < 3
            assert rec["host"]["vcpus"] is None and rec["host"]["platform"] == "unknown"
    finally:
        slow.close()
        broken.close()


def test_sigkill_while_writing_leaves_no_partial_record(
    s3: Any, bucket: str, tmp_path: Path, proxy: FaultProxy
) -> None:
    """SIGKILL (ECS after the stop timeout, an OOM kill) in the middle of the ledger PUT:
    S3 stores an object only once the whole request has arrived, so the record of that
    attempt is absent (cfgen report fills it from Batch and says so), never half written."""
    _put_input(s3, bucket)
    rule = proxy.add(action="delay", method="PUT", path="/ledger/", times=-1, seconds=30)
    env = worker_env(bucket, tmp_path, AWS_ENDPOINT_URL=proxy.url)
    worker = Worker(env)
    deadline = time.monotonic() + 30
    while proxy.arrivals(rule) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proxy.arrivals(rule) == 1, "".join(worker.raw)
    worker.proc.send_signal(signal.SIGKILL)
    assert worker.proc.wait(10) == -signal.SIGKILL
    proxy.clear()
    assert _ledger_keys(s3, bucket) == []
    # the retry writes its own record; the killed attempt's stays absent
    retry = Worker({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert retry.finish() == 0
    assert _ledger_keys(s3, bucket) == ["ledger/job-1234/0/2.json"]
