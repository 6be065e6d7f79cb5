"""Where the newlines of a read buffer are, with numpy (vectorized, in C) or the C
extension (the line count, spotworker._speedups, where built).

The harness needs, per 1 MiB batch, its line count (line numbers are part of its
guarantees) and how many lines are blank (not records); the batch example task
whether every line is braced, and of its joined keys and values whether every line
is quoted and how long the lines are. CPython 3.11 counts a byte in a plain loop and
finds a pattern of frequent bytes slowly; numpy compares a block of the buffer at
once. Per 1 MiB batch here (``worker/benchmarks/bench_newlines.py``, both side by
side): the line count and the blank lines, in one pass, 0.15 ms (0.08 + 0.14 in two),
against 0.76 with ``bytes.count`` and a regex; every line braced ~0.19 ms, 0.33 with
the line count against 0.95 with ``bytes.count(b"}\\n{")``. The positions of the
newlines (0.27 ms) serve the questions about lines' lengths and first bytes, one
gather per line (for the short joined texts). numpy is imported on first use (see
_scratch): the harness itself needs only the line count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Positions = npt.NDArray[np.intp]

try:  # the C scan (optional: built where a C compiler was; else numpy, the same answer)
    from spotworker._speedups import line_counts as _c_line_counts
except ImportError:  # pragma: no cover - the package built without it
    _c_line_counts = None  # type: ignore[assignment]

_NL = 10  # b"\n"
_OPEN, _CLOSE, _QUOTE = ord("{"), ord("}"), ord('"')

#: bytes per step of the block-by-block scans. Their scratch arrays are kept: a fresh
#: 1 MiB array per step costs more than the step (its pages are new; two newlines in a
#: row: 0.5 ms per MiB with fresh arrays, 0.12 in blocks), and a block stays in the
#: CPU's cache. One set per process: the scans run in the thread that reads.
BLOCK = 131072
_SCRATCH: list[Any] = []


def _scratch() -> list[Any]:
    """The scratch arrays, made on first use. numpy is imported by each scan when it
    runs (a dict lookup after the first): where the C extension is built, the harness
    counts lines without it, and a task that needs none of the scans below (the no-op,
    a per-record task) does not pay numpy's import (~60 ms of the start here)."""
    import numpy  # (on first use, see above)

    if not _SCRATCH:
        _SCRATCH.extend(
            [
                numpy.empty(BLOCK + 1, numpy.bool_),
                numpy.empty(BLOCK, numpy.bool_),
                numpy.empty(BLOCK, numpy.bool_),
            ]
        )
    return _SCRATCH


def line_counts(buf: bytes) -> tuple[int, int]:
    """``(len(lines), lines.count(b""))`` of ``lines = buf.split(b"\\n")``: how many
    lines and how many of them blank. In C where built (spotworker._speedups, 16 bytes
    at a time: 0.06 ms per MiB here), else with numpy (line_counts_numpy, 0.16)."""
    if _c_line_counts is not None:
        return _c_line_counts(buf)
    return line_counts_numpy(buf)


def line_counts_numpy(buf: bytes) -> tuple[int, int]:
    """line_counts in one numpy pass block by block (a blank line inside ``buf`` is two
    newlines in a row; each block is compared with the next block's first byte too)."""
    if not buf:
        return 1, 1
    import numpy as np  # (imported on first use: see _scratch)

    is_nl_block, next_nl_block, _ = _scratch()
    a = np.frombuffer(buf, np.uint8)
    n = len(a)
    found = inner = 0
    for start in range(0, n, BLOCK):
        k = min(BLOCK, n - start)  # this block's bytes
        m = min(k + 1, n - start)  # and the next block's first, for the pair across
        is_nl = np.equal(a[start : start + m], _NL, out=is_nl_block[:m])
        found += int(np.count_nonzero(is_nl[:k]))
        pairs = np.logical_and(is_nl[: m - 1], is_nl[1:m], out=next_nl_block[: m - 1])
        inner += int(np.count_nonzero(pairs))
    return found + 1, inner + (buf[:1] == b"\n") + (buf[-1:] == b"\n")


def positions(buf: bytes) -> Positions:
    """The offsets of every b"\\n" in ``buf``, in increasing order."""
    import numpy as np  # (imported on first use: see _scratch)

    return np.flatnonzero(np.frombuffer(buf, np.uint8) == _NL)


def every_line_braced(buf: bytes, newlines: int) -> bool:
    """Whether every line of ``buf`` (``newlines``: how many b"\\n" it holds) starts
    with "{" and ends with "}": it does, and each newline sits in a "}\\n{" (counted
    block by block)."""
    if buf[:1] != b"{" or buf[-1:] != b"}":
        return False
    import numpy as np  # (imported on first use: see _scratch)

    first, second, third = _scratch()
    a = np.frombuffer(buf, np.uint8)
    n = len(a) - 2  # triples (a[i], a[i + 1], a[i + 2])
    found = 0
    for start in range(0, n, BLOCK):
        k = min(BLOCK, n - start)
        close, nl, opening = first[:k], second[:k], third[:k]
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
    import numpy as np  # (imported on first use: see _scratch)

    return bool((np.frombuffer(buf, np.uint8)[nl + 1] == _QUOTE).all())


def _line_lengths(buf: bytes, nl: Positions) -> npt.NDArray[np.intp]:
    """The length of each line of ``buf`` (without its newline)."""
    import numpy as np  # (imported on first use: see _scratch)

    return np.diff(np.concatenate(([-1], nl, [len(buf)]))) - 1


def shortest_line(buf: bytes, nl: Positions) -> int:
    """The length of the shortest line of ``buf`` (without its newline)."""
    return int(_line_lengths(buf, nl).min())


def longest_line(buf: bytes, nl: Positions) -> int:
    """The length of the longest line of ``buf`` (without its newline)."""
    return int(_line_lengths(buf, nl).max())
