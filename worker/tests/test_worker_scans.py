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
    assert newlines.count(buf) == buf.count(b"\n")
    lines = _lines(buf)
    assert newlines.blank_lines(buf, nl) == newlines.blank_lines(buf) == lines.count(b"")
    assert newlines.longest_line(buf, nl) == max(map(len, lines))
    assert newlines.shortest_line(buf, nl) == min(map(len, lines))
    quoted = all(x[:1] == b'"' and len(x) > 2 for x in lines)
    assert newlines.every_line_quoted(buf, nl) == quoted
    braced = all(x[:1] == b"{" and x[-1:] == b"}" for x in lines)
    assert newlines.every_line_braced(buf, nl) == braced


@FUZZ
@given(buf=buffers)
def test_a_batch_from_data_counts_as_one_from_lines(buf: bytes) -> None:
    lines = _lines(buf)
    from_data, from_lines = RecordBatch.from_data(buf, 1, 0), RecordBatch(lines, 1, 0)
    assert from_data.count == from_lines.count == len(lines)
    assert from_data.blank_lines() == from_lines.blank_lines() == lines.count(b"")
    assert from_data.every_line_braced() == from_lines.every_line_braced()
    assert from_data.longest_line() == from_lines.longest_line() == max(map(len, lines))


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
        assert newlines.blank_lines(buf) == lines.count(b"") == blanks, at
        assert newlines.count(buf) == 2
        batch = RecordBatch.from_data(buf, 1, 0)
        assert (batch.count, batch.blank_lines()) == (3, lines.count(b""))


_DIGIT_MARK = re.compile(rb"[0-9][eE]")
_BIG = re.compile(rb"[0-9][eE][-+]?[0-9]{3}")


def test_digit_before_exponent_mark_is_the_regex_answer_in_any_block() -> None:
    scan = _Scan()

    @FUZZ
    @given(buf=buffers)
    def check(buf: bytes) -> None:
        assert scan.digit_before_exponent_mark(buf) == bool(_DIGIT_MARK.search(buf)), buf

    check()
    # one scratch for every block and batch: a mark at a block's edge, a short buffer
    # after a long one (no leftovers), digits and marks only in other blocks
    block = fastagg._SCAN_BLOCK
    for at in (0, block - 2, block - 1, block, 2 * block + 5):
        buf = b"x" * at + b"1e" + b"x" * 10
        assert scan.digit_before_exponent_mark(buf), at
        assert not scan.digit_before_exponent_mark(b"x" * at + b"1xe" + b"x" * 10), at
    assert not scan.digit_before_exponent_mark(b"1" * block + b"x" + b"e" * block)
    assert not scan.digit_before_exponent_mark(b"1x")
    assert not scan.digit_before_exponent_mark(b"e1")
    assert not scan.digit_before_exponent_mark(b"")
    assert scan.digit_before_exponent_mark(b"9E")


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
