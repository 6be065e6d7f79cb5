"""Edges of issue 15 and 14: numbers, keys, configuration before any S3 request,
--help, merge layouts, IMDS only in an ECS task, the DescribeJobs fallback, and
checkpoints whatever their content (property-based, hypothesis).

Everything runs through the real entry point: ``python -m spotworker`` in a
subprocess, or ``spotworker.__main__.run`` in process for the many checkpoint
examples. S3 requests are counted by the fault proxy (a rule that matches every
request and does nothing).
"""

from __future__ import annotations

import json
import signal
import socket
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

import boto3
import pytest
from fakeimds import FakeIMDS
from faultproxy import FaultProxy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spotworker import exitcodes
from swtestlib import (
    Run,
    Worker,
    base_env,
    committed_lines,
    direct_s3,
    expected,
    gen_records,
    job_result,
    jsonl,
    nth,
    run_inprocess,
    run_subprocess,
    worker_env,
)


def counted(
    proxy: FaultProxy, bucket: str, tmp_path: Path, **extra: Any
) -> tuple[dict[str, str], Any]:
    rule = proxy.add(action="delay", times=-1, seconds=0)  # counts every request
    env = {**worker_env(bucket, tmp_path, **extra), "AWS_ENDPOINT_URL": proxy.url}
    return env, rule


def merged(run: Run, s3: Any, bucket: str, job: str = "job-1234") -> dict[str, dict[str, Any]]:
    """The merge's result.jsonl, read as plain JSON (not by the worker's code)."""
    assert run.code == 0, run.raw
    body = s3.get_object(Bucket=bucket, Key=f"output/{job}/result.jsonl")["Body"].read()
    return {r["key"]: r for r in map(json.loads, body.splitlines())}


# -- numbers and keys -------------------------------------------------------------
def test_exact_sums_of_any_finite_number(s3: Any, bucket: str, tmp_path: Path) -> None:
    """The values of issue 15 that raised decimal.Inexact, in JSON and CSV, and merged
    across shards: every sum exact (checked with fractions, not decimal)."""
    big = "9" * 61
    json_values = {"a": ["1e70", "0.5"], "b": [big, "1"], "c": ["1e-70", "1"], "d": ["1e59"]}
    csv_values = {"e": ["1e60", "0.1"], "d": ["0.01"]}
    s3.put_object(
        Bucket=bucket,
        Key="input/a.jsonl",
        Body="".join(
            f'{{"key": "{k}", "value": {v}}}\n' for k, vs in json_values.items() for v in vs
        ).encode(),
    )
    s3.put_object(
        Bucket=bucket,
        Key="input/b.csv",
        Body=(
            "key,value\n" + "".join(f"{k},{v}\n" for k, vs in csv_values.items() for v in vs)
        ).encode(),
    )
    for i in range(2):  # two shards: "d" is summed by merge (1e59 + 0.01)
        env = worker_env(
            bucket,
            tmp_path,
            AWS_BATCH_JOB_ID=f"job-1234:{i}",
            AWS_BATCH_JOB_ARRAY_INDEX=i,
            CFGEN_ARRAY_SIZE=2,
            CFGEN_MAX_BAD_RATIO=0,
        )
        run = run_subprocess(env)
        assert run.code == 0, run.raw
    result = merged(
        run_subprocess(env, argv=["merge", "--job-id", "job-1234", "--shards", "2"]), s3, bucket
    )
    every: dict[str, list[str]] = {}
    for values in (json_values, csv_values):
        for k, vs in values.items():
            every.setdefault(k, []).extend(vs)
    for key, vs in every.items():
        assert Fraction(result[key]["sum"]) == sum(map(Fraction, vs)), key
        assert Fraction(result[key]["min"]) == min(map(Fraction, vs))
        assert Fraction(result[key]["max"]) == max(map(Fraction, vs))
        assert result[key]["count"] == len(vs)


def test_numbers_outside_the_range_and_bad_keys_are_dead_lettered(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    good = [b'{"key": "a", "value": 1}', b'{"key": "a", "value": 1' + b"0" * 2000 + b"e-2000}"]
    bad = [
        b'{"key": "\\ud800", "value": 1}',  # a lone surrogate: the key could not be written
        b'{"key": "b", "value": 1e1001}',
        b'{"key": "b", "value": 1e-1001}',
        b'{"key": "b", "value": 1e99999999999999999999}',
        b'{"key": "b", "value": ' + b"7" * 1002 + b"}",
    ]
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=b"\n".join(good + bad) + b"\n")
    run = run_subprocess(worker_env(bucket, tmp_path, CFGEN_MAX_BAD_RATIO=1))
    assert run.code == 0, run.raw
    dead = [json.loads(x) for x in committed_lines(s3, bucket, "deadletters")]
    assert [d["line"] for d in dead] == [3, 4, 5, 6, 7]
    assert "lone surrogate" in dead[0]["reason"]
    assert all("outside the supported range" in d["reason"] for d in dead[1:])
    assert job_result(s3, bucket) == {"a": (2, 2, 1, 1)}


# -- configuration: exit 2, one line, before any S3 request ------------------------
@pytest.mark.parametrize(
    ("extra", "start"),
    [
        ({"CFGEN_TASK": "os:getcwd"}, "CFGEN_TASK='os:getcwd': not a task factory"),
        ({"CFGEN_TASK": "json:dumps"}, "CFGEN_TASK='json:dumps': not a task factory"),
        (
            {"CFGEN_TASK": "no_such_module:factory"},
            "CFGEN_TASK='no_such_module:factory': cannot load",
        ),
        ({"TMPDIR": "FILE"}, "TMPDIR="),
        ({"TMPDIR": "MISSING"}, "TMPDIR="),
        ({"CFGEN_DATA_BUCKET": "Bad Bucket!"}, "CFGEN_DATA_BUCKET='Bad Bucket!': must be"),
        ({"CFGEN_CHECKPOINT_SECONDS": "1e9"}, "CFGEN_CHECKPOINT_SECONDS='1e9': must be"),
        ({"CFGEN_S3_READ_TIMEOUT_SECONDS": "0"}, "CFGEN_S3_READ_TIMEOUT_SECONDS='0': must be"),
        ({"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, "AWS credentials: none found"),
        (
            {"AWS_BATCH_JOB_ID": "j:1", "AWS_BATCH_JOB_ARRAY_INDEX": "1", "CFGEN_ARRAY_SIZE": "1"},
            "AWS_BATCH_JOB_ARRAY_INDEX=1: must be below",
        ),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_configuration_error_is_one_line_before_any_s3_request(
    bucket: str, tmp_path: Path, proxy: FaultProxy, extra: dict[str, str], start: str
) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("x")
    paths = {"FILE": str(afile), "MISSING": str(tmp_path / "missing")}
    extra = {k: paths.get(v, v) for k, v in extra.items()}
    env, requests = counted(proxy, bucket, tmp_path, **extra)
    run = run_subprocess(env)
    assert run.code == exitcodes.USAGE, run.raw
    assert run.stdout == ""
    assert run.stderr.startswith(start) and run.stderr.count("\n") == 1, run.stderr
    assert requests.hits == 0


def test_help_prints_usage_and_touches_nothing(
    bucket: str, tmp_path: Path, proxy: FaultProxy
) -> None:
    env, requests = counted(proxy, bucket, tmp_path)
    for argv in (["--help"], ["-h"], ["run", "--help"], ["merge", "--help"]):
        run = run_subprocess(env, argv=argv)
        assert run.code == 0, run.raw
        assert run.stdout.startswith(("usage: python -m spotworker", "usage: spotworker merge"))
        assert run.stderr == ""
    assert requests.hits == 0
    assert not list(Path(env["TMPDIR"]).iterdir())
    bad = run_subprocess(env, argv=["--nope"])
    assert bad.code == exitcodes.USAGE and bad.stderr.count("\n") == 1
    bad = run_subprocess(env, argv=["merge", "--shards", "x"])
    assert bad.code == exitcodes.USAGE and bad.stderr.count("\n") == 1, bad.stderr


# -- merge reads one layout -----------------------------------------------------------
def test_merge_reads_only_the_requested_layout(s3: Any, bucket: str, tmp_path: Path) -> None:
    recs = [gen_records(200, seed) for seed in range(6)]
    for i, r in enumerate(recs):
        s3.put_object(Bucket=bucket, Key=f"input/{i}.jsonl", Body=jsonl(r))

    def shard(i: int, n: int) -> dict[str, str]:
        return worker_env(
            bucket,
            tmp_path,
            AWS_BATCH_JOB_ID=f"job-1234:{i}",
            AWS_BATCH_JOB_ARRAY_INDEX=i,
            CFGEN_ARRAY_SIZE=n,
        )

    for i in range(2):
        assert run_subprocess(shard(i, 2)).code == 0
    assert run_subprocess(shard(0, 3)).code == 0  # part of a 3-shard run of the same job id
    env = shard(0, 2)
    two = run_subprocess(env, argv=["merge", "--job-id", "job-1234", "--shards", "2"])
    assert json.loads(two.stdout) == {
        "result": f"s3://{bucket}/output/job-1234/result.jsonl",
        "keys": 50,
        "shards": 2,
        "ignored_layouts": [3],
    }
    result = merged(two, s3, bucket)
    want = expected([x for r in recs for x in r])
    assert {k: (v["count"], Fraction(v["sum"])) for k, v in result.items()} == {
        k: (v[0], Fraction(v[1])) for k, v in want.items()
    }
    mixed = run_subprocess(env, argv=["merge", "--job-id", "job-1234"])
    assert mixed.code == exitcodes.USAGE
    assert mixed.stderr == (
        "--job-id='job-1234': commit markers of 2 array sizes [2, 3]; pass --shards N to choose one\n"
    )
    three = run_subprocess(env, argv=["merge", "--job-id", "job-1234", "--shards", "3"])
    assert three.code == exitcodes.TRANSIENT
    assert three.stderr == "--shards=3: shards [1, 2] of job 'job-1234' not committed yet\n"


def test_merge_of_a_non_aggregate_job_is_one_line(s3: Any, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=jsonl(gen_records(20, 1)))
    env = worker_env(
        bucket, tmp_path, CFGEN_TASK="sw_example_tasks:upper", PYTHONPATH=str(Path(__file__).parent)
    )
    assert run_subprocess(env).code == 0
    run = run_subprocess(env, argv=["merge", "--job-id", "job-1234", "--shards", "1"])
    assert run.code == exitcodes.DATA_ERROR
    assert "not an aggregate output line" in run.stderr and run.stderr.count("\n") == 1


# -- IMDS only inside an ECS task ---------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_with_imds(s3: Any, bucket: str, tmp_path: Path, **extra: Any) -> Run:
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=jsonl(gen_records(50, 1)))
    env = worker_env(bucket, tmp_path, CFGEN_IMDS_POLL="", AWS_EC2_METADATA_DISABLED="", **extra)
    run = run_subprocess(env)
    assert run.code == 0, run.raw
    job = extra.get("AWS_BATCH_JOB_ID", "job-1234")
    assert job_result(s3, bucket, job=job) == expected(gen_records(50, 1))
    return run


def test_imds_is_not_contacted_outside_an_ecs_task(
    s3: Any, bucket: str, tmp_path: Path, imds: FakeIMDS
) -> None:
    endpoint = imds.endpoint("laptop", notice_in=0)
    _run_with_imds(
        s3,
        bucket,
        tmp_path,
        AWS_BATCH_JOB_ID="laptop-job",
        CFGEN_IMDS_INTERVAL_SECONDS=0.05,
        AWS_EC2_METADATA_SERVICE_ENDPOINT=endpoint,
    )
    assert imds.requests == 0  # AWS_BATCH_JOB_ID alone is not an ECS task


def test_imds_unreachable_in_an_ecs_task_is_not_fatal(s3: Any, bucket: str, tmp_path: Path) -> None:
    run = _run_with_imds(
        s3,
        bucket,
        tmp_path,
        ECS_CONTAINER_METADATA_URI_V4="http://127.0.0.1:9/v4/x",
        AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
    )
    assert run.named("imds_unavailable")[0]["error"] in {"URLError", "ConnectionRefusedError"}


# -- DescribeJobs fallback (no CFGEN_ARRAY_SIZE) against moto Batch ---------------------
def test_array_size_from_describe_jobs(
    moto_endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    kw = {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}
    iam, batch = boto3.client("iam", **kw), boto3.client("batch", **kw)
    role = iam.create_role(RoleName=f"r-{bucket}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"ce-{bucket}", type="UNMANAGED", state="ENABLED", serviceRole=role
    )
    queue = batch.create_job_queue(
        jobQueueName=f"q-{bucket}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
    )
    jd = batch.register_job_definition(
        jobDefinitionName=f"jd-{bucket}",
        type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 128, "command": ["true"]},
    )
    job = batch.submit_job(
        jobName="array-job",
        jobQueue=queue["jobQueueArn"],
        jobDefinition=jd["jobDefinitionArn"],
        arrayProperties={"size": 2},
    )["jobId"]
    recs = [gen_records(100, seed) for seed in range(3)]
    for i, r in enumerate(recs):
        s3.put_object(Bucket=bucket, Key=f"input/{i}.jsonl", Body=jsonl(r))
    for i in range(2):  # 3 objects over 2 shards
        env = worker_env(
            bucket, tmp_path, AWS_BATCH_JOB_ID=f"{job}:{i}", AWS_BATCH_JOB_ARRAY_INDEX=i
        )
        run = run_subprocess(env)
        assert run.code == 0, run.raw
        assert run.named("start")[0]["shards"] == 2
    assert job_result(s3, bucket, job=job) == expected([x for r in recs for x in r])
    unknown = run_subprocess(
        worker_env(bucket, tmp_path, AWS_BATCH_JOB_ID="no-such-job:1", AWS_BATCH_JOB_ARRAY_INDEX=1)
    )
    assert unknown.code == exitcodes.USAGE
    assert unknown.stderr == (
        "CFGEN_ARRAY_SIZE='': required (DescribeJobs on 'no-such-job' gave no array size)\n"
    )


# -- checkpoints, whatever is inside -------------------------------------------------
def test_wrong_shaped_task_state_is_ignored(s3: Any, bucket: str, tmp_path: Path) -> None:
    """A checkpoint that parses, with a valid digest, but whose task state is not the
    task's (issue 15: it exited 70 on every retry) is ignored."""
    from spotworker.checkpoint import ObjectProgress, ShardCheckpoint

    recs = gen_records(300, 4)
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=jsonl(recs))
    etag = s3.head_object(Bucket=bucket, Key="input/a.jsonl")["ETag"]
    for state in (
        {"aggs": 5, "header": None},
        [1, 2],
        {"aggs": {"k": [1, "x", "1", "1"]}, "header": None},
    ):
        ckpt = ShardCheckpoint("job-1234", 0, 1, "aggregate", seq=3)
        ckpt.objects[0] = ObjectProgress(
            0, "input/a.jsonl", etag, 20_000, offset=100, lines=2, records=2, state=state
        )
        s3.put_object(Bucket=bucket, Key=CKPT, Body=ckpt.to_json())
        run = run_inprocess(worker_env(bucket, tmp_path, AWS_BATCH_JOB_ATTEMPT=2))
        assert run.code == 0, run.raw
        assert "task state" in run.named("checkpoint_invalid")[0]["reason"]
        assert job_result(s3, bucket) == expected(recs)
        s3.delete_object(Bucket=bucket, Key=COMMIT)


CKPT = "checkpoints/job-1234/shard-00000-of-00001.json"
COMMIT = "output/job-1234/_commits/shard-00000-of-00001.json"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@st.composite
def checkpoint_content(draw: Any, original: bytes) -> bytes:
    """Random bytes, random JSON, or the real checkpoint with one part changed."""
    kind = draw(st.sampled_from(["bytes", "json", "replace", "truncate", "flip"]))
    if kind == "bytes":
        return bytes(draw(st.binary(max_size=64)))
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    if kind == "truncate":
        return original[: draw(st.integers(0, len(original) - 1))]
    if kind == "flip":
        i = draw(st.integers(0, len(original) - 1))
        return original[:i] + bytes([original[i] ^ draw(st.integers(1, 255))]) + original[i + 1 :]
    doc = json.loads(original)
    path = draw(st.sampled_from(_paths(doc)))
    return json.dumps(_replace(doc, path, draw(JSON))).encode()


@pytest.fixture(scope="module")
def interrupted(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A bucket whose job was interrupted by SIGTERM mid-object: its real checkpoint."""
    s3 = direct_s3(moto_endpoint)
    bucket = f"ckpt-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    recs = gen_records(1500, 21)
    body = jsonl(recs).replace(b"\n", b"\nnot json\n", 3)
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=body)
    host, _, port = moto_endpoint.removeprefix("http://").partition(":")
    tmp = tmp_path_factory.mktemp("ckpt")
    with FaultProxy((host, int(port))) as proxy:
        # ~1 s for the object: its third checkpoint (every 0.1 s, ~0.15 s apart) comes
        # mid-object (at 200 KB/s it came at the end once the C fold made the task faster)
        proxy.add(action="throttle", method="GET", path="/input/", times=-1, rate=100_000)
        env = {
            **base_env(moto_endpoint),
            **worker_env(
                bucket,
                tmp,
                CFGEN_CHECKPOINT_SECONDS=0.1,
                CFGEN_READ_CHUNK_BYTES=4096,
                CFGEN_MAX_BAD_RATIO=0.5,
            ),
            "AWS_ENDPOINT_URL": proxy.url,
        }
        worker = Worker(env)
        worker.wait_for(nth("checkpoint", 3))
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.finish() == exitcodes.INTERRUPTED
    original = s3.get_object(Bucket=bucket, Key=CKPT)["Body"].read()
    assert json.loads(original)["objects"][0]["state"]  # mid-object, with task state
    return {"bucket": bucket, "records": recs, "original": original, "env": env, "s3": s3}


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never turns red by chance
    database=None,  # no .hypothesis/ folder in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_checkpoint_content_is_resumed_or_ignored(
    interrupted: dict[str, Any], data: Any
) -> None:
    s3, bucket, original = interrupted["s3"], interrupted["bucket"], interrupted["original"]
    content = data.draw(checkpoint_content(original))
    s3.put_object(Bucket=bucket, Key=CKPT, Body=content)
    s3.delete_object(Bucket=bucket, Key=COMMIT)
    env = {
        **interrupted["env"],
        "AWS_ENDPOINT_URL": s3.meta.endpoint_url,
        "AWS_BATCH_JOB_ATTEMPT": "2",
    }
    run = run_inprocess(env)
    assert run.code == 0, run.raw
    assert job_result(s3, bucket) == expected(interrupted["records"])
    assert len(committed_lines(s3, bucket, "deadletters")) == 3
    try:
        same = json.loads(content) == json.loads(original)
    except ValueError:
        same = False
    resume = run.named("resume")
    if same:
        assert resume[0]["source"] == "checkpoint"
    else:
        assert run.named("checkpoint_invalid") or run.named("checkpoint_stale"), run.raw
        assert not resume or resume[0]["source"] == "none"


def test_manifest_that_is_not_text_is_bad_data(s3: Any, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="m.txt", Body=b"input/\xff\xfe.jsonl\n")
    run = run_inprocess(worker_env(bucket, tmp_path, CFGEN_INPUT_MANIFEST="m.txt"))
    assert run.code == exitcodes.DATA_ERROR, run.raw
    assert "not UTF-8 text" in run.named("failed")[0]["error"]
