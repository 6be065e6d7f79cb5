"""Injected S3 faults (botocore event hooks), disk full, access denied."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from faultrun import install
from moto.server import ThreadedMotoServer
from spotworker import exitcodes
from spotworker.config import load_config
from spotworker.s3io import make_client
from swtestlib import expected, gen_records, job_result, jsonl, run_inprocess, worker_env


def faulty_run(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, **faults: str) -> Any:
    for name, value in faults.items():
        monkeypatch.setenv(name, value)
    cfg = load_config(env)
    client = make_client(cfg)
    install(client, cfg)
    return run_inprocess(env, client=client)


@pytest.fixture
def data(s3: Any, bucket: str) -> list[Any]:
    recs = [gen_records(400, 1), gen_records(400, 2)]
    for i, r in enumerate(recs):
        s3.put_object(Bucket=bucket, Key=f"input/{i}.jsonl", Body=jsonl(r))
    return [x for r in recs for x in r]


@pytest.mark.parametrize(
    ("faults", "code"),
    [
        ({"FAULT_503": "GetObject:2"}, exitcodes.SUCCESS),
        ({"FAULT_503": "GetObject:-1"}, exitcodes.TRANSIENT),
        ({"FAULT_503": "PutObject:2"}, exitcodes.SUCCESS),
        ({"FAULT_503": "ListObjectsV2:-1"}, exitcodes.TRANSIENT),
        ({"FAULT_RESET": "PutObject:2"}, exitcodes.SUCCESS),
        ({"FAULT_RESET": "GetObject:-1"}, exitcodes.TRANSIENT),
        ({"FAULT_RESET": "HeadObject:-1"}, exitcodes.TRANSIENT),
        ({"FAULT_BODY_RESET": "1:3"}, exitcodes.SUCCESS),
        ({"FAULT_BODY_RESET": "0:50"}, exitcodes.TRANSIENT),
    ],
    ids=str,
)
def test_s3_faults_retry_then_transient(  # noqa: PLR0917
    s3: Any,
    bucket: str,
    tmp_path: Path,
    data: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    faults: dict[str, str],
    code: int,
) -> None:
    env = worker_env(bucket, tmp_path, CFGEN_READ_CHUNK_BYTES=2048, CFGEN_S3_MAX_ATTEMPTS=3)
    run = faulty_run(env, monkeypatch, **faults)
    assert run.code == code, run.raw
    if code == exitcodes.SUCCESS:
        assert job_result(s3, bucket) == expected(data)
        if "FAULT_BODY_RESET" in faults:
            assert len(run.named("reconnect")) == 3
    else:
        assert code in exitcodes.RETRYABLE
        # nothing committed; a clean retry then succeeds from the last durable point
        monkeypatch.delenv(next(iter(faults)))
        again = run_inprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
        assert again.code == 0, again.raw
        assert job_result(s3, bucket) == expected(data)


def test_disk_full_on_scratch_is_transient_then_resumes(
    s3: Any, bucket: str, tmp_path: Path, data: list[Any]
) -> None:
    env = worker_env(bucket, tmp_path)
    scratch = Path(env["TMPDIR"]) / "spotworker-job-1234-00000"
    scratch.mkdir(parents=True)
    (scratch / "out.part").symlink_to("/dev/full")  # every write: ENOSPC from the kernel
    run = run_inprocess(env)
    assert run.code == exitcodes.TRANSIENT, run.raw
    failed = run.named("failed")[0]
    assert failed["reason"] == "DiskFullError" and "No space left" in failed["error"]
    again = run_inprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert again.code == 0, again.raw
    assert job_result(s3, bucket) == expected(data)


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


def test_access_denied_is_permanent(
    auth_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    monkeypatch.setenv("AWS_ENDPOINT_URL", auth_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    run = run_inprocess(worker_env(bucket, tmp_path))
    assert run.code == exitcodes.NO_PERMISSION, run.raw
    assert exitcodes.NO_PERMISSION not in exitcodes.RETRYABLE
    assert "reading s3://" in run.named("failed")[0]["error"]
    assert "AccessDenied" in run.named("failed")[0]["error"]
    assert key["SecretAccessKey"] not in run.raw
    _ = os
