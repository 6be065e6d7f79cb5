"""The bounded-memory line reader, checked against a plain split of the same bytes."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from spotworker.config import load_config
from spotworker.errors import ConfigError
from spotworker.s3io import InputObject, iter_batches


def reference(body: bytes, max_record: int) -> list[tuple[str, int, int, bytes]]:
    """(kind, line number, offset, content or prefix) per line, by the simplest means."""
    out = []
    start = 3 if body.startswith(b"\xef\xbb\xbf") else 0
    text = body[start:]
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    offset = start
    for number, line in enumerate(lines, 1):
        if len(line) > max_record:
            out.append(("oversized", number, offset, line[:1024]))
        else:
            out.append(("lines", number, offset, line))
        offset += len(line) + 1
    return out


def flatten(batches: Any) -> list[tuple[str, int, int, bytes]]:
    out = []
    for given_kind, first_line, first_off, payload, end, has_cr, count, blank in batches:
        # unsplit ("data"): the batch's lines joined, counted right, blank lines too
        lines = payload[0].split(b"\n") if given_kind == "data" else payload
        assert count == len(lines)
        assert blank == {"data": lines.count(b""), "lines": -1, "oversized": 0}[given_kind]
        kind = "lines" if given_kind == "data" else given_kind
        # the CR flag may only be False when no line of the batch holds a CR
        # (an oversized record's prefix is not a line: the flag says nothing there)
        assert kind == "oversized" or has_cr or not any(b"\r" in line for line in lines)
        offset = first_off
        for i, line in enumerate(lines):
            out.append((kind, first_line + i, offset, line))
            offset += len(line) + 1
        if kind == "lines":
            assert offset == end or (offset - 1 == end)  # last line may lack its newline
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_bodies_any_chunking(s3: Any, bucket: str, seed: int) -> None:
    rnd = random.Random(seed)
    max_record = rnd.choice([64, 200, 1500])
    parts = []
    for _ in range(rnd.randrange(50, 400)):
        n = rnd.choice([0, 1, 5, 30, 63, 64, 65, 199, 201, 1499, 1501, 5000])
        parts.append(bytes(rnd.choice(b"abc{}\r,") for _ in range(n)))
    body = b"\n".join(parts) + rnd.choice([b"", b"\n", b"\n\n"])
    if seed % 2:
        body = b"\xef\xbb\xbf" + body
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    etag = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    obj = InputObject(0, "k", etag, len(body))
    want = reference(body, max_record)
    for chunk, split in itertools.product((1024, 1031, 4096, 65536), (True, False)):
        got = flatten(
            iter_batches(
                s3,
                bucket,
                obj,
                start_offset=0,
                start_line=0,
                chunk_size=chunk,
                max_record=max_record,
                split=split,
            )
        )
        assert got == want, (chunk, max_record, split)
    # resuming at any safe point (a line start) yields the rest, numbered on
    for (kind, number, offset, _), split in itertools.product(
        want[:: max(1, len(want) // 7)], (True, False)
    ):
        del kind
        got = flatten(
            iter_batches(
                s3,
                bucket,
                obj,
                start_offset=offset,
                start_line=number - 1,
                chunk_size=1024,
                max_record=max_record,
                split=split,
            )
        )
        assert got == [w for w in want if w[1] >= number]


@pytest.mark.parametrize("at", [900, 1022, 1023, 1024, 1030])
@pytest.mark.parametrize("split", [True, False])
def test_a_cr_carried_over_in_the_tail_flags_its_batch(
    s3: Any, bucket: str, at: int, split: bool
) -> None:
    # one CR, at or near the end of the first 1 KiB read: the line holding it is
    # completed by the second read, whose own bytes have no CR
    body = bytearray(b"x" * 3000)
    for nl in (500, 1500, 2500):
        body[nl] = ord("\n")
    body[at] = ord("\r")
    s3.put_object(Bucket=bucket, Key="k", Body=bytes(body))
    etag = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    obj = InputObject(0, "k", etag, len(body))
    batches = iter_batches(
        s3, bucket, obj, start_offset=0, start_line=0, chunk_size=1024, max_record=4096, split=split
    )
    assert flatten(batches) == reference(bytes(body), 4096)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "CFGEN_DATA_BUCKET='': required (the stack's data bucket name)"),
        (
            {"CFGEN_INPUT_PREFIX": "input"},
            "CFGEN_INPUT_PREFIX='input': must end with '/' (an S3 key prefix)",
        ),
        (
            {"CFGEN_CHECKPOINT_SECONDS": "soon"},
            "CFGEN_CHECKPOINT_SECONDS='soon': must be a number (like 30 or 0.5)",
        ),
        (
            {"CFGEN_MAX_BAD_RATIO": "nan"},
            "CFGEN_MAX_BAD_RATIO='nan': must be a number (like 30 or 0.5)",
        ),
        (
            {"CFGEN_GRACE_SECONDS": "inf"},
            "CFGEN_GRACE_SECONDS='inf': must be a number (like 30 or 0.5)",
        ),
        (
            {"CFGEN_CHECKPOINT_SECONDS": "1e3"},
            "CFGEN_CHECKPOINT_SECONDS='1e3': must be a number (like 30 or 0.5)",
        ),
        (
            {"CFGEN_MAX_BAD_RATIO": "1.5"},
            "CFGEN_MAX_BAD_RATIO='1.5': must be between 0.0 and 1.0",
        ),
        (
            {"AWS_BATCH_JOB_ARRAY_INDEX": "-1"},
            "AWS_BATCH_JOB_ARRAY_INDEX='-1': must be an integer (digits 0-9 only)",
        ),
        (
            {"AWS_BATCH_JOB_ARRAY_INDEX": "10000"},
            "AWS_BATCH_JOB_ARRAY_INDEX='10000': must be between 0 and 9999",
        ),
        (
            {"CFGEN_S3_MAX_ATTEMPTS": "\u0663"},  # an Arabic-Indic digit: int() takes it
            "CFGEN_S3_MAX_ATTEMPTS='\u0663': must be an integer (digits 0-9 only)",
        ),
        (
            {"CFGEN_DATA_BUCKET": "Bad Bucket!"},
            "CFGEN_DATA_BUCKET='Bad Bucket!': must be an S3 bucket name (3-63 characters: "
            "lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)",
        ),
        (
            {"CFGEN_INPUT_PREFIX": "in\udcff/"},  # a byte that is not UTF-8, as os.environ has it
            "CFGEN_INPUT_PREFIX='in\\udcff/': must be valid UTF-8",
        ),
        (
            {"AWS_BATCH_JOB_ID": "a b"},
            "AWS_BATCH_JOB_ID='a b': must be a job id (letters, digits, '.', '_', '-', '#', "
            "at most 128) with an optional ':<array index>'",
        ),
        (
            {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "169.254.169.254"},
            "AWS_EC2_METADATA_SERVICE_ENDPOINT='169.254.169.254': must be an http:// URL",
        ),
        (
            {"AWS_BATCH_JOB_ARRAY_INDEX": "3", "CFGEN_ARRAY_SIZE": "3"},
            "AWS_BATCH_JOB_ARRAY_INDEX=3: must be below CFGEN_ARRAY_SIZE=3",
        ),
        ({"CFGEN_IMDS_POLL": "yes"}, "CFGEN_IMDS_POLL='yes': must be auto, 0 or 1"),
        (
            {"CFGEN_TASK": "mine"},
            "CFGEN_TASK='mine': must be 'aggregate', 'aggregate_per_record' or 'package.module:factory'",
        ),
        (
            {"AWS_BATCH_JOB_ATTEMPT": "x"},
            "AWS_BATCH_JOB_ATTEMPT='x': must be an integer (digits 0-9 only)",
        ),
        (
            {"CFGEN_TASK": "os:getcwd:x"},
            "CFGEN_TASK='os:getcwd:x': must be 'aggregate', 'aggregate_per_record' or 'package.module:factory'",
        ),
    ],
)
def test_config_errors_name_field_value_rule(env: dict[str, str], message: str) -> None:
    full = {"CFGEN_DATA_BUCKET": "data-bucket", **env} if env else {}
    with pytest.raises(ConfigError) as err:
        load_config(full)
    assert str(err.value) == message
