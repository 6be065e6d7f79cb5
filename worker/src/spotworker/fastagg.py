"""The example aggregate through the batch API: the same task, scanned in C or msgspec.

``AggregateBatchTask`` computes exactly what :class:`spotworker.tasks.AggregateTask`
computes (the same snapshot, output bytes and bad-record reasons; it is that
class with a ``feed_batch``), about eight times faster per CPU second with the C
scan (spotworker._speedups, below), four without it. msgspec was chosen by
measurement (worker/README.md, "Choosing the parser"): it decodes just the two
fields into a typed struct and skips the rest in C, and its ``Raw`` type hands back
the value's exact JSON text, which becomes an exact Decimal like the per-record
parser's (no float on the way).

Equivalence, line by line. A line goes through msgspec only when msgspec's
answer is certainly the standard parser's; otherwise that line (or the whole
batch) goes through the per-record code, whose answer is then the answer:

* a line msgspec rejects (invalid JSON, not an object, a missing or non-string
  key, a lone surrogate escape, control characters, nesting too deep) is
  re-parsed by the per-record code, which gives the reason it always gave (or
  accepts it: a lone surrogate outside the key is fine there);
* a value that is not a JSON number, or an empty key: the same;
* a batch that is not valid UTF-8 (msgspec may skip an unknown field's string
  without validating it), or that holds a number with a 3-digit exponent or a
  run of 900 digits (the per-record parser converts every number of a record,
  also in fields it ignores, and rejects one outside the range; msgspec skips
  those fields) is processed record by record;
* duplicate fields: both parsers keep the last one.
* a batch is decoded in one ``decode_lines`` call only when every line is braced
  (RecordBatch.every_line_braced) and one record came back per line: that call
  reads any whitespace, newlines too, between values, so a record split over two
  lines and two records on one line would otherwise pass for two good lines;
  else each line is decoded on its own.

CSV objects go through the per-record code (one record per line, a header).

The common batch first goes to a C scan and fold (spotworker/_speedups.c, Groups;
``_grouped``; optional: built where a C compiler was, else msgspec's path below for
every batch, with the same results): in one pass without the GIL it either takes the
whole batch (every line an object whose key is a string without escapes and whose
value a plain number of at most _COLUMNAR_MAX_LEN characters, every other member
valid JSON that the per-record parser reads the same way) and folds each record into
its key's count, exact int128 sum and first smallest and largest value, or gives up
(None), folds nothing, and the code below takes the batch. It never decides a record
is bad. Its groups go into self.aggs as Decimals (``_drain_groups``) at a snapshot,
before any record of the general code, and every _PARTIAL_RECORDS records (the sums'
exactness bound). Neither numpy nor Polars is imported on that path.

The general code's fold: a batch whose every line is a good record with a plain
number value (no exponent, at most _COLUMNAR_MAX_LEN characters) keeps its values as
text and is folded with Polars in exact Int128 columns at the fold's largest scale
(``_fold_frame``), in a thread of its own while the next batches are decoded
(``_fold_columnar``); any other batch's values become Decimals at once
(``_fold_decimals``). Only one kind (the C fold's included) is pending at a time, so
records are folded in input order either way. Without the C scan, the common batch
(every line braced, every key a string without escapes) is decoded by msgspec with
both fields as JSON text (``_columnar``): its keys never become Python strings. An
input where that path (or the C scan) does not take a batch pauses it for
_COLUMNAR_RETRY batches (the general code gives the same result).

The questions asked of the whole batch first (a digit before an exponent mark, a
run of digits, every line braced) are vectorized scans with numpy (``_Scan``,
spotworker.newlines), each equal to its plain definition (tests/test_worker_scans.py).
"""

from __future__ import annotations

import decimal
import functools
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from spotworker import newlines

if TYPE_CHECKING:  # imported on first use: the C scan and fold need neither
    import numpy as np
    import polars as pl

    from spotworker._speedups import Groups

try:  # the C scan and fold of the common batch (optional: built where a C compiler was)
    from spotworker._speedups import Groups as _Groups
except ImportError:  # pragma: no cover - the package built without it
    _Groups = None  # type: ignore[assignment,misc]
from spotworker.tasks import (
    _CTX,
    AggregateTask,
    BadRecord,
    BatchResult,
    JSONValue,
    RecordBatch,
    SkipRecord,
    _number,
)

#: digits to "0": one search finds a run of digits
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_ZERO, _LOWER_E = ord("0"), ord("e")
#: everything a JSON number may contain (plus the separator of the join)
_NUMBER_BYTES = b"0123456789+-.eE\n"
#: a digit, an exponent of 3 digits or more: a number that may be outside the range
_BIG_EXPONENT = re.compile(rb"[0-9][eE][-+]?[0-9]{3}")
#: a run of this many digits may be a number outside the range
_LONG_DIGITS = 900
#: bytes per step of the vectorized scans (_Scan)
_SCAN_BLOCK = newlines.BLOCK
#: windows that a run of _LONG_DIGITS digits always covers one of (_Scan)
_RUN_WINDOW = 256
assert _SCAN_BLOCK % _RUN_WINDOW == 0 and 2 * _RUN_WINDOW - 1 <= _LONG_DIGITS
#: pending records folded into the aggregates at once (memory: ~100 bytes each)
_FOLD_AT = 65536
#: values of at most this many characters, without an exponent, are folded as columns
_COLUMNAR_MAX_LEN = 16
#: pending columnar records folded at once (pending: ~25 bytes each; one fold is in
#: flight while the next is gathered, and Polars' working memory for a fold grows with
#: it: the RSS bound, measured at 1 GB of input in one process, when the C scan's
#: columns were folded here too: peak RSS 146-147 MB at 65,536, 155-160 MB at 98,304,
#: at the same speed; now that path is the C fold, this one runs where it was not built)
_COLUMNAR_FOLD_AT = 65536
#: batches given to the general code after one _columnar did not take (either gives
#: the same result; this bounds the cost of trying on an input where it never takes)
_COLUMNAR_RETRY = 16
#: folded columnar records merged into the aggregates at the latest (_merge_partials),
#: and the partial aggregates' rows (memory: ~10 MB at 131,072 rows, so half that)
_PARTIAL_RECORDS = 1 << 22
_PARTIAL_ROWS = 65536
#: buffers of this many bytes or more are searched with Polars (_big_exponent)
_POLARS_SEARCH_FROM = 65536
#: the exponent of a sum with f fractional digits
_EXPONENTS = [Decimal(1).scaleb(-f) for f in range(_COLUMNAR_MAX_LEN)]


class AggregateBatchTask(AggregateTask):
    def __init__(self, key: str, key_field: str, value_field: str, *, c_scan: bool = True) -> None:
        """``c_scan=False``: never the C scan (_speedups), msgspec's path for every batch
        (what runs where the extension was not built; the tests run both)."""
        super().__init__(key, key_field, value_field)
        #: records decoded but not yet folded into self.aggs, in input order
        self._keys: list[str] = []
        self._values: list[Decimal] = []
        #: records decoded but not yet folded, values as JSON text (see _fold_columnar):
        #: per batch, its keys (their JSON texts joined by b"\n", or decoded) and its
        #: values (their texts joined by b"\n")
        self._col_keys: list[bytes | list[str]] = []
        self._col_values: list[bytes] = []
        self._col_n = 0
        #: folded columnar records not yet in self.aggs: per fold, its per-key partial
        #: aggregates (in input order; _merge_partials), their rows and records
        self._partials: list[tuple[pl.DataFrame, int]] = []  # (frame, its scale)
        self._partial_rows = 0
        self._partial_records = 0
        #: batches left before _columnar is tried again after a batch it did not take
        self._columnar_pause = 0
        #: the fold running in the folding thread (_fold_frame), collected in order
        self._folding: Future[tuple[pl.DataFrame, int, int]] | None = None
        self._decode: Any = None  # None: always the per-record code
        #: the C scan and fold of the common batch, if built: its records not yet in
        #: self.aggs, per key (_grouped, _drain_groups)
        self._groups: Groups | None = None
        self._scan = _Scan()
        if key_field != value_field:  # (the same field: never a good record)
            if _Groups is not None and c_scan:
                self._groups = _Groups()
                self._key_name = key_field.encode("utf-8")
                self._value_name = value_field.encode("utf-8")
            rec = msgspec.defstruct(
                "Rec",
                [("k", str), ("v", msgspec.Raw)],
                rename={"k": key_field, "v": value_field},
                gc=False,  # str and Raw fields: no cycles; 0.25 ms less per MiB
            )
            decoder = msgspec.json.Decoder(rec)
            self._decode = decoder.decode
            self._decode_lines = decoder.decode_lines
            # both fields as JSON text: the keys never become Python strings (_columnar)
            raw = msgspec.defstruct(
                "RawRec",
                [("k", msgspec.Raw), ("v", msgspec.Raw)],
                rename={"k": key_field, "v": value_field},
                gc=False,
            )
            self._decode_lines_raw = msgspec.json.Decoder(raw).decode_lines

    def feed_batch(self, batch: RecordBatch) -> BatchResult:
        if self.is_csv or self._decode is None:
            return self._per_record(batch.lines, 0)
        data = batch.data
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return self._per_record(batch.lines, 0)
        if self._groups is not None and self._grouped(batch):
            return BatchResult()
        maybe_big, maybe_long = self._scan.numbers_to_check(data)
        if maybe_big and _big_exponent(data):
            return self._per_record(batch.lines, 0)
        if maybe_long and b"0" * _LONG_DIGITS in data.translate(_DIGITS_TO_ZERO):
            return self._per_record(batch.lines, 0)
        braced = batch.every_line_braced()
        # (with the C scan, that was the columnar path)
        if self._groups is None and self._columnar_taken(data, batch.count, braced):
            return BatchResult()
        keys: list[str] = []
        raws: list[Any] = []
        where: Sequence[int] = []  # line index of each decoded record
        redo: list[int] = []  # lines for the per-record code
        recs = self._decode_all(data, batch.count) if braced else None
        if recs is not None:
            keys = [rec.k for rec in recs]
            raws = [rec.v for rec in recs]
            where = range(len(recs))
        else:
            where = []
            self._decode_each(batch.lines, keys, raws, where, redo)
        if not raws and not redo:
            return BatchResult()
        joined = b"\n".join(raws)
        if joined.translate(None, _NUMBER_BYTES) or "" in keys:
            # some value is not a number (a string, null, ...) or some key is empty
            keep = [
                j for j, (k, r) in enumerate(zip(keys, raws, strict=True)) if k and _is_number(r)
            ]
            kept = set(keep)
            redo = sorted(redo + [where[j] for j in range(len(where)) if j not in kept])
            keys = [keys[j] for j in keep]
            raws = [raws[j] for j in keep]
            where = [where[j] for j in keep]
            joined = b"\n".join(raws)
        bad: list[tuple[int, str]] = []
        longest = newlines.longest_line(joined, newlines.positions(joined)) if raws else 0
        if (
            not redo
            and raws
            and longest <= _COLUMNAR_MAX_LEN
            and b"e" not in joined
            and b"E" not in joined
        ):
            # the common case: every line a good record with a short plain number; the
            # values stay text until the columnar fold (no Decimal per record)
            self._pend_columnar(keys, joined, len(keys))
            return BatchResult()
        if longest < 40 and b"e" not in joined and b"E" not in joined:
            # every value is under 40 characters with no exponent: in range, and
            # Decimal of the JSON text is exactly what _number returns (the hot path)
            values = list(map(Decimal, joined.decode("ascii").split("\n"))) if raws else []
        else:
            values, keys, where, bad = self._checked_values(raws, keys, where)
        if redo:
            keys, values, more_bad = self._merge_redo(batch.lines, redo, keys, values, where)
            bad = sorted(bad + more_bad)
        self._drain_groups()
        self._flush_columnar()
        self._keys += keys
        self._values += values
        if len(self._keys) >= _FOLD_AT:
            self._fold_decimals()
        return BatchResult(bad=bad)

    def _grouped(self, batch: RecordBatch) -> bool:
        """The common batch scanned and folded in C (_speedups.c, Groups.fold) without
        the GIL, or False and nothing folded: the batches it takes are those _columnar
        below takes from msgspec, and per key it keeps exactly what the per-record task
        keeps (count, exact sum, the first smallest and largest values). After a batch
        it does not take, the next _COLUMNAR_RETRY batches go to the general code."""
        if self._columnar_pause:
            self._columnar_pause -= 1
            return False
        if self._keys or self._col_keys or self._folding is not None or self._partials:
            self._flush_columnar()  # records of the general code come first
            self._fold_decimals()
        groups = self._groups
        assert groups is not None  # (feed_batch asks only then)
        taken = groups.fold(
            batch.data, self._key_name, self._value_name, _COLUMNAR_MAX_LEN, batch.count
        )
        if taken is None:
            self._columnar_pause = _COLUMNAR_RETRY
            return False
        if groups.records >= _PARTIAL_RECORDS:
            self._drain_groups()
        return True

    def _drain_groups(self) -> None:
        """The C fold's records into self.aggs (before any record of the general code:
        they came first). Its texts are the exact Decimals; merged after the records
        already in self.aggs, which came earlier (_merge keeps the earlier of equals)."""
        groups = self._groups
        if groups is None or not groups.records:
            return
        aggs = self.aggs
        with decimal.localcontext(_CTX):  # Inexact traps: never rounded
            for key, n, total, low, high in groups.drain():
                _merge(aggs, key, [n, Decimal(total), Decimal(low), Decimal(high)])

    def _columnar_taken(self, data: bytes, count: int, braced: bool) -> bool:
        """Whether _columnar took the batch. After a batch it does not take (not this
        input's common case: escaped keys, string values, ...), the next
        _COLUMNAR_RETRY batches are spared a decode that would be done twice."""
        if self._columnar_pause:
            self._columnar_pause -= 1
            return False
        if braced and self._columnar(data, count):
            return True
        if braced:
            self._columnar_pause = _COLUMNAR_RETRY
        return False

    def _columnar(self, data: bytes, count: int) -> bool:
        """The common case at its fastest, or False (then the general code below): every
        line (each braced) one record, its key a string without escapes and its value a
        plain number of at most _COLUMNAR_MAX_LEN characters. Both stay JSON text: the
        key's text without its quotes is then the key itself (no escape; msgspec has
        checked the string, the batch is valid UTF-8), and the value's is what the fold
        reads. A batch that does not qualify is decoded a second time, by the general
        code (0.6 ms per 1 MiB batch here; such batches are not the common case)."""
        try:
            recs: list[Any] = self._decode_lines_raw(data)
        except (msgspec.MsgspecError, RecursionError):
            return False
        if len(recs) != count:
            return False
        keys = b"\n".join([rec.k for rec in recs])
        texts = b"\n".join([rec.v for rec in recs])
        if (
            texts.translate(None, _NUMBER_BYTES)  # a value that is not a number
            or b"e" in texts
            or b"E" in texts
            or newlines.longest_line(texts, newlines.positions(texts)) > _COLUMNAR_MAX_LEN
            or b"\\" in keys  # an escape
            or not newlines.every_line_quoted(keys, newlines.positions(keys))  # a string
        ):
            return False
        self._pend_columnar(keys, texts, count)
        return True

    def _pend_columnar(self, keys: bytes | list[str], values: bytes, count: int) -> None:
        self._drain_groups()
        self._fold_decimals()
        self._col_keys.append(keys)
        self._col_values.append(values)
        self._col_n += count
        if self._col_n >= _COLUMNAR_FOLD_AT:
            self._fold_columnar()

    def _decode_all(self, data: bytes, count: int) -> list[Any] | None:
        """Every line of ``data`` decoded in one call, or None if some line is not
        certainly one record msgspec accepts (then: line by line). ``decode_lines``
        takes any whitespace between values, newlines included: it skips blank lines,
        reads a record split over two lines as one and two records on one line as two.
        So it is trusted only when every line is braced (the caller checks
        RecordBatch.every_line_braced: no value spans lines, no line is blank, so each
        line holds one record or more) and it returned exactly one record per line."""
        try:
            recs: list[Any] = self._decode_lines(data)
        except (msgspec.MsgspecError, RecursionError):
            return None
        return recs if len(recs) == count else None

    def _decode_each(
        self,
        lines: list[bytes],
        keys: list[str],
        raws: list[Any],
        where: list[int],
        redo: list[int],
    ) -> None:
        decode = self._decode
        for i, line in enumerate(lines):
            if not line:
                continue
            try:
                rec = decode(line)
            except (msgspec.MsgspecError, RecursionError):
                redo.append(i)
                continue
            keys.append(rec.k)
            raws.append(rec.v)
            where.append(i)

    def _checked_values(
        self, raws: list[Any], keys: list[str], where: Sequence[int]
    ) -> tuple[list[Decimal], list[str], list[int], list[tuple[int, str]]]:
        values: list[Decimal] = []
        good_keys: list[str] = []
        good_where: list[int] = []
        bad: list[tuple[int, str]] = []
        for raw, key, i in zip(raws, keys, where, strict=True):
            try:
                values.append(_number(bytes(raw).decode("ascii")))
            except BadRecord as exc:
                bad.append((i, str(exc)))
                continue
            good_keys.append(key)
            good_where.append(i)
        return values, good_keys, good_where, bad

    def _merge_redo(
        self,
        lines: list[bytes],
        redo: list[int],
        keys: list[str],
        values: list[Decimal],
        where: Sequence[int],
    ) -> tuple[list[str], list[Decimal], list[tuple[int, str]]]:
        """The records msgspec left to the per-record parser, merged back in line order."""
        rows = list(zip(where, keys, values, strict=True))
        bad: list[tuple[int, str]] = []
        for i in redo:
            try:
                key, value = self._parse_json(lines[i])
            except BadRecord as exc:
                bad.append((i, str(exc)))
                continue
            rows.append((i, key, value))
        rows.sort(key=lambda row: row[0])
        return [r[1] for r in rows], [r[2] for r in rows], bad

    def _fold(self) -> None:
        """Fold every pending record (the C fold's, the columnar ones and the Decimal ones:
        at most one kind is pending at a time, so the order of the records is kept)."""
        self._drain_groups()
        self._flush_columnar()
        self._fold_decimals()

    def _flush_columnar(self) -> None:
        """Every columnar record into the aggregates (before any later Decimal record)."""
        self._fold_columnar()
        self._merge_partials()

    def _fold_decimals(self) -> None:
        """Fold the pending records into the aggregates, key by key (the loops over a
        key's values run in C: sum, min, max). The result is the per-record task's:
        exact sums do not depend on the grouping (neither the value, nor the
        exponent, nor the sign of a zero), and min()/max() return the first of
        equal values, as the per-record code keeps the earlier one."""
        keys, values = self._keys, self._values
        if not keys:
            return
        self._keys, self._values = [], []
        groups: dict[str, list[Decimal]] = {}
        get = groups.get
        for key, value in zip(keys, values, strict=True):
            group = get(key)
            if group is None:
                groups[key] = [value]
            else:
                group.append(value)
        aggs = self.aggs
        with decimal.localcontext(_CTX):  # Inexact traps: never rounded
            for key, vals in groups.items():
                # sum() from the first value, not from 0 (0 + 1E+2 would be 100)
                total = sum(vals[1:], vals[0]) if len(vals) > 1 else vals[0]
                _merge(aggs, key, [len(vals), total, min(vals), max(vals)])

    def _fold_columnar(self) -> None:
        """Start folding the pending text-valued records (_fold_frame) in the folding
        thread, after taking the fold before it: while Polars folds (it releases the
        GIL), the next batches are decoded. At most one fold is in flight; a snapshot,
        a Decimal record and the bounds wait for it (_take_fold), so the partials are
        taken, merged and snapshotted in input order, as when folded in place."""
        if not self._col_keys:
            return
        chunks, values = self._col_keys, self._col_values
        self._col_keys, self._col_values, self._col_n = [], [], 0
        self._take_fold()
        if self._partial_rows >= _PARTIAL_ROWS or self._partial_records >= _PARTIAL_RECORDS:
            self._merge_partials()
        self._folding = _folder().submit(_fold_frame, chunks, values)

    def _take_fold(self) -> None:
        """Wait for the fold in flight, if any, and keep its partial aggregates (folds
        are taken in the order they were started: the input order)."""
        if self._folding is None:
            return
        groups, scale, records = self._folding.result()
        self._folding = None
        self._partials.append((groups, scale))
        self._partial_rows += len(groups)
        self._partial_records += records

    def _merge_partials(self) -> None:
        """Merge the folds' partial aggregates into self.aggs: in Polars first (one
        group-by over all of them, in input order), then one Python merge per key.

        Exact: each sum is rescaled to S, the largest scale of them, in Int128 (a
        value's text has at most 16 characters, so at scale S <= 14 it is below 10**30,
        and the partials hold fewer than _PARTIAL_RECORDS + _COLUMNAR_FOLD_AT + one
        batch of values, below 9 * 10**6 even for 64 MiB batches of 16-byte records:
        every sum stays below 10**37, Int128 holds 1.7 * 10**38). min/max: the first
        of equal values over the partials in order, as within a fold; the fractional
        digits: the most; negative zeros: counted."""
        self._take_fold()
        partials, self._partials = self._partials, []
        self._partial_rows = self._partial_records = 0
        if not partials:
            return
        import polars as pl

        scale = max(s for _, s in partials)
        if len(partials) == 1:
            groups = partials[0][0]
        else:
            frames = [
                g.with_columns(pl.col("sum") * pl.lit(10 ** (scale - s), pl.Int128))
                for g, s in partials
            ]
            first_lo, first_hi = pl.col("lo").arg_min(), pl.col("hi").arg_max()
            groups = (
                pl.concat(frames)
                .with_columns(
                    lo=_scaled(pl.col("lo_m"), pl.col("lo_f"), scale),
                    hi=_scaled(pl.col("hi_m"), pl.col("hi_f"), scale),
                )
                .group_by("k")
                .agg(
                    pl.col("n").sum(),
                    pl.col("sum").sum(),
                    *(pl.col(c).get(first_lo) for c in ("lo_m", "lo_f", "lo_z")),
                    *(pl.col(c).get(first_hi) for c in ("hi_m", "hi_f", "hi_z")),
                    pl.col("f").max(),
                    pl.col("negzero").sum(),
                )
            )
        aggs = self.aggs
        columns = [c.to_list() for c in groups.select(_PARTIAL_COLUMNS)]
        with decimal.localcontext(_CTX):  # Inexact traps: never rounded
            for key, n, total, lo_m, lo_f, lo_z, hi_m, hi_f, hi_z, f, negzero in zip(
                *columns, strict=True
            ):
                # the exact sum at the scale of its value with the most fractional
                # digits (every value is a multiple of that, so the quantize is exact)
                sum_ = Decimal(total).scaleb(-scale).quantize(_EXPONENTS[f])
                if negzero == n:
                    sum_ = sum_.copy_negate()  # -0 + -0 is -0
                low = Decimal(lo_m).scaleb(-lo_f)
                high = Decimal(hi_m).scaleb(-hi_f)
                _merge(
                    aggs,
                    key[1:-1],
                    [
                        n,
                        sum_,
                        low.copy_negate() if lo_z else low,
                        high.copy_negate() if hi_z else high,
                    ],
                )

    def snapshot(self) -> JSONValue:
        self._fold()
        return super().snapshot()

    def finish(self) -> Iterable[bytes]:
        self._fold()
        return super().finish()

    def _per_record(self, lines: list[bytes], start: int) -> BatchResult:
        """The per-record code over the batch (CSV, or a batch msgspec cannot be trusted with)."""
        self._fold()
        bad: list[tuple[int, str]] = []
        skipped = 0
        feed = self.feed
        for i in range(start, len(lines)):
            line = lines[i]
            if not line:
                continue
            try:
                feed(line)
            except BadRecord as exc:
                bad.append((i, str(exc)))
            except SkipRecord:
                skipped += 1
        return BatchResult(bad=bad, skipped=skipped)


def _fold_frame(
    chunks: list[bytes | list[str]], values: list[bytes]
) -> tuple[pl.DataFrame, int, int]:
    """One fold's per-key partial aggregates, their scale and how many records, with
    Polars, exactly (run in the folding thread: AggregateBatchTask._fold_columnar).

    Every value is a plain JSON number (no exponent) of at most _COLUMNAR_MAX_LEN
    characters: its digits without the point ``m`` (below 10**16), how many of them
    follow the point ``f`` and whether it is a negative zero ``z`` (_columns). With
    S the largest ``f``, each value is the integer m * 10**(S - f) at scale S, exact
    in Int128 (below 10**30: S <= 14), and so is any sum of up to
    _COLUMNAR_FOLD_AT + one batch of them. Per key, the result is the per-record
    task's: the exact sum with the exponent of the value with the most fractional
    digits (Decimal addition keeps the smallest exponent), negative zero only when
    every value was a negative zero (x + -x is +0), and as min/max the first of
    equal values (arg_min/arg_max: the first index), as (m, f, z): a plain number's
    text is a function of those (JSON allows no leading zeros), so Decimal(m)
    scaled by 10**-f, negated if z, is the Decimal of its text.

    The keys are grouped by their JSON text with quotes (a decoded key gets them
    added): a text without escapes is its key between quotes, so two keys are
    equal exactly when those texts are."""
    import polars as pl

    df = pl.DataFrame({"k": _quoted_keys(chunks)}).with_columns(_columns(values))
    scale = int(df["f"].max())  # type: ignore[arg-type]
    v = pl.col("v")
    first_lo, first_hi = v.arg_min(), v.arg_max()
    groups = (
        df.with_columns(v=_scaled(pl.col("m"), pl.col("f"), scale))
        .group_by("k")
        .agg(
            pl.len().alias("n"),
            v.sum().alias("sum"),
            *(pl.col(c).get(first_lo).alias(f"lo_{c}") for c in "mfz"),
            *(pl.col(c).get(first_hi).alias(f"hi_{c}") for c in "mfz"),
            pl.col("f").max().alias("f"),
            pl.col("z").sum().alias("negzero"),
        )
    )
    return groups, scale, len(df)


#: a fold's partial aggregates, in this order
_PARTIAL_COLUMNS = ["k", "n", "sum", "lo_m", "lo_f", "lo_z", "hi_m", "hi_f", "hi_z", "f", "negzero"]


@functools.cache
def _powers() -> pl.Series:
    """10**i for the rescaling of a plain number with i fractional digits fewer than the
    scale."""
    import polars as pl

    return pl.Series([10**i for i in range(_COLUMNAR_MAX_LEN)], dtype=pl.Int128)


def _scaled(m: pl.Expr, f: pl.Expr, scale: int) -> pl.Expr:
    """The value m * 10**-f as an Int128 at ``scale`` (>= every f)."""
    import polars as pl

    return m.cast(pl.Int128) * pl.lit(_powers()).gather(pl.lit(scale, pl.Int64) - f.cast(pl.Int64))


def _columns(values: list[bytes]) -> list[pl.Series]:
    """The pending values' texts (valid plain numbers, joined by b"\n" per batch) as the
    columns m (Int64), f (UInt8), z (Boolean) of _fold_frame, converted by Polars."""
    import polars as pl

    t = pl.col("t")
    point = t.str.find(".", literal=True)
    parsed = pl.DataFrame({"t": _split(b"\n".join(values))}).select(
        m=t.str.replace(".", "", literal=True).cast(pl.Int64),
        f=(t.str.len_bytes() - point - 1).fill_null(0).cast(pl.UInt8),
        z=t.str.starts_with("-"),
    )
    return [parsed["m"], parsed["f"], (parsed["z"] & (parsed["m"] == 0)).alias("z")]


_FOLDER: ThreadPoolExecutor | None = None


def _folder() -> ThreadPoolExecutor:
    """The process's folding thread (Polars releases the GIL while it folds)."""
    global _FOLDER  # noqa: PLW0603 - one per process, started on first use
    if _FOLDER is None:
        _FOLDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fold")
    return _FOLDER


def _merge(aggs: dict[str, list[Any]], key: str, part: list[Any]) -> None:
    """Merge one key's partial aggregate [count, sum, min, max] (in the current decimal
    context)."""
    agg = aggs.get(key)
    if agg is None:
        aggs[key] = part
        return
    agg[0] += part[0]
    agg[1] += part[1]
    agg[2] = min(agg[2], part[2])  # of equal values, the earlier one stays
    agg[3] = max(agg[3], part[3])


def _split(joined: bytes) -> pl.Series:
    """The lines of ``joined`` (valid UTF-8) as a Polars string column."""
    import polars as pl

    return pl.Series([joined.decode("utf-8")]).str.split("\n").explode()


def _quoted_keys(chunks: list[bytes | list[str]]) -> pl.Series:
    """The pending keys, each as a JSON string text without escapes or a decoded key
    between quotes, as one Polars string column in input order (one split per run of
    texts)."""
    import polars as pl

    parts: list[pl.Series] = []
    run: list[bytes] = []
    for chunk in chunks:
        if isinstance(chunk, bytes):
            run.append(chunk)
            continue
        if run:
            parts.append(_split(b"\n".join(run)))
            run = []
        decoded = pl.Series(chunk, dtype=pl.String)
        parts.append(pl.select(pl.concat_str(pl.lit('"'), decoded, pl.lit('"'))).to_series())
    if run:
        parts.append(_split(b"\n".join(run)))
    return pl.concat(parts) if len(parts) > 1 else parts[0]


def _big_exponent(data: bytes) -> bool:
    """Whether ``data`` (valid UTF-8) holds a digit, an exponent mark and 3 digits: a
    number that may be outside the range. Rust's regex through Polars for a large
    buffer (0.7 ms per MiB here; CPython's ``re``: 6.5 ms)."""
    if len(data) < _POLARS_SEARCH_FROM:
        return _BIG_EXPONENT.search(data) is not None
    import polars as pl

    text = pl.Series([data], dtype=pl.Binary).cast(pl.String)
    return bool(text.str.contains(_BIG_EXPONENT.pattern.decode("ascii"))[0])


class _Scan:
    """Vectorized byte tests over a batch, in blocks of _SCAN_BLOCK bytes with scratch
    arrays kept between batches: a block stays in the CPU's cache between the steps,
    and a fresh 1 MiB array per step costs more than the step (its pages are new).
    0.2 ms per MiB here; a ``translate`` of the digits to "0" then a search for "0e"
    and for a run of "0"s: 1.1 to 1.8 ms."""

    def __init__(self) -> None:
        self._u8: np.ndarray[Any, Any] | None = None  # (numpy imported on first use)
        self._b1: np.ndarray[Any, Any] | None = None
        self._b2: np.ndarray[Any, Any] | None = None

    def numbers_to_check(self, data: bytes) -> tuple[bool, bool]:
        """(whether some digit is followed by "e" or "E", whether some aligned window of
        _RUN_WINDOW bytes is all digits). Every run of 2 * _RUN_WINDOW - 1 digits or
        more holds such a window, so False there means no run of _LONG_DIGITS."""
        import numpy as np

        if self._u8 is None or self._b1 is None or self._b2 is None:
            self._u8 = np.empty(_SCAN_BLOCK, np.uint8)
            self._b1 = np.empty(_SCAN_BLOCK, np.bool_)
            self._b2 = np.empty(_SCAN_BLOCK, np.bool_)
        a = np.frombuffer(data, np.uint8)
        # pairs (a[i], a[i + 1]) for i < n: the last byte is in none as a[i], so a run
        # of digits keeps all but at most its last byte here
        n = len(a) - 1
        mark_after_digit = long_run = False
        for start in range(0, n, _SCAN_BLOCK):
            end = min(start + _SCAN_BLOCK, n)
            k = end - start
            u8, digit, mark = self._u8[:k], self._b1[:k], self._b2[:k]
            # uint8 arithmetic wraps below "0"; "E" | 0x20 is "e"
            np.less(np.subtract(a[start:end], _ZERO, out=u8), 10, out=digit)
            whole = k - k % _RUN_WINDOW  # blocks start at multiples of _RUN_WINDOW
            if not long_run and whole:
                long_run = bool(digit[:whole].reshape(-1, _RUN_WINDOW).all(axis=1).any())
            if not mark_after_digit:
                np.equal(np.bitwise_or(a[start + 1 : end + 1], 0x20, out=u8), _LOWER_E, out=mark)
                mark_after_digit = bool(np.logical_and(digit, mark, out=digit).any())
            if mark_after_digit and long_run:
                break
        return mark_after_digit, long_run


def _is_number(raw: Any) -> bool:
    first = bytes(raw)[:1]
    return first == b"-" or first.isdigit()


class AggregateBatchFactory:
    """The example task with the batch API. Its name, snapshot and output are those of
    the per-record ``AggregateFactory``: a checkpoint of one is resumed by the other."""

    name = "aggregate"

    def __init__(
        self, key_field: str = "key", value_field: str = "value", *, c_scan: bool = True
    ) -> None:
        self.key_field = key_field
        self.value_field = value_field
        self.c_scan = c_scan  # see AggregateBatchTask

    def open(self, key: str, snapshot: JSONValue | None) -> AggregateBatchTask:
        task = AggregateBatchTask(key, self.key_field, self.value_field, c_scan=self.c_scan)
        if snapshot is not None:
            task.restore(snapshot)
        return task
