"""The batch task API and the example aggregate through it (spotworker.fastagg).

The batch task must be the per-record task, faster: the same bad records with
the same reasons, the same snapshots after every batch, the same output bytes.
Checked line by line on adversarial lines (every case where msgspec and the
standard parser could disagree), and end to end through the harness on the
fault tests' data, byte for byte.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import chaoslib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spotworker import exitcodes, fastagg
from spotworker.fastagg import AggregateBatchFactory
from spotworker.tasks import AggregateFactory, BadRecord, RecordBatch, SkipRecord
from swtestlib import TESTS_DIR, committed_lines, gen_records, jsonl, run_inprocess, worker_env

# Lines on which a fast parser could disagree with json + Decimal (each kept or
# rejected by the per-record task for its own reason).
NASTY = [
    b'{"key":"a","value":1}',
    b'{"key":"a","value":1.50}',  # min/max keep the first of equal values: 1.5 or 1.50
    b'{"key":"a","value":1.5}',
    b'{"key":"a","value":-0}',  # negative zero stays "-0"
    b'{"key":"a","value":0.0}',
    b'{"key":"a","value":-0.0}',
    b'{"key":"b","value":1e2}',  # exponent forms keep their exponent: "1E+2"
    b'{"key":"b","value":1E+2}',
    b'{"key":"b","value":25e-1}',
    b'{"key":"b","value":1e1001}',  # outside the range: bad
    b'{"key":"b","value":1e-1001}',
    b'{"key":"b","value":' + b"9" * 1002 + b"}",  # long integer outside the range
    b'{"key":"b","value":' + b"9" * 600 + b"}",  # long integer inside it
    b'{"key":"b","value":12345678901234567890123456789012345678901234567890}',
    b'{"key":"c","value":1,"ts":1e99999}',  # an ignored field outside the range: bad
    b'{"key":"c","value":1,"ts":' + b"1" * 1500 + b"}",
    b'{"key":"c","value":1,"ts":1e5}',  # an ignored field inside it: good
    b'{"key":"c","value":"12"}',  # value a string
    b'{"key":"c","value":null}',
    b'{"key":"c","value":true}',
    b'{"key":"c","value":[1]}',
    b'{"key":"c","value":{"x":1}}',
    b'{"key":"c"}',  # no value
    b'{"value":1}',  # no key
    b'{"key":"","value":1}',  # empty key
    b'{"key":5,"value":1}',
    b'{"key":"a","key":"d","value":2}',  # duplicate fields: the last one counts
    b'{"key":"d","value":1,"value":7}',
    b'{"key":"\\ud800","value":1}',  # lone surrogate escape in the key: bad
    b'{"key":"e","value":1,"x":"\\ud800"}',  # ... elsewhere: good
    b'{"key":"\\ud83d\\ude42","value":3}',  # a surrogate pair: good
    b'{"key":"\\u043a\\u043b\\u044e\\u0447","value":3}',
    '{"key":"ключ","value":4}'.encode(),
    b'{"key":"\xed\xa0\x80","value":1}',  # an encoded surrogate: invalid UTF-8
    b'{"key":"f","value":1,"x":"\xff"}',  # invalid UTF-8 in an ignored field
    b'{"key":"f\x01","value":1}',  # a control character in a string
    b'{"key":"f","value":1,"n":' + b"[" * 100 + b"]" * 100 + b"}",
    b'{"key":"f","value":1,"n":' + b"[" * 5000 + b"]" * 5000 + b"}",  # too deep
    b'{"key":"f","value":NaN}',
    b'{"key":"f","value":1,"x":Infinity}',
    b'{"key":"f","value":1} trailing',
    b'{"key":"f","value":1}{"key":"f","value":2}',
    b'{"key":"f","value":01}',
    b'{"key":"f","value":1.}',
    b'{"key":"f","value":+1}',
    b'[{"key":"f","value":1}]',
    b'"just a string"',
    b"not json",
    b"   ",  # whitespace only: a bad record, not a blank line
    b"",  # blank: not a record
    b'  {"key":"g","value":2}  ',
    b'{"key":"g","value":2,"extra":{"deep":[1,2,{"k":"v"}]}}',
]
#: lines that send their whole batch to the per-record code (a number that may be
#: outside the range, bytes that are not UTF-8); the others stay on msgspec's path
GUARDED = {
    line
    for line in NASTY
    if b"e1001" in line
    or b"e-1001" in line
    or b"e99999" in line
    or b"9" * 1000 in line
    or b"1" * 1000 in line
    or b"\xed" in line
    or b"\xff" in line
}
FAST = [line for line in NASTY if line not in GUARDED]


@pytest.fixture(params=[True, False], ids=["c-scan", "msgspec"])
def c_scan(request: pytest.FixtureRequest) -> bool:
    """The batch task with its C scan of the common batch (where built) and without it
    (msgspec's path for every batch, as where the extension was not built)."""
    return bool(request.param)


def per_record(lines: list[bytes], task: Any) -> tuple[list[tuple[int, str]], int]:
    bad, skipped = [], 0
    for i, line in enumerate(lines):
        if not line:
            continue
        try:
            task.feed(line)
        except BadRecord as exc:
            bad.append((i, str(exc)))
        except SkipRecord:
            skipped += 1
    return bad, skipped


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("key", ["x.jsonl", "x.csv"])
def test_batch_task_is_the_per_record_task_line_by_line(seed: int, key: str, c_scan: bool) -> None:
    rnd = random.Random(seed)
    if key.endswith(".csv"):
        pool = [b"key,value", b"a,1", b"b,1.50", b'"q""x",2', b"a,", b",1", b"a,1,2", b"a,1e5000"]
        lines = [b"key,value"] + [rnd.choice(pool) for _ in range(400)]
    else:
        good = jsonl(gen_records(300, seed)).split(b"\n")[:-1]
        pick = rnd.random
        lines = [
            rnd.choice(NASTY if pick() < 0.05 else FAST) if pick() < 0.4 else rnd.choice(good)
            for _ in range(600)
        ]
    fields = rnd.choice([("key", "value"), ("key", "value"), ("value", "key"), ("key", "key")])
    ref = AggregateFactory(*fields).open(key, None)
    fast = AggregateBatchFactory(*fields, c_scan=c_scan).open(key, None)
    start = 0
    while start < len(lines):
        size = rnd.choice([1, 2, 7, 50, 300])
        batch = lines[start : start + size]
        want_bad, want_skipped = per_record(batch, ref)
        got = fast.feed_batch(RecordBatch(batch, start + 1, 0))
        assert got.bad == want_bad, (seed, start)
        assert got.skipped == want_skipped
        assert list(got.output) == []
        assert fast.snapshot() == ref.snapshot(), (seed, start)
        start += size
    assert list(fast.finish()) == list(ref.finish())


def test_every_nasty_line_alone_and_all_together(c_scan: bool) -> None:
    assert len(GUARDED) == 7
    for lines in [[x] for x in NASTY] + [FAST, FAST[::-1], NASTY]:
        ref = AggregateFactory().open("x.jsonl", None)
        fast = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
        want_bad, _ = per_record(lines, ref)
        assert fast.feed_batch(RecordBatch(lines, 1, 0)).bad == want_bad, lines[:1]
        assert fast.snapshot() == ref.snapshot()
        assert list(fast.finish()) == list(ref.finish())


# Batches where msgspec's decode_lines (which takes any whitespace, newlines too,
# between values) returns one record per line although the lines are not one record
# each: a record split over two lines and a line of two records cancel out in the
# count, blank or whitespace-only lines likewise.
SPANNING = [
    [b'{"key":"a",', b'"value":1}', b'{"key":"b","value":2}{"key":"c","value":3}'],
    [b'{"key":"a","value":', b"1}", b'{"key":"b","value":2} {"key":"c","value":3}'],
    [b'{"key":"a","value":1}{"key":"b","value":2}', b"", b'{"key":"c","value":3}'],
    [b'{"key":"a","value":1}{"key":"b","value":2}', b" \t", b'{"key":"c","value":3}'],
    [b'{"key":"a","n":{}', b'},"value":1}', b'{"key":"b","value":2}{"key":"c","value":3}'],
    [b'{"key":"a","n":[{}', b'{}],"value":1}', b'{"key":"b","value":2}{"key":"c","value":3}'],
    [b'{"key":"a","value":1}', b'{"key":"b","value":2}'],  # (one each: trusted)
]


@pytest.mark.parametrize("lines", SPANNING)
def test_records_spanning_lines_are_the_per_record_task(lines: list[bytes], c_scan: bool) -> None:
    ref = AggregateFactory().open("x.jsonl", None)
    fast = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
    want_bad, _ = per_record(lines, ref)
    batch = RecordBatch.from_data(b"\n".join(lines), 1, 0)
    assert fast.feed_batch(batch).bad == want_bad
    assert list(fast.finish()) == list(ref.finish())


def fault_test_inputs(s3: Any, bucket: str) -> None:
    """The data of the fault tests: the interrupt tests' objects (bad lines in them),
    the chaos run's JSON Lines and CSV (odd keys, exponents, bad lines), a CRLF object
    with a BOM and every kind of bad record."""
    import test_worker_interrupt

    test_worker_interrupt.make_inputs(s3, bucket)
    bodies, _ = chaoslib.make_inputs(random.Random(15), chaoslib.Plan(seed=15))
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    mixed = [json.dumps({"key": k, "value": float(v)}).encode() for k, v in gen_records(500, 9)]
    for i, line in enumerate(NASTY):
        mixed.insert(i * 9, line)
    body = b"\xef\xbb\xbf" + b"\r\n".join(mixed) + b"\r\n\r\n"
    s3.put_object(Bucket=bucket, Key="input/mixed.jsonl", Body=body)


def test_batch_and_per_record_output_byte_identical(s3: Any, bucket: str, tmp_path: Path) -> None:
    fault_test_inputs(s3, bucket)
    got = {}
    for task in ("aggregate", "aggregate_per_record"):
        job = f"job-{task.replace('_', '-')}"
        env = worker_env(
            bucket,
            tmp_path,
            AWS_BATCH_JOB_ID=job,
            CFGEN_TASK=task,
            CFGEN_MAX_BAD_RATIO=0.2,
            CFGEN_READ_CHUNK_BYTES=4096,  # many batches, bad records in many of them
            CFGEN_MAX_RECORD_BYTES=4000,  # the 5000-deep line is oversized
        )
        run = run_inprocess(env)
        assert run.code == 0, run.raw
        got[task] = (
            committed_lines(s3, bucket, job=job),
            committed_lines(s3, bucket, "deadletters", job=job),
            {k: v for k, v in run.named("done")[0].items() if k in {"records", "bad", "lines"}},
        )
    assert got["aggregate"] == got["aggregate_per_record"]
    _parts, dead, totals = got["aggregate"]
    assert totals["bad"] == len(dead) > 100 and totals["records"] > 20_000
    assert len({json.loads(d)["reason"] for d in dead}) > 10  # many different reasons


def test_blank_lines_are_counted_in_unsplit_batches(s3: Any, bucket: str, tmp_path: Path) -> None:
    # LF only (no CR: the batches stay unsplit, counted by newlines.line_counts), blank
    # lines first, last, alone and in runs, so that batches begin and end with them
    rnd = random.Random(3)
    lines = [json.dumps({"key": k, "value": float(v)}).encode() for k, v in gen_records(3000, 4)]
    for _ in range(400):
        lines.insert(rnd.randrange(len(lines) + 1), b"")
    body = b"\n" + b"\n".join(lines) + b"\n\n"
    s3.put_object(Bucket=bucket, Key="input/blanks.jsonl", Body=body)
    want = {"lines": body.count(b"\n"), "records": 3000, "bad": 0}
    for task in ("aggregate", "aggregate_per_record", "sw_example_tasks:upper_batch"):
        job = f"job-{task.replace('_', '-').replace(':', '-')}"
        env = worker_env(
            bucket,
            tmp_path,
            AWS_BATCH_JOB_ID=job,
            CFGEN_TASK=task,
            CFGEN_READ_CHUNK_BYTES=1024,
            PYTHONPATH=str(TESTS_DIR),
        )
        run = run_inprocess(env)
        assert run.code == 0, run.raw
        done = run.named("done")[0]
        assert {k: done[k] for k in want} == want, task


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    aggs=st.dictionaries(
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1),  # keys: any text
        st.tuples(
            st.integers(1, 10**12),
            *[st.sampled_from(["0", "-0", "1.50", "-7.25", "1E+2", "-1E-7", "9" * 40])] * 3,
        ),
        max_size=8,
    )
)
def test_the_output_lines_are_what_json_dumps_writes(aggs: dict[str, tuple[Any, ...]]) -> None:
    task = AggregateFactory().open("x.jsonl", None)
    task.aggs = {k: [n, *map(Decimal, texts)] for k, (n, *texts) in aggs.items()}
    want = [
        json.dumps(
            {"key": k, "count": n, "sum": str(t), "min": str(lo), "max": str(hi)},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        for k, (n, t, lo, hi) in sorted(task.aggs.items())
    ]
    assert list(task.finish()) == want


def test_batch_task_reporting_a_wrong_index_is_a_bug(s3: Any, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body=jsonl(gen_records(50, 1)))
    env = worker_env(
        bucket, tmp_path, CFGEN_TASK="sw_example_tasks:wrong_index", PYTHONPATH=str(TESTS_DIR)
    )
    run = run_inprocess(env)
    assert run.code == exitcodes.SOFTWARE, run.raw
    failed = run.named("failed")[0]
    assert failed["reason"] == "unexpected" and "bad record index 50" in failed["error"]
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="output/job-1234/_commits/")["KeyCount"]


# Plain numbers only: what the columnar fold (Polars, Decimal(38, S)) takes. Ties of
# equal values with different texts, zeros of both signs and every exponent, the
# longest values it takes (16 characters) and the shortest it does not (17).
PLAIN = [
    b"1", b"1.5", b"1.50", b"1.500", b"-1.5", b"-0", b"-0.0", b"0", b"0.00", b"-0.000",
    b"9999999999999999", b"-999999999999999", b"0.00000000000001",
    b"-0.0000000000001", b"12345678901234567", b"0.000000000000001", b"7", b"-7.25", b"-12345678901234.5",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "fold_at",
    [
        None,  # the default: one fold per snapshot here
        (50, 1 << 22, 40),  # many folds, their partials merged at a snapshot or by rows
        (50, 120, 1000),  # ... or after 120 records
    ],
)
def test_columnar_fold_is_the_per_record_task(
    seed: int, fold_at: tuple[int, int, int] | None, monkeypatch: pytest.MonkeyPatch, c_scan: bool
) -> None:
    if fold_at is not None:
        monkeypatch.setattr(fastagg, "_COLUMNAR_FOLD_AT", fold_at[0])
        monkeypatch.setattr(fastagg, "_PARTIAL_RECORDS", fold_at[1])
        monkeypatch.setattr(fastagg, "_PARTIAL_ROWS", fold_at[2])
    rnd = random.Random(seed)
    plain = [p for p in PLAIN if len(p) <= 16 and not p.endswith(b".")]
    keys = ["a", "b", "zero", "negzero", "ключ", "ab"]
    lines = []
    for _ in range(3000):
        key = rnd.choice(keys)
        # now and then the key's JSON text has escapes (its batch's keys are decoded;
        # the others stay text): the same key either way
        text = key.encode()
        if rnd.random() < 0.03:
            text = "".join(f"\\u{ord(c):04x}" for c in key).encode()
        if key == "negzero":
            value = rnd.choice([b"-0", b"-0.0", b"-0.000"])
        elif key == "zero":
            value = rnd.choice([b"-0", b"0", b"0.00", b"-0.0"])
        else:
            value = (
                rnd.choice(plain) if rnd.random() < 0.7 else str(rnd.randint(-999, 999)).encode()
            )
        lines.append(b'{"key":"' + text + b'","value":' + value + b',"n":1}')
    ref = AggregateFactory().open("x.jsonl", None)
    fast = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
    start = 0
    while start < len(lines):
        size = rnd.choice([1, 40, 500, 2000])
        batch = lines[start : start + size]
        if rnd.random() < 0.2:  # a value too long for the columns: this batch as Decimals
            batch[-1] = b'{"key":"a","value":' + rnd.choice([b"12345678901234567", b"1e2"]) + b"}"
        assert per_record(batch, ref) == ([], 0)
        assert fast.feed_batch(RecordBatch(batch, start + 1, 0)).bad == []
        if rnd.random() < 0.3:
            assert fast.snapshot() == ref.snapshot(), (seed, start)
        start += size
    assert list(fast.finish()) == list(ref.finish())


@pytest.mark.parametrize("where", [0, 700, -1])
def test_a_large_batch_finds_a_number_outside_the_range(where: int, c_scan: bool) -> None:
    # above fastagg._POLARS_SEARCH_FROM bytes the exponent search runs in Polars
    lines = jsonl(gen_records(1500, 4)).split(b"\n")[:-1]
    lines.insert(where if where >= 0 else len(lines), b'{"key":"c","value":1,"ts":1e99999}')
    assert len(b"\n".join(lines)) > 65536
    ref = AggregateFactory().open("x.jsonl", None)
    fast = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
    want_bad, _ = per_record(lines, ref)
    assert len(want_bad) == 1
    assert fast.feed_batch(RecordBatch.from_data(b"\n".join(lines), 1, 0)).bad == want_bad
    assert list(fast.finish()) == list(ref.finish())


def test_an_input_the_columnar_path_does_not_take_pauses_it_with_the_same_result(
    c_scan: bool,
) -> None:
    # escaped keys (as Python's json.dumps writes non-ASCII ones): _columnar cannot take
    # the batch, so it is not tried for the next _COLUMNAR_RETRY batches; then again
    escaped = [b'{"key":"\\u043a","value":1.5}', b'{"key":"a","value":2}'] * 20
    plain = [b'{"key":"\xd0\xba","value":0.25}', b'{"key":"a","value":-3}'] * 20
    ref = AggregateFactory().open("x.jsonl", None)
    fast = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
    paused = []
    for i in range(2 * fastagg._COLUMNAR_RETRY + 4):
        lines = escaped if i in (0, fastagg._COLUMNAR_RETRY + 1) else plain
        assert per_record(lines, ref) == ([], 0)
        assert fast.feed_batch(RecordBatch.from_data(b"\n".join(lines), 1, 0)).bad == []
        paused.append(fast._columnar_pause)
        if i % 5 == 0:
            assert fast.snapshot() == ref.snapshot()
    retry = fastagg._COLUMNAR_RETRY
    countdown = list(range(retry, -1, -1))  # the batch not taken, then the paused ones
    assert paused == countdown + countdown[:-1] + [0, 0, 0]  # (then taken again)
    assert list(fast.finish()) == list(ref.finish())


def test_the_fold_runs_in_the_folding_thread_and_its_error_reaches_the_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # without the C fold (as where it was not built): the batch that fills a fold
    # returns while Polars folds in the folding thread; the snapshot waits for it; an
    # error there is raised to the task (at the next fold or snapshot), never lost
    c_scan = False
    monkeypatch.setattr(fastagg, "_COLUMNAR_FOLD_AT", 1)
    threads: list[str] = []
    fold_frame = fastagg._fold_frame

    def spy(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return fold_frame(*args)

    monkeypatch.setattr(fastagg, "_fold_frame", spy)
    fast = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
    fast.feed_batch(RecordBatch.from_data(b'{"key":"a","value":1.5}', 1, 0))
    assert fast._folding is not None
    assert fast.snapshot()["aggs"] == {"a": [1, "1.5", "1.5", "1.5"]}
    assert threads and all(name.startswith("fold") for name in threads)

    def broken(*args: Any) -> Any:
        raise MemoryError("fold")

    monkeypatch.setattr(fastagg, "_fold_frame", broken)
    fast.feed_batch(RecordBatch.from_data(b'{"key":"a","value":2}', 2, 24))
    with pytest.raises(MemoryError, match="fold"):
        fast.snapshot()


@pytest.mark.parametrize("partial_records", [1 << 22, 7])
def test_partials_merge_by_value_and_keep_the_first_of_equal_texts(
    partial_records: int, monkeypatch: pytest.MonkeyPatch, c_scan: bool
) -> None:
    # one fold per batch, the partials merged at the end (or every few folds): the
    # maximum 10 after 9 (not "9", the larger text), the minimum -10 after -9, and of
    # equal values the first text over all folds ("1.5" before "1.50", "2" before "2.0")
    monkeypatch.setattr(fastagg, "_COLUMNAR_FOLD_AT", 1)
    monkeypatch.setattr(fastagg, "_PARTIAL_RECORDS", partial_records)
    monkeypatch.setattr(fastagg, "_PARTIAL_ROWS", 1000)
    values = [b"9", b"-9", b"10", b"-10", b"1.5", b"1.50", b"2", b"2.0", b"10.0", b"-10.00"]
    batches = [
        [b'{"key":"a","value":' + v + b"}", b'{"key":"same","value":' + s + b"}"]
        for v, s in zip(values, [b"1.5", b"1.50", b"1.500"] * 4, strict=False)
    ]
    ref = AggregateFactory().open("x.jsonl", None)
    fast = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
    for lines in batches:
        assert per_record(lines, ref) == ([], 0)
        assert fast.feed_batch(RecordBatch.from_data(b"\n".join(lines), 1, 0)).bad == []
        # the records bound (the sums' exactness bound) is kept
        assert fast._partial_records < partial_records
        assert fast._groups is None or fast._groups.records < partial_records
    if partial_records > 100 and fast._groups is not None:  # all in the C fold: one drain
        assert fast._groups.records == 2 * len(batches) and not fast._partials
    elif partial_records > 100:  # every fold's partial is still pending (the last one
        # may be in flight in the folding thread): one merge
        assert len(fast._partials) + (fast._folding is not None) == len(batches)
    assert fast.snapshot() == ref.snapshot()
    assert list(fast.finish()) == list(ref.finish())


@pytest.mark.skipif(fastagg._Groups is None, reason="spotworker._speedups not built here")
def test_the_c_fold_imports_neither_numpy_nor_polars() -> None:
    # the common batch through the C scan and fold, a snapshot, the output: Polars'
    # import alone costs more start-up (0.14 s) and memory than the whole C path, so
    # neither it nor numpy is imported on the way (only the general code imports them)
    code = (
        "import sys\n"
        "from spotworker.fastagg import AggregateBatchFactory\n"
        "from spotworker.tasks import RecordBatch\n"
        "task = AggregateBatchFactory().open('x.jsonl', None)\n"
        'data = b\'\\n\'.join(b\'{"key":"k%d","value":%d.5}\' % (i % 7, i) for i in range(99))\n'
        "assert task.feed_batch(RecordBatch.from_data(data, 99, 0)).bad == []\n"
        "assert task.snapshot()['aggs']['k0'][0] == 15\n"
        "assert len(list(task.finish())) == 7\n"
        "print(sorted({'numpy', 'polars'} & set(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "kinds", sorted(set(itertools.permutations(["c", "c", "decimal", "columnar", "bad"])))
)
def test_every_path_folds_in_input_order(
    kinds: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, c_scan: bool
) -> None:
    # batches taken by the C fold, by the Decimal path (an exponent), by the columnar
    # path (an escaped key: the C scan gives up) and by the per-record code (a bad
    # record), in every order, no pause between: each key's values are equal with
    # different texts, so min and max are the first text and any fold out of input
    # order shows
    monkeypatch.setattr(fastagg, "_COLUMNAR_RETRY", 0)
    texts = iter(["1.5", "1.50", "1.500", "1.5000", "1.50000", "1.500000"])
    ref = AggregateFactory().open("x.jsonl", None)
    fast = AggregateBatchFactory(c_scan=c_scan).open("x.jsonl", None)
    for kind in kinds:
        v = next(texts)
        lines = {
            "c": [b'{"key":"a","value":%s}' % v.encode(), b'{"key":"b","value":-%s}' % v.encode()],
            "decimal": [b'{"key":"a","value":%se0}' % v.encode(), b'{"key":"b","value":-%s}' % v.encode()],
            "columnar": [b'{"key":"\\u0061","value":%s}' % v.encode(), b'{"key":"b","value":-%s}' % v.encode()],
            "bad": [b'{"key":"a","value":%s}' % v.encode(), b'{"key":"b","value":"-%s"}' % v.encode()],
        }[kind]  # fmt: skip
        assert (
            fast.feed_batch(RecordBatch.from_data(b"\n".join(lines), 1, 0)).bad
            == (per_record(lines, ref)[0])
        )
    assert fast.snapshot() == ref.snapshot()
    assert list(fast.finish()) == list(ref.finish())
