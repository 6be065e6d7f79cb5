"""The harness end to end, in process, against the moto S3 server."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from spotworker import exitcodes
from spotworker.checkpoint import ShardCheckpoint
from swtestlib import (
    committed_lines,
    expected,
    gen_records,
    job_result,
    jsonl,
    run_inprocess,
    run_subprocess,
    worker_env,
)


def put_inputs(s3: Any, bucket: str, files: dict[str, bytes]) -> None:
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def keys_under(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for p in pages for o in p.get("Contents", [])]


def test_full_run_matches_reference(s3: Any, bucket: str, tmp_path: Path) -> None:
    recs = [gen_records(3000, seed) for seed in range(4)]
    put_inputs(s3, bucket, {f"input/part-{i}.jsonl": jsonl(r) for i, r in enumerate(recs)})
    run = run_inprocess(worker_env(bucket, tmp_path, CFGEN_READ_CHUNK_BYTES=4096))
    assert run.code == 0, run.raw
    assert job_result(s3, bucket) == expected([x for r in recs for x in r])
    done = run.named("done")[0]
    assert done["status"] == "committed"
    assert done["records"] == 12000 and done["bad"] == 0
    # every event line carries the job context
    for event in run.events:
        assert {"ts", "event", "job_id", "array_index", "attempt"} <= event.keys()


def test_array_shards_cover_input_once(s3: Any, bucket: str, tmp_path: Path) -> None:
    recs = [gen_records(500, seed) for seed in range(7)]
    put_inputs(s3, bucket, {f"input/{i:02d}.jsonl": jsonl(r) for i, r in enumerate(recs)})
    seen: list[int] = []
    for index in range(3):
        env = worker_env(
            bucket,
            tmp_path,
            AWS_BATCH_JOB_ID=f"job-1234:{index}",
            AWS_BATCH_JOB_ARRAY_INDEX=index,
            CFGEN_ARRAY_SIZE=3,
        )
        run = run_inprocess(env)
        assert run.code == 0, run.raw
        seen.append(run.named("done")[0]["objects_done"])
    assert seen == [3, 2, 2]
    assert job_result(s3, bucket) == expected([x for r in recs for x in r])
    assert len(keys_under(s3, bucket, "output/job-1234/_commits/")) == 3


def test_manifest_input(s3: Any, bucket: str, tmp_path: Path) -> None:
    a, b = gen_records(200, 1), gen_records(200, 2)
    put_inputs(s3, bucket, {"input/a.jsonl": jsonl(a), "input/b.jsonl": jsonl(b)})
    put_inputs(s3, bucket, {"input/ignored.jsonl": b"{not json\n"})
    put_inputs(s3, bucket, {"manifests/m.txt": b"input/b.jsonl\r\ninput/a.jsonl\n\n"})
    run = run_inprocess(worker_env(bucket, tmp_path, CFGEN_INPUT_MANIFEST="manifests/m.txt"))
    assert run.code == 0, run.raw
    assert job_result(s3, bucket) == expected(a + b)


def test_csv_input(s3: Any, bucket: str, tmp_path: Path) -> None:
    recs = gen_records(400, 5)
    body = "id,key,value\r\n" + "".join(f'{i},"{k}",{v}\r\n' for i, (k, v) in enumerate(recs))
    put_inputs(s3, bucket, {"input/x.csv": b"\xef\xbb\xbf" + body.encode()})
    run = run_inprocess(worker_env(bucket, tmp_path, CFGEN_READ_CHUNK_BYTES=1024))
    assert run.code == 0, run.raw
    assert job_result(s3, bucket) == expected(recs)
    assert run.named("done")[0]["records"] == 400


def test_bad_records_dead_lettered_with_line_numbers(s3: Any, bucket: str, tmp_path: Path) -> None:
    good = gen_records(300, 3)
    lines = [json.dumps({"key": k, "value": float(v)}).encode() for k, v in good]
    bad = {
        10: b'{"key": "a", "value": ',  # truncated JSON
        50: b'["not", "an", "object"]',
        90: b'{"key": "a", "value": "12"}',  # value is a string
        120: b'{"key": "a", "value": NaN}',
        200: b"\xff\xfe not utf-8",
        250: b"x" * 3000,  # over CFGEN_MAX_RECORD_BYTES below
    }
    for line_no in sorted(bad):
        lines.insert(line_no - 1, bad[line_no])
    body = b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n\r\n"  # BOM, CRLF, empty last line
    put_inputs(s3, bucket, {"input/mixed.jsonl": body})
    env = worker_env(
        bucket,
        tmp_path,
        CFGEN_MAX_RECORD_BYTES=2048,
        CFGEN_READ_CHUNK_BYTES=1024,
        CFGEN_MAX_BAD_RATIO=0.05,
    )
    run = run_inprocess(env)
    assert run.code == 0, run.raw
    assert job_result(s3, bucket) == expected(good)
    dead = [json.loads(x) for x in committed_lines(s3, bucket, "deadletters")]
    assert [d["line"] for d in dead] == sorted(bad)
    assert all(d["object"] == "input/mixed.jsonl" for d in dead)
    starts = [0] + [i + 1 for i, c in enumerate(body) if c == 10]
    for d in dead:  # offsets point at the start of the line (the BOM is counted)
        assert d["offset"] == (3 if d["line"] == 1 else starts[d["line"] - 1])
    assert dead[-1]["truncated"] is True and "longer than 2048" in dead[-1]["reason"]
    assert run.named("done")[0]["bad"] == 6


def test_line_over_one_megabyte_default_limit(s3: Any, bucket: str, tmp_path: Path) -> None:
    good = gen_records(50, 4)
    huge = b'{"key": "k000", "value": 1, "pad": "' + b"y" * (1024 * 1024 + 10) + b'"}'
    body = jsonl(good[:25]) + huge + b"\n" + jsonl(good[25:])
    put_inputs(s3, bucket, {"input/huge.jsonl": body})
    run = run_inprocess(worker_env(bucket, tmp_path, CFGEN_MAX_BAD_RATIO=0.1))
    assert run.code == 0, run.raw
    assert job_result(s3, bucket) == expected(good)
    dead = [json.loads(x) for x in committed_lines(s3, bucket, "deadletters")]
    assert [d["line"] for d in dead] == [26]
    assert len(dead[0]["record"]) <= 1024


def test_too_many_bad_records_is_permanent_and_counts_survive(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    body = jsonl(gen_records(90, 6)) + b"garbage\n" * 10
    put_inputs(s3, bucket, {"input/bad.jsonl": body})
    env = worker_env(bucket, tmp_path, CFGEN_MAX_BAD_RATIO=0.05)
    run = run_inprocess(env)
    assert run.code == exitcodes.DATA_ERROR
    assert exitcodes.DATA_ERROR not in exitcodes.RETRYABLE
    failed = run.named("failed")[0]
    assert (failed["bad"], failed["records"], failed["bad_ratio"]) == (10, 90, 0.1)
    assert not keys_under(s3, bucket, "output/job-1234/_commits/")
    assert len(keys_under(s3, bucket, "deadletter/job-1234/")) == 1
    # a retry resumes from the checkpoint: same counts, no duplicate dead letters
    again = run_inprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert again.code == exitcodes.DATA_ERROR
    assert again.named("failed")[0]["bad"] == 10
    assert len(keys_under(s3, bucket, "deadletter/job-1234/")) == 1


def test_rerun_after_success_is_a_noop(s3: Any, bucket: str, tmp_path: Path) -> None:
    put_inputs(s3, bucket, {"input/a.jsonl": jsonl(gen_records(100, 1))})
    env = worker_env(bucket, tmp_path)
    assert run_inprocess(env).code == 0
    before = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    again = run_inprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert again.code == 0
    assert again.named("done")[0]["status"] == "already_committed"
    assert [e["event"] for e in again.events] == ["start", "done", "ledger"]
    after = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    # Nothing changed but the second attempt's own cost record (spotworker.ledger).
    assert set(after) - set(before) == {"ledger/job-1234/0/2.json"}
    assert {k: after[k] for k in before} == before


def test_missing_input_is_permanent(s3: Any, bucket: str, tmp_path: Path) -> None:
    run = run_inprocess(worker_env(bucket, tmp_path))
    assert run.code == exitcodes.NO_INPUT
    manifest = run_inprocess(worker_env(bucket, tmp_path, CFGEN_INPUT_MANIFEST="nope.txt"))
    assert manifest.code == exitcodes.NO_INPUT
    put_inputs(s3, bucket, {"m.txt": b"input/does-not-exist.jsonl\n"})
    listed = run_inprocess(worker_env(bucket, tmp_path, CFGEN_INPUT_MANIFEST="m.txt"))
    assert listed.code == exitcodes.NO_INPUT
    nobucket = run_inprocess(worker_env("no-such-bucket-xyz", tmp_path))
    assert nobucket.code == exitcodes.NO_INPUT
    for code in (exitcodes.NO_INPUT,):
        assert code not in exitcodes.RETRYABLE


def _checkpoint(s3: Any, bucket: str) -> ShardCheckpoint:
    key = "checkpoints/job-1234/shard-00000-of-00001.json"
    return ShardCheckpoint.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.mark.parametrize(
    "corruption",
    [b"{not json", b'{"format": 1, "job_id": "job-1234"}', b"", b'{"format": 99}', "stale"],
)
def test_corrupt_or_stale_checkpoint_starts_over(
    s3: Any, bucket: str, tmp_path: Path, corruption: Any
) -> None:
    recs = gen_records(500, 9)
    put_inputs(s3, bucket, {"input/a.jsonl": jsonl(recs)})
    key = "checkpoints/job-1234/shard-00000-of-00001.json"
    if corruption == "stale":  # a checkpoint of another layout (2 shards) that claims progress
        stale = ShardCheckpoint("job-1234", 0, 2, "aggregate", seq=7)
        body = stale.to_json()
        event = "checkpoint_stale"
    else:
        body = corruption
        event = "checkpoint_invalid"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    run = run_inprocess(worker_env(bucket, tmp_path, AWS_BATCH_JOB_ATTEMPT=2))
    assert run.code == 0, run.raw
    assert run.named(event)
    assert job_result(s3, bucket) == expected(recs)


def test_checkpoint_with_changed_etag_restarts_that_object(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    first, second = gen_records(400, 1), gen_records(400, 2)
    put_inputs(s3, bucket, {"input/a.jsonl": jsonl(first), "input/b.jsonl": jsonl(second)})
    env = worker_env(bucket, tmp_path, CFGEN_BAD="1")
    assert run_inprocess(env).code == 0
    # Forge "attempt 1 stopped half-way": keep the checkpoint, drop the commit.
    s3.delete_object(Bucket=bucket, Key="output/job-1234/_commits/shard-00000-of-00001.json")
    ckpt = _checkpoint(s3, bucket)
    prog = ckpt.objects[1]
    prog.done, prog.offset, prog.lines, prog.records = False, 10, 0, 0
    prog.state, prog.parts = {"header": None, "aggs": {"bogus": [1, "1", "1", "1"]}}, []
    s3.put_object(
        Bucket=bucket, Key="checkpoints/job-1234/shard-00000-of-00001.json", Body=ckpt.to_json()
    )
    replaced = gen_records(300, 3)
    put_inputs(s3, bucket, {"input/b.jsonl": jsonl(replaced)})  # new ETag
    run = run_inprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert run.code == 0, run.raw
    assert [e["object"] for e in run.named("input_changed")] == ["input/b.jsonl"]
    assert job_result(s3, bucket) == expected(first + replaced)


def test_bad_configuration_exits_2_with_one_line(s3: Any, bucket: str, tmp_path: Path) -> None:
    env = worker_env(bucket, tmp_path, CFGEN_MAX_BAD_RATIO="1.5")
    run = run_subprocess(env)
    assert run.code == exitcodes.USAGE
    assert run.raw.strip() == "CFGEN_MAX_BAD_RATIO='1.5': must be between 0.0 and 1.0"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_decimal_sums_are_exact(s3: Any, bucket: str, tmp_path: Path) -> None:
    body = (
        b"".join(b'{"key": "a", "value": 0.1}\n' for _ in range(1000))
        + b'{"key": "a", "value": 12345678901234567890.000000001}\n'
    )
    put_inputs(s3, bucket, {"input/a.jsonl": body})
    assert run_inprocess(worker_env(bucket, tmp_path)).code == 0
    count, total, _, hi = job_result(s3, bucket)["a"]
    assert count == 1001
    assert total == Decimal("12345678901234567990.000000001")
    assert hi == Decimal("12345678901234567890.000000001")


def upper_expected(recs: list[Any]) -> list[bytes]:
    out = [json.dumps({"n": i + 1, "KEY": k.upper()}).encode() for i, (k, _) in enumerate(recs)]
    return [*out, json.dumps({"total": len(recs)}).encode()]


def test_custom_map_task_streams_parts(s3: Any, bucket: str, tmp_path: Path) -> None:
    recs = gen_records(2000, 8)
    put_inputs(s3, bucket, {"input/a.jsonl": jsonl(recs)})
    env = worker_env(
        bucket,
        tmp_path,
        CFGEN_TASK="sw_example_tasks:upper",
        CFGEN_CHECKPOINT_SECONDS=0,
        CFGEN_READ_CHUNK_BYTES=8192,
    )
    run = run_inprocess(env)
    assert run.code == 0, run.raw
    assert committed_lines(s3, bucket) == upper_expected(recs)
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key="output/job-1234/_commits/shard-00000-of-00001.json")[
            "Body"
        ].read()
    )
    parts = manifest["objects"][0]["parts"]
    assert len(parts) > 5 and parts[-1].endswith("/final.jsonl")
    assert manifest["task"] == "upper"


def test_unknown_task_is_a_usage_error(bucket: str, tmp_path: Path) -> None:
    run = run_subprocess(worker_env(bucket, tmp_path, CFGEN_TASK="no_such_module:factory"))
    assert run.code == exitcodes.USAGE
    assert run.raw.startswith("CFGEN_TASK='no_such_module:factory': cannot load")


def test_bad_csv_records(s3: Any, bucket: str, tmp_path: Path) -> None:
    good = gen_records(200, 12)
    rows = ["key,value"] + [f"{k},{v}" for k, v in good]
    bad = {5: "a,1,extra", 40: '"unclosed,3', 80: "b,twelve", 120: ",4", 160: "c,Infinity"}
    for line_no in sorted(bad):
        rows.insert(line_no - 1, bad[line_no])
    put_inputs(s3, bucket, {"input/t.csv": ("\r\n".join(rows) + "\r\n").encode()})
    run = run_inprocess(worker_env(bucket, tmp_path, CFGEN_MAX_BAD_RATIO=0.05))
    assert run.code == 0, run.raw
    assert job_result(s3, bucket) == expected(good)
    dead = [json.loads(x) for x in committed_lines(s3, bucket, "deadletters")]
    assert [d["line"] for d in dead] == sorted(bad)
    assert "expected 2 fields" in dead[0]["reason"]
