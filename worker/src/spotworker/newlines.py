"""Where the newlines of a read buffer are, with numpy (vectorized, in C).

The harness needs, per 1 MiB batch, its line count (line numbers are part of its
guarantees) and how many lines are blank (not records); the batch example task
whether every line is braced, and of its joined keys and values whether every line
is quoted and how long the lines are. CPython 3.11 counts a byte in a plain loop and
finds a pattern of frequent bytes slowly; numpy compares a block of the buffer at
once. Per 1 MiB batch here (``worker/benchmarks/bench_newlines.py``, both side by
side): the line count 0.34 ms with ``bytes.count``, 0.08 here; blank lines 0.41 ms
with a regex, 0.13 here; every line braced 0.96 ms with ``bytes.count(b"}\\n{")``,
0.27 here. The positions of the newlines (0.27 ms) serve the questions about lines'
lengths and first bytes, one gather per line (for the short joined texts).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_NL = 10  # b"\n"
_OPEN, _CLOSE, _QUOTE = ord("{"), ord("}"), ord('"')

Positions = npt.NDArray[np.intp]

#: bytes per step of the block-by-block scans. Their scratch arrays are kept: a fresh
#: 1 MiB array per step costs more than the step (its pages are new; two newlines in a
#: row: 0.5 ms per MiB with fresh arrays, 0.12 in blocks), and a block stays in the
#: CPU's cache. One set per process: the scans run in the thread that reads.
BLOCK = 131072
_IS_NL = np.empty(BLOCK, np.bool_)
_NEXT_NL = np.empty(BLOCK, np.bool_)
_THIRD = np.empty(BLOCK, np.bool_)


def count(buf: bytes) -> int:
    """``buf.count(b"\\n")``."""
    a = np.frombuffer(buf, np.uint8)
    total = 0
    for start in range(0, len(a), BLOCK):
        k = min(BLOCK, len(a) - start)
        total += int(np.count_nonzero(np.equal(a[start : start + k], _NL, out=_IS_NL[:k])))
    return total


def positions(buf: bytes) -> Positions:
    """The offsets of every b"\\n" in ``buf``, in increasing order."""
    return np.flatnonzero(np.frombuffer(buf, np.uint8) == _NL)


def blank_lines(buf: bytes, nl: Positions | None = None) -> int:
    """How many of ``buf.split(b"\\n")`` are b"" (``nl``: ``positions(buf)``, if known;
    else two newlines in a row are counted block by block)."""
    if not buf:
        return 1
    edges = (buf[:1] == b"\n") + (buf[-1:] == b"\n")
    if nl is not None:
        return int(np.count_nonzero(np.diff(nl) == 1)) + edges
    a = np.frombuffer(buf, np.uint8)
    n = len(a) - 1  # pairs (a[i], a[i + 1])
    inner = 0
    for start in range(0, n, BLOCK):
        k = min(BLOCK, n - start)
        here, after = _IS_NL[:k], _NEXT_NL[:k]
        np.equal(a[start : start + k], _NL, out=here)
        np.equal(a[start + 1 : start + 1 + k], _NL, out=after)
        inner += int(np.count_nonzero(np.logical_and(here, after, out=here)))
    return inner + edges


def every_line_braced(buf: bytes, newlines: int) -> bool:
    """Whether every line of ``buf`` (``newlines``: ``count(buf)``) starts with "{" and
    ends with "}": it does, and each newline sits in a "}\\n{" (counted block by
    block)."""
    if buf[:1] != b"{" or buf[-1:] != b"}":
        return False
    a = np.frombuffer(buf, np.uint8)
    n = len(a) - 2  # triples (a[i], a[i + 1], a[i + 2])
    found = 0
    for start in range(0, n, BLOCK):
        k = min(BLOCK, n - start)
        close, nl, opening = _IS_NL[:k], _NEXT_NL[:k], _THIRD[:k]
        np.equal(a[start : start + k], _CLOSE, out=close)
        np.equal(a[start + 1 : start + 1 + k], _NL, out=nl)
        np.equal(a[start + 2 : start + 2 + k], _OPEN, out=opening)
        np.logical_and(close, nl, out=close)
        found += int(np.count_nonzero(np.logical_and(close, opening, out=close)))
    return found == newlines


def every_line_quoted(buf: bytes, nl: Positions) -> bool:
    """Whether every line of ``buf`` starts with '"' and is longer than '""'."""
    if buf[:1] != b'"' or shortest_line(buf, nl) <= 2:
        return False
    # no line is empty: each newline is followed by a line's first byte
    return bool((np.frombuffer(buf, np.uint8)[nl + 1] == _QUOTE).all())


def _line_lengths(buf: bytes, nl: Positions) -> npt.NDArray[np.intp]:
    """The length of each line of ``buf`` (without its newline)."""
    return np.diff(np.concatenate(([-1], nl, [len(buf)]))) - 1


def shortest_line(buf: bytes, nl: Positions) -> int:
    """The length of the shortest line of ``buf`` (without its newline)."""
    return int(_line_lengths(buf, nl).min())


def longest_line(buf: bytes, nl: Positions) -> int:
    """The length of the longest line of ``buf`` (without its newline)."""
    return int(_line_lengths(buf, nl).max())
