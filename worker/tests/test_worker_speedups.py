"""The C scan of the common batch (spotworker/_speedups.c) never accepts what the
per-record parser would not accept the same way.

``extract`` either gives up on a batch (None: the general code, whose answer is the
answer, takes it) or returns, for every line, the key's JSON text and the value's
digits, fractional digits and sign of zero. Property-based (hypothesis): on JSON
lines built from every construct the two could disagree on (escapes, control
characters, NaN, duplicate names, deep nesting, numbers of every shape, whitespace
JSON does not have), on those lines with bytes inserted, deleted or replaced, and on
random bytes, every accepted batch is checked against ``AggregateTask._parse_json``
line by line, and on the common case (good lines of plain numbers) it must accept.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib.util
import json
import mmap
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spotworker import fastagg, newlines
from spotworker.tasks import _CTX, AggregateTask

FUZZ = settings(max_examples=600, deadline=None, derandomize=True, database=None)
MAX_LEN = fastagg._COLUMNAR_MAX_LEN

# test_the_scans_read_nothing_outside_their_buffers runs this file against builds of
# the same source with AddressSanitizer: that build's path comes in this variable
_SANITIZED = os.environ.get("SPOTWORKER_TEST_SPEEDUPS_SO")
_module: Any = None
if _SANITIZED:
    _spec = importlib.util.spec_from_file_location("_speedups", _SANITIZED)
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
else:
    with contextlib.suppress(ImportError):  # (optional: see test_the_c_scan_is_built...)
        from spotworker import _speedups as _module
extract = _module.extract if _module else None
Groups = _module.Groups if _module else None
line_counts = _module.line_counts if _module else None
needs_c = pytest.mark.skipif(_module is None, reason="spotworker._speedups not built here")


def _can_build() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return shutil.which(cc) is not None and headers.is_file()


def test_the_c_scan_is_built_where_it_can_be() -> None:
    # the extension is optional (setup.py): a machine without a C compiler or Python's
    # headers installs without it. Where both are, a build that failed must not pass
    # unnoticed behind the fallback.
    if not _can_build():
        pytest.skip("no C compiler or no Python.h: the extension is optional")
    assert fastagg._Groups is not None, "spotworker._speedups did not build: see pip's output"
    assert newlines._c_line_counts is not None  # (both use it where it is built)


def _sanitizer_runtime(cc: str, name: str) -> str | None:
    found = subprocess.run(
        [cc, f"-print-file-name={name}"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return found if Path(found).is_absolute() and Path(found).exists() else None


@pytest.mark.parametrize("portable", [False, True], ids=["sse2", "portable"])
def test_the_scans_read_nothing_outside_their_buffers(tmp_path: Path, portable: bool) -> None:
    # the tests of this file again, on the same C source built with AddressSanitizer and
    # UndefinedBehaviorSanitizer, Python's allocations through malloc (PYTHONMALLOC) so
    # that a read past a bytes object's end is caught: any such read, any undefined
    # behaviour fails the run. Once as built here (SSE2 on x86_64), once without the
    # SSE2 code (-U__SSE2__: the portable code that other CPUs run)
    if _SANITIZED:
        pytest.skip("(this is the sanitized run)")
    cc = shutil.which("gcc")
    asan = cc and _sanitizer_runtime(cc, "libasan.so")
    ubsan = cc and _sanitizer_runtime(cc, "libubsan.so")
    if not (cc and asan and ubsan and _can_build()):
        pytest.skip("no gcc with AddressSanitizer and UBSan here")
    source = Path(fastagg.__file__).with_name("_speedups.c")
    so = tmp_path / ("_speedups" + str(sysconfig.get_config_var("EXT_SUFFIX")))
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        [cc, "-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
         *(["-U__SSE2__"] if portable else []),
         "-shared", "-fPIC", f"-I{include}", str(source), "-o", str(so)],
        check=True,
    )  # fmt: skip
    env = {
        **os.environ,
        "SPOTWORKER_TEST_SPEEDUPS_SO": str(so),
        "PYTHONMALLOC": "malloc",
        "LD_PRELOAD": f"{asan} {ubsan}",
        "ASAN_OPTIONS": "detect_leaks=0",  # (CPython's own allocations at exit)
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", __file__],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and "ERROR: AddressSanitizer" not in run.stderr


def check(data: bytes, key_field: str = "key", value_field: str = "value") -> bool:
    """Whether extract accepted ``data``; if so, every line is what the per-record
    parser makes of it, and Groups.fold takes the same batch and keeps per key what
    the per-record task keeps; if not, fold takes nothing either."""
    assert extract is not None and Groups is not None
    got = extract(data, key_field.encode(), value_field.encode(), MAX_LEN)
    groups = Groups()
    folded = groups.fold(
        data, key_field.encode(), value_field.encode(), MAX_LEN, data.count(b"\n") + 1
    )
    if got is None:
        assert folded is None and groups.records == 0 and len(groups) == 0 and groups.drain() == []
        return False
    assert folded == got[4] == groups.records
    keys, m, f, z, count = got
    lines = data.split(b"\n")
    assert count == len(lines)
    ms = np.frombuffer(m, np.int64).tolist()
    fs = np.frombuffer(f, np.uint8).tolist()
    zs = np.frombuffer(z, np.bool_).tolist()
    key_texts = keys.split(b"\n")
    assert len(ms) == len(fs) == len(zs) == len(key_texts) == count
    task = AggregateTask("x.jsonl", key_field, value_field)
    for i, line in enumerate(lines):
        want = task._parse_json(line)  # BadRecord here: accepted what the task rejects
        key = key_texts[i]
        assert key[:1] == b'"' == key[-1:] and b"\\" not in key, line
        value = Decimal(ms[i]).scaleb(-fs[i])
        if zs[i]:
            assert ms[i] == 0, line
            value = value.copy_negate()
        # the same key, and the same Decimal: value, sign and exponent (its text)
        assert (key[1:-1].decode("utf-8"), str(value)) == (want[0], str(want[1])), line
        task.feed(line)
    assert drained(groups) == task.snapshot()["aggs"]  # type: ignore[index]
    return True


def drained(groups: Any) -> dict[str, list[Any]]:
    """The groups as the task's snapshot has them (each text through Decimal: exact)."""
    return {key: [n, *(str(Decimal(text)) for text in texts)] for key, n, *texts in groups.drain()}


# -- lines of JSON (and nearly JSON) ------------------------------------------------
_numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    *(
        st.decimals(-(10**9), 10**9, allow_nan=False, allow_infinity=False, places=p).map(str)
        for p in (1, 2, 6, 14)
    ),
    st.sampled_from(
        [
            "0", "-0", "-0.0", "0.000", "1.50", "01", "-", "1.", ".5", "+1", "1e5", "1E+2",
            "25e-1", "1e999", "1e-999", "1e1001", "NaN", "Infinity", "-Infinity",
            "12345678901234567", "1234567890123456", "-123456789012345", "0.00000000000001",
            "9" * 101, "9" * 99, "1e99", "1e100", "1.0e-05",
        ]
    ),
)  # fmt: skip
_good_chars = st.sampled_from(
    ["a", "é", "ключ", " ", '\\"', "\\\\", "\\/", "\\n", "\\u0041", "\\ud800", "\\ud83d\\ude42", "\x7f", "😀"]
)  # fmt: skip
_chars = st.one_of(
    _good_chars, _good_chars, _good_chars, _good_chars, _good_chars,
    st.sampled_from(["\x01", "\x1f", "\t", "\x00"]),  # control characters: rejected
    st.sampled_from(["\\x", "\\u12", '"', "\\"]),  # not JSON
)  # fmt: skip
_strings = st.lists(_chars, max_size=4).map(lambda parts: '"' + "".join(parts) + '"')
_names = st.sampled_from(
    ['"key"', '"value"', '"ts"', '""', '"k\\u0065y"', '"valu\\u0065"', '"Key"', '"key "']
)
_ws = st.sampled_from([""] * 24 + [" ", "\t", "\r", "  ", " \r\t"] + ["\x0b", "\x0c", "\u00a0"])


def _json(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    members = st.lists(st.tuples(_names | _strings, children), max_size=3)
    return st.one_of(
        st.lists(children, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        members.map(lambda ms: "{" + ",".join(f"{k}:{v}" for k, v in ms) + "}"),
    )


_values = st.recursive(
    st.one_of(_numbers, _strings, st.sampled_from(["true", "false", "null", "tru", "nul"])),
    _json,
    max_leaves=6,
)
_member_values = st.one_of(_numbers, _strings, _strings, _values)


PLAIN = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1).map(str),
    st.tuples(st.integers(-(10**6), 10**6), st.integers(0, 10**8 - 1), st.integers(1, 8)).map(
        lambda t: f"{'-' if t[0] < 0 else ''}{abs(t[0])}.{t[1] % 10 ** t[2]:0{t[2]}d}"
    ),
    st.sampled_from(["-0", "-0.0", "0", "0.00"]),
).filter(lambda t: len(t) <= MAX_LEN)
KEYS = st.sampled_from(['"a"', '"user-00042"', '"ключ"', '"x y"', '"😀"'])
#: keys the scan must give up on (escaped, empty) or the task rejects
ODD_KEYS = st.sampled_from(['"a\x01"', '"\t"', '"a\\u0041"', '""', "5", "null", '"\\ud800"'])


@st.composite
def lines(draw: st.DrawFn) -> str:
    """One object line: a good key and a plain value, among other members (named key
    or value too, or escaped, with any value: the last of a name counts), with
    whitespace JSON has and has not; now and then broken."""
    members = [('"key"', draw(KEYS)), ('"value"', draw(PLAIN))]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(members)))
        members.insert(at, (draw(_names | _strings), draw(_member_values)))
    w = lambda: draw(_ws)  # noqa: E731
    body = ",".join(f"{w()}{k}{w()}:{w()}{v}{w()}" for k, v in members)
    line = w() + "{" + body + "}" + w()
    broken = [
        line[:-1],
        line + "}",
        line + "{}",
        line + line,
        line + "x" + line,
        "[" + line + "]",
        line.replace(":", "", 1),
    ]
    return draw(st.sampled_from([line] * 14 + broken))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """Good lines, some of them with a byte inserted, deleted or replaced."""
    base = [
        json.dumps({"key": draw(st.sampled_from(["a", "b", "ключ"])), "value": v}, ensure_ascii=False)
        for v in draw(st.lists(st.sampled_from([1, -2.5, 0.0, -0.0, 10, 0.125, 1e20]), min_size=1, max_size=4))
    ]  # fmt: skip
    data = bytearray("\n".join(base).encode())
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.sampled_from(list(b'{}[]",:\\ \t\r\n0123456789.-+eEaxu\x00\x01')))
        if op == "insert":
            data[i:i] = bytes([byte])
        elif i < len(data):
            data[i : i + 1] = b"" if op == "delete" else bytes([byte])
    return bytes(data)


@needs_c
@FUZZ
@given(st.lists(lines(), min_size=1, max_size=3))
def test_json_lines_are_the_per_record_parsers(batch: list[str]) -> None:
    TAKEN.append(check("\n".join(batch).encode("utf-8")))


TAKEN: list[bool] = []


@needs_c
def test_the_json_lines_above_were_taken_often_enough() -> None:
    # the property above is only as strong as the share of batches the scan takes
    if not TAKEN:
        pytest.skip("run with test_json_lines_are_the_per_record_parsers")
    assert 0.1 < sum(TAKEN) / len(TAKEN) < 0.9, sum(TAKEN) / len(TAKEN)
    print(f"taken: {sum(TAKEN) / len(TAKEN):.2f}")


@needs_c
@FUZZ
@given(mutated())
def test_mutated_lines_are_the_per_record_parsers(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return  # the caller sends a batch that is not UTF-8 to the per-record code
    check(data)


@needs_c
@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_are_the_per_record_parsers_or_given_up(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # never read by the task, but the scan must still not crash on it
        assert extract is not None
        extract(data, b"key", b"value", MAX_LEN)
        return
    check(data)


@needs_c
@FUZZ
@given(
    st.lists(
        st.tuples(KEYS, PLAIN, st.booleans()),
        min_size=1,
        max_size=20,
    )
)
def test_the_common_batch_is_taken(records: list[tuple[str, str, bool]]) -> None:
    # every line a good record with a plain number: the scan must take it (else the
    # fast path would be dead code behind the fallback), with the per-record answer
    lines = []
    for key, value, extra in records:
        tail = ',"ts":1763000000,"tag":"alpha","n":[1,{"a":null}],"s":"\\u00e9\\n"' if extra else ""
        lines.append(f'{{"key":{key},"value":{value}{tail}}}')
    assert check("\n".join(lines).encode("utf-8"))


@needs_c
def test_the_fields_are_the_tasks_and_the_last_of_a_name_counts() -> None:
    assert check(b'{"id":"a","amount":1.5,"key":"x","value":"no"}', "id", "amount")
    assert check(b'{"key":"a","key":"b","value":1,"value":2}')
    assert not check(b'{"key":"a","value":1,"value":"2"}')  # the last one is a string
    assert not check(b'{"key":"a","value":1,"k\\u0065y":"b"}')  # an escaped name: gives up
    assert not check(b'{"key":"a","value":1.5e0}')  # an exponent: not a plain number
    assert not check(b'{"key":"a","value":12345678901234567}')  # 17 characters
    assert check(b'{"key":"a","value":1234567890123456}')  # 16
    assert not check(b'{"key":"","value":1}')  # an empty key is a bad record
    assert not check(b'{"key":"a","value":1,"x":1e100}')  # may be outside the range
    assert check(b'{"key":"a","value":1,"x":1e99}')
    assert not check(b'{"key":"a","value":1,"x":' + b"[" * 65 + b"]" * 65 + b"}")  # deep
    assert check(b'{"key":"a","value":1,"x":' + b"[" * 63 + b"]" * 63 + b"}")
    assert not check(b'{"key":"a","value":1}\n')  # a blank last line: not a record
    assert not check(b"")


@needs_c
def test_bad_arguments_are_errors_not_answers() -> None:
    assert extract is not None
    with pytest.raises(ValueError, match="max_value_len"):
        extract(b'{"key":"a","value":1}', b"key", b"value", 19)
    with pytest.raises(TypeError):
        extract("text", b"key", b"value", 16)  # type: ignore[arg-type]


# -- Groups: the fold across batches --------------------------------------------------
#: values at the edges of the int128 bounds: 16 characters, the most digits on either
#: side of the point, ties of value with other texts, negative zeros
EDGES = st.sampled_from(
    ["9999999999999999", "-999999999999999", "0.00000000000001", "-0.0000000000001",
     "9.99999999999999", "1", "1.0", "1.00000000000000", "-0", "-0.0000000000000", "0",
     "0.0", "-1", "-1.0"]
)  # fmt: skip


@needs_c
@FUZZ
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(["a", "b", "ключ"]), PLAIN | EDGES), min_size=1, max_size=30),
        min_size=1,
        max_size=6,
    ),
    st.integers(1, 6),
)  # fmt: skip
def test_groups_across_batches_and_drains_are_the_per_record_tasks(
    batches: list[list[tuple[str, str]]], drain_every: int
) -> None:
    # folded batch after batch, drained every few (merged as fastagg merges them: the
    # earlier part first), the result is the per-record task's, every text exact
    assert Groups is not None
    groups, task = Groups(), AggregateTask("x.jsonl", "key", "value")
    merged: dict[str, list[Any]] = {}
    for i, batch in enumerate(batches):
        lines = [f'{{"key":"{k}","value":{v}}}'.encode() for k, v in batch]
        assert groups.fold(b"\n".join(lines), b"key", b"value", MAX_LEN, len(lines)) == len(lines)
        for line in lines:
            task.feed(line)
        if i % drain_every == drain_every - 1 or i == len(batches) - 1:
            for key, n, *texts in groups.drain():
                with decimal.localcontext(_CTX):
                    fastagg._merge(merged, key, [n, *map(Decimal, texts)])
            assert groups.records == 0 and len(groups) == 0
    want = task.snapshot()["aggs"]
    assert {k: [a[0], *map(str, a[1:])] for k, a in merged.items()} == want


@needs_c
def test_groups_sums_at_the_bound_are_exact() -> None:
    # the largest magnitudes a value of 16 characters has at the largest scale, summed
    # 100,000 times per key: exact (Decimal with 60 digits), no int128 overflow
    assert Groups is not None
    values = ["9999999999999999", "0.00000000000001", "-999999999999999", "-0.0000000000001"]
    groups = Groups()
    big = b"\n".join(
        f'{{"key":"k{i % 4 // 2}","value":{values[i % 4]}}}'.encode() for i in range(200_000)
    )
    assert groups.fold(big, b"key", b"value", MAX_LEN, 200_000) == 200_000
    got = {key: (n, total) for key, n, total, _, _ in groups.drain()}
    with decimal.localcontext(prec=60):
        assert got == {
            "k0": (100_000, str(Decimal("9999999999999999.00000000000001") * 50_000)),
            "k1": (100_000, str(Decimal("-999999999999999.0000000000001") * 50_000)),
        }


@needs_c
def test_groups_of_many_keys_of_every_length() -> None:
    # 30,000 keys of 1 to 40 bytes and one of 20,000 (the slots and the keys' store grow many times,
    # probes run long), each seen again in a later batch and after a drain
    assert Groups is not None
    groups, task = Groups(), AggregateTask("x.jsonl", "key", "value")
    keys = [("k" * (i % 40) + str(i))[-(1 + i % 40) :] + str(i) for i in range(30_000)]
    keys[7] = "long" * 5000  # longer than the keys' first store, and than twice it
    merged: dict[str, list[Any]] = {}
    for round_ in range(3):
        lines = [
            f'{{"key":"{k}","value":{i % 97 - round_}.{round_}}}'.encode()
            for i, k in enumerate(keys)
        ]
        for line in lines:
            task.feed(line)
        assert groups.fold(b"\n".join(lines), b"key", b"value", MAX_LEN, len(lines)) == len(lines)
        assert len(groups) == len(keys)  # (all distinct)
        if round_ == 1:
            with decimal.localcontext(_CTX):
                for key, n, *texts in groups.drain():
                    fastagg._merge(merged, key, [n, *map(Decimal, texts)])
    with decimal.localcontext(_CTX):
        for key, n, *texts in groups.drain():
            fastagg._merge(merged, key, [n, *map(Decimal, texts)])
    want = task.snapshot()["aggs"]
    assert {k: [a[0], *map(str, a[1:])] for k, a in merged.items()} == want


@needs_c
def test_groups_refuse_what_they_cannot_hold_exactly() -> None:
    assert Groups is not None
    groups = Groups()
    good = b'{"key":"a","value":1}'
    with pytest.raises(ValueError, match="max_value_len"):
        groups.fold(good, b"key", b"value", 17, 1)  # beyond the int128 bound
    assert groups.fold(good, b"key", b"value", MAX_LEN, 2) is None  # not that many lines
    assert groups.records == 0
    # a batch that could hold more values than an int128 sum may take since the last
    # drain: refused before it is read (an anonymous map: its pages are never touched)
    with mmap.mmap(-1, 1 << 30) as huge, pytest.raises(OverflowError, match="drain"):
        groups.fold(huge, b"key", b"value", MAX_LEN, 1)
    with pytest.raises(TypeError):
        groups.fold("text", b"key", b"value", MAX_LEN, 1)
    assert groups.fold(good, b"key", b"value", MAX_LEN, 1) == 1 and len(groups) == 1


@needs_c
def test_groups_refuse_a_second_thread_while_one_folds() -> None:
    # fold runs without the GIL: a drain (or fold) from another thread meanwhile is an
    # error, never a read of a table being written
    assert Groups is not None
    groups = Groups()
    batch = b"\n".join(f'{{"key":"k{i % 1000}","value":{i}}}'.encode() for i in range(400_000))
    stop = threading.Event()
    errors: list[str] = []

    def folding() -> None:
        while not stop.is_set():
            groups.fold(batch, b"key", b"value", MAX_LEN, 400_000)

    thread = threading.Thread(target=folding)
    thread.start()
    try:
        for _ in range(2000):
            try:
                groups.drain()
            except RuntimeError as exc:
                errors.append(str(exc))
                break
            time.sleep(0.001)
    finally:
        stop.set()
        thread.join()
    assert errors == ["Groups used by two threads at once"]


# -- line_counts ----------------------------------------------------------------------
def _plain_counts(buf: bytes) -> tuple[int, int]:
    lines = buf.split(b"\n")
    return len(lines), lines.count(b"")


@needs_c
@FUZZ
@given(st.lists(st.sampled_from([b"\n", b"\n", b"x", b"\x0a\x0a", b"\x8a", b"\x0b", b"yz"])))
def test_line_counts_are_the_plain_python_answers(parts: list[bytes]) -> None:
    assert line_counts is not None
    buf = b"".join(parts)
    assert line_counts(buf) == _plain_counts(buf)


@needs_c
@pytest.mark.parametrize("run", [1, 2, 15, 16, 17, 4079, 4080, 4081, 4096, 9000])
@pytest.mark.parametrize("at", [0, 1, 7, 15, 16, 4079, 4080, 4095])
def test_line_counts_across_blocks_and_counter_flushes(run: int, at: int) -> None:
    # 16-byte blocks, byte counters summed every 255 blocks (4,080 bytes), 8-byte words:
    # runs of newlines across each edge
    assert line_counts is not None
    for filler in (b"x", b"\n"):
        buf = filler * at + b"\n" * run + filler * (8191 - at)
        assert line_counts(buf) == _plain_counts(buf), (run, at, filler)
        assert line_counts(buf[:-1]) == _plain_counts(buf[:-1])
