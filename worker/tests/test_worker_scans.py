"""The vectorized scans (spotworker.newlines, fastagg's byte tests) answer exactly what
the plain Python they replace answers, on any buffer (property-based, hypothesis), and
the harness and the batch task use them where they are exact."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spotworker import fastagg, newlines
from spotworker.fastagg import _POLARS_SEARCH_FROM, _big_exponent, _Scan
from spotworker.tasks import RecordBatch

# the bytes every answer turns on, and some others
_ALPHABET = b'{}\n \t\r0159eE+-."a'
_bytes = st.lists(st.sampled_from(list(_ALPHABET)), max_size=200).map(bytes)
# and lines that are nearly braced, blank or long
_LINE = [
    b"",
    b'""',
    b'"a"',
    b'"',
    b"{}",
    b"{",
    b"}",
    b"} {",
    b" {}",
    b"{} ",
    b'{"v":1e5}',
    b"\r",
    b"x" * 40,
]
_joined = st.lists(st.sampled_from(_LINE), min_size=1, max_size=12).map(b"\n".join)
buffers = st.one_of(_bytes, _joined)

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None)


def _lines(buf: bytes) -> list[bytes]:
    return buf.split(b"\n")


@FUZZ
@given(buf=buffers)
def test_newline_scans_are_the_plain_python_answers(buf: bytes) -> None:
    nl = newlines.positions(buf)
    assert nl.tolist() == [i for i, c in enumerate(buf) if c == 10]
    lines = _lines(buf)
    assert newlines.line_counts(buf) == (len(lines), lines.count(b""))
    assert newlines.line_counts_numpy(buf) == (len(lines), lines.count(b""))
    assert newlines.longest_line(buf, nl) == max(map(len, lines))
    assert newlines.shortest_line(buf, nl) == min(map(len, lines))
    quoted = all(x[:1] == b'"' and len(x) > 2 for x in lines)
    assert newlines.every_line_quoted(buf, nl) == quoted
    braced = all(x[:1] == b"{" and x[-1:] == b"}" for x in lines)
    assert newlines.every_line_braced(buf, buf.count(b"\n")) == braced


@FUZZ
@given(buf=buffers)
def test_a_batch_from_data_counts_as_one_from_lines(buf: bytes) -> None:
    lines = _lines(buf)
    from_data, from_lines = RecordBatch.from_data(buf, 1, 0), RecordBatch(lines, 1, 0)
    assert from_data.count == from_lines.count == len(lines)
    assert from_data.blank_lines() == from_lines.blank_lines() == lines.count(b"")
    assert from_data.every_line_braced() == from_lines.every_line_braced()


@pytest.mark.parametrize(
    ("buf", "blanks"),
    [(b"", 1), (b"\n", 2), (b"\n\n", 3), (b"{}\n\n{}", 1), (b"\n{}", 1), (b"{}\n", 1), (b" ", 0)],
)
def test_blank_lines_at_the_edges(buf: bytes, blanks: int) -> None:
    assert RecordBatch.from_data(buf, 1, 0).blank_lines() == blanks


@pytest.mark.parametrize("at", [0, 1, newlines.BLOCK - 1, newlines.BLOCK, 2 * newlines.BLOCK + 3])
def test_block_by_block_scans_across_block_edges(at: int) -> None:
    size = 3 * newlines.BLOCK
    first_blank = at == 0
    for buf, blanks in (
        # two newlines in a row, at or near a block's edge
        (b"x" * at + b"\n\n" + b"x" * (size - at), 1 + first_blank),
        (b"\n".join([b"x" * at, b"x" * 5, b"x" * (size - at)]), 0 + first_blank),
    ):
        lines = buf.split(b"\n")
        assert newlines.line_counts(buf) == (3, lines.count(b"")) == (3, blanks), at
        assert newlines.line_counts_numpy(buf) == (3, blanks), at
        batch = RecordBatch.from_data(buf, 1, 0)
        assert (batch.count, batch.blank_lines()) == (3, lines.count(b""))
    # every line braced, with a "}\n{" at or near a block's edge
    buf = b"{" + b"x" * at + b"}\n{" + b"x" * (size - at) + b"}"
    assert newlines.every_line_braced(buf, 1), at
    assert not newlines.every_line_braced(buf.replace(b"}\n{", b"}\n["), 1), at
    assert not newlines.every_line_braced(buf.replace(b"}\n{", b")\n{"), 1), at


_DIGIT_MARK = re.compile(rb"[0-9][eE]")
_BIG = re.compile(rb"[0-9][eE][-+]?[0-9]{3}")


def _longest_digit_run(buf: bytes) -> int:
    return max(map(len, re.findall(rb"[0-9]+", buf)), default=0)


def _digit_window(buf: bytes, window: int) -> bool:
    """Some aligned window of ``window`` bytes before the last byte is all digits."""
    return any(buf[i : i + window].isdigit() for i in range(0, len(buf) - window, window))


def test_numbers_to_check_are_the_regex_answers_in_any_block() -> None:
    scan = _Scan()
    window = fastagg._RUN_WINDOW

    @FUZZ
    @given(buf=buffers, run=st.integers(0, 3 * window), at=st.integers(0, 300))
    def check(buf: bytes, run: int, at: int) -> None:
        buf = buf[:at] + b"7" * run + buf[at:]
        mark, long_run = scan.numbers_to_check(buf)
        assert mark == bool(_DIGIT_MARK.search(buf)), buf
        assert long_run == _digit_window(buf, window), (len(buf), run, at)
        if _longest_digit_run(buf) >= 2 * window - 1:  # such a run covers a window
            assert long_run

    check()
    # one scratch for every block and batch: a mark at a block's edge, a short buffer
    # after a long one (no leftovers), digits and marks only in other blocks
    block = fastagg._SCAN_BLOCK
    for at in (0, block - 2, block - 1, block, 2 * block + 5):
        assert scan.numbers_to_check(b"x" * at + b"1e" + b"x" * 10) == (True, False), at
        assert scan.numbers_to_check(b"x" * at + b"1xe" + b"x" * 10) == (False, False), at
        run = b"x" * at + b"5" * (2 * window - 1) + b"x"
        assert scan.numbers_to_check(run) == (False, True), at
        short = run.replace(b"55", b"5x", 1)
        assert scan.numbers_to_check(short) == (False, _digit_window(short, window)), at
    assert scan.numbers_to_check(b"1" * block + b"x" + b"e" * block) == (False, True)
    assert scan.numbers_to_check(b"1x") == (False, False)
    assert scan.numbers_to_check(b"e1") == (False, False)
    assert scan.numbers_to_check(b"") == (False, False)
    assert scan.numbers_to_check(b"9E") == (True, False)


@pytest.mark.parametrize("size", [100, _POLARS_SEARCH_FROM + 10])
@pytest.mark.parametrize(
    ("number", "big"),
    [(b"1e999", True), (b"1E+100", True), (b"5e-1234", True), (b"1e99", False), (b"1e", False)],
)
def test_big_exponent_in_either_search(size: int, number: bytes, big: bool) -> None:
    for at in (0, size // 2, size):
        filler = b'{"key":"e","value":1.5}\n' * (size // 24 + 1)
        data = filler[:at] + number + filler[at:]
        assert _big_exponent(data) == big == bool(_BIG.search(data)), (size, number, at)
