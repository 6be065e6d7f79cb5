"""Network, S3 and disk faults, through the real entry point (``python -m spotworker``).

Network and S3 faults come from a fault-injecting proxy on 127.0.0.1 in front of
the moto server (tests/faultproxy.py): bodies cut by a clean close (FIN) or a
reset (RST), stalled connections, S3 5xx answers, connections closed before the
response. Disk faults come from a real, tiny tmpfs (a private mount namespace,
``unshare``). The worker itself is never patched.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from faultproxy import FaultProxy
from moto.server import ThreadedMotoServer
from spotworker import exitcodes
from swtestlib import (
    TESTS_DIR,
    committed_lines,
    expected,
    gen_records,
    job_result,
    jsonl,
    run_subprocess,
    worker_env,
)

# Small reads and a short read timeout, so that every fault shows within a second.
FAST = {
    "CFGEN_READ_CHUNK_BYTES": "2048",
    "CFGEN_S3_MAX_ATTEMPTS": "2",
    "CFGEN_S3_READ_TIMEOUT_SECONDS": "0.5",
}


@pytest.fixture
def data(s3: Any, bucket: str) -> list[Any]:
    recs = [gen_records(400, 1), gen_records(400, 2)]
    for i, r in enumerate(recs):
        s3.put_object(Bucket=bucket, Key=f"input/{i}.jsonl", Body=jsonl(r))
    return [x for r in recs for x in r]


def via(proxy: FaultProxy, bucket: str, tmp_path: Path, **extra: Any) -> dict[str, str]:
    return {**worker_env(bucket, tmp_path, **FAST, **extra), "AWS_ENDPOINT_URL": proxy.url}


# (rule, exit code of the faulted attempt, reconnects it logs)
CASES: dict[str, tuple[dict[str, Any], int, int]] = {
    # a body cut short, three times: each reopens the range at the next unread byte
    "body-fin-x3": (
        {"action": "fin", "method": "GET", "path": "/input/", "after": 1000, "times": 3},
        0,
        3,
    ),
    "body-rst-x3": (
        {"action": "rst", "method": "GET", "path": "/input/", "after": 1000, "times": 3},
        0,
        3,
    ),
    "body-stall-x2": (
        {
            "action": "stall",
            "method": "GET",
            "path": "/input/",
            "after": 500,
            "times": 2,
            "seconds": 5,
        },
        0,
        2,
    ),
    # every body cut before its first byte: no progress, gives up after 5 reconnects: 75
    "body-fin-always": (
        {"action": "fin", "method": "GET", "path": "/input/", "after": 0, "times": -1},
        75,
        5,
    ),
    "body-rst-always": (
        {"action": "rst", "method": "GET", "path": "/input/", "after": 0, "times": -1},
        75,
        5,
    ),
    # S3 5xx: botocore's standard retries absorb a few, then exit 75
    "get-503-once": ({"action": "status", "method": "GET", "path": "/input/", "times": 1}, 0, 0),
    "get-503-always": (
        {"action": "status", "method": "GET", "path": "/input/", "times": -1},
        75,
        0,
    ),
    "put-500-always": (
        {"action": "status", "method": "PUT", "times": -1, "status": 500, "code": "InternalError"},
        75,
        0,
    ),
    "list-503-always": (
        {"action": "status", "method": "GET", "path": "list-type=2", "times": -1},
        75,
        0,
    ),
    # connections closed or stalled before any response
    "put-rst-before-response-once": (
        {"action": "rst", "method": "PUT", "after": -1, "times": 1},
        0,
        0,
    ),
    "head-fin-before-response-always": (
        {"action": "fin", "method": "HEAD", "after": -1, "times": -1},
        75,
        0,
    ),
    "checkpoint-put-stall-always": (
        {
            "action": "stall",
            "method": "PUT",
            "path": "/checkpoints/",
            "after": -1,
            "times": -1,
            "seconds": 5,
        },
        75,
        0,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_network_and_s3_faults(
    s3: Any, bucket: str, *, tmp_path: Path, data: list[Any], proxy: FaultProxy, case: str
) -> None:
    rule, code, reconnects = CASES[case]
    proxy.add(**rule)
    env = via(proxy, bucket, tmp_path)
    run = run_subprocess(env)
    assert run.code == code, run.raw
    assert "Traceback" not in run.raw
    assert len(run.named("reconnect")) == reconnects, run.raw
    if code == exitcodes.SUCCESS:
        assert job_result(s3, bucket) == expected(data)
        return
    assert code in exitcodes.RETRYABLE
    assert run.named("failed")[0]["reason"] == "TransientError"
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="output/job-1234/_commits/")["KeyCount"]
    # the fault is gone: the retry succeeds from the last durable point
    proxy.clear()
    again = run_subprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert again.code == 0, again.raw
    assert job_result(s3, bucket) == expected(data)


@pytest.mark.parametrize("task", ["aggregate", "aggregate_per_record"])
def test_the_next_objects_get_is_sent_while_the_last_one_is_finished(
    s3: Any, bucket: str, *, tmp_path: Path, data: list[Any], proxy: FaultProxy, task: str
) -> None:
    # Held until both have arrived: the GET of the second object and the upload of the
    # first one's part. Sent one after the other, the first of them would wait alone.
    # (the default read timeout: a request held alone for 5 s is not sent again)
    barrier = proxy.add(
        action="barrier", path=r"/input/1\.jsonl|/obj-000000-", times=2, parties=2, seconds=5
    )
    env = {**worker_env(bucket, tmp_path, CFGEN_TASK=task), "AWS_ENDPOINT_URL": proxy.url}
    run = run_subprocess(env)
    assert run.code == 0, run.raw
    assert (barrier.hits, barrier.timeouts) == (2, 0), run.raw
    assert job_result(s3, bucket) == expected(data)


@pytest.mark.parametrize("task", ["aggregate", "aggregate_per_record"])
def test_a_get_sent_ahead_for_a_replaced_object_restarts_it(
    s3: Any, bucket: str, *, tmp_path: Path, data: list[Any], proxy: FaultProxy, task: str
) -> None:
    # S3's answer to a GET whose IfMatch no longer holds, on the GET sent ahead
    proxy.add(
        action="status",
        method="GET",
        path=r"/input/1\.jsonl",
        status=412,
        code="PreconditionFailed",
    )
    run = run_subprocess(via(proxy, bucket, tmp_path, CFGEN_TASK=task))
    assert run.code == 0, run.raw
    assert [e["object"] for e in run.named("input_changed")] == ["input/1.jsonl"]
    assert job_result(s3, bucket) == expected(data)


def test_cut_checkpoint_read_is_transient(
    s3: Any, bucket: str, tmp_path: Path, data: list[Any], proxy: FaultProxy
) -> None:
    """A body cut while reading the checkpoint (FIN and RST) is 75, never 70."""
    env = via(proxy, bucket, tmp_path, CFGEN_CHECKPOINT_SECONDS=0)
    proxy.add(action="status", method="PUT", path="/_commits/", times=-1, code="SlowDown")
    assert run_subprocess(env).code == exitcodes.TRANSIENT  # leaves a checkpoint behind
    for action in ("fin", "rst"):
        proxy.clear()
        proxy.add(action=action, method="GET", path="/checkpoints/", after=10, times=-1)
        run = run_subprocess(env)
        assert run.code == exitcodes.TRANSIENT, run.raw
        assert "checkpoint" in run.named("failed")[0]["error"]
    proxy.clear()
    assert run_subprocess(env).code == 0
    assert job_result(s3, bucket) == expected(data)


# -- disk ---------------------------------------------------------------------------
def _unshare_ok() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True
    )
    return probe.returncode == 0


needs_unshare = pytest.mark.skipif(
    not _unshare_ok(), reason="needs unshare (user and mount namespaces) for a private tmpfs"
)


def tmpfs_prefix(mountpoint: Path, options: str) -> list[str]:
    """Run the command with a tiny tmpfs of its own mounted on ``mountpoint``."""
    script = f'mount -t tmpfs -o {options} none "{mountpoint}" && exec "$@"'
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"]


@needs_unshare
@pytest.mark.parametrize(
    ("options", "where"),
    [("size=1m,nr_inodes=1", "mkdir"), ("size=4k,nr_inodes=100", "write")],
    ids=["no-inodes-for-scratch-dir", "no-space-for-scratch-file"],
)
def test_disk_full_is_transient_then_resumes(
    s3: Any, bucket: str, tmp_path: Path, options: str, where: str
) -> None:
    recs = gen_records(800, 3)
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=jsonl(recs))
    # the map-style task streams one output line per record: 800 lines overflow 4 KiB
    env = worker_env(
        bucket, tmp_path, CFGEN_TASK="sw_example_tasks:upper", PYTHONPATH=str(TESTS_DIR)
    )
    run = run_subprocess(env, prefix=tmpfs_prefix(Path(env["TMPDIR"]), options))
    assert run.code == exitcodes.TRANSIENT, run.raw
    failed = run.named("failed")[0]
    assert failed["reason"] == "DiskFullError" and "No space left" in failed["error"]
    if where == "mkdir":  # before any S3 request
        assert not run.named("start")
    again = run_subprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert again.code == 0, again.raw
    lines = [json.loads(x) for x in committed_lines(s3, bucket)]
    assert lines[-1] == {"total": 800} and len(lines) == 801


# -- access denied --------------------------------------------------------------------
@pytest.fixture
def auth_server() -> Iterator[str]:
    """A moto server of its own that enforces IAM (so AccessDenied is moto's, not ours)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        req = urllib.request.Request(  # back to no auth for whoever shares the process
            f"{url}/moto-api/reset-auth",
            data=b"inf",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(req).read()
        server.stop()


def test_access_denied_is_permanent(auth_server: str, tmp_path: Path) -> None:
    admin = boto3.session.Session(
        aws_access_key_id="AKIAADMIN000000000",
        aws_secret_access_key="admin",
        region_name="us-east-1",
    )
    bucket = f"data-{uuid.uuid4().hex[:12]}"
    s3 = admin.client("s3", endpoint_url=auth_server)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=b'{"key": "a", "value": 1}\n')
    iam = admin.client("iam", endpoint_url=auth_server)
    iam.create_user(UserName="worker")
    policy = {  # the job role of docs/CONTRACT.md, but without read access to input/*
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [
                    f"arn:aws:s3:::{bucket}/{p}*"
                    for p in ("output/", "checkpoints/", "deadletter/", "scratch/")
                ],
            },
        ],
    }
    iam.put_user_policy(UserName="worker", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    req = urllib.request.Request(
        f"{auth_server}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(req).read()
    env = {
        **worker_env(bucket, tmp_path),
        "AWS_ENDPOINT_URL": auth_server,
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }
    run = run_subprocess(env)
    assert run.code == exitcodes.NO_PERMISSION, run.raw
    assert exitcodes.NO_PERMISSION not in exitcodes.RETRYABLE
    assert "reading s3://" in run.named("failed")[0]["error"]
    assert "AccessDenied" in run.named("failed")[0]["error"]
    assert key["SecretAccessKey"] not in run.raw
