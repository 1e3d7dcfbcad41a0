"""Vectorised column checks for ingestion (pyarrow compute), the fast path for large files.

Each check takes a column as read (strings from CSV, typed values from Parquet) and returns the
column in its stored type plus a mask of the rows it refuses. Rows refused here are re-parsed by
the scalar parsers in :mod:`arrears.store.ingest.fields`, which give the exact reason, so the fast
path and the reported errors always agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.store.ingest import fields as f

Checked = tuple[pa.Array, pa.Array]  # (values in stored type, refused mask)
ColumnCheck = Callable[[pa.Array], Checked]

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
_INT = r"^[+-]?[0-9]{1,18}$"  # int64-safe; the scalar parser says the same
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _false(n: int) -> pa.Array:
    return pa.array(np.zeros(n, dtype=bool))


def _refused(valid_input: pa.Array, ok: pa.Array) -> pa.Array:
    """Rows with a value that is not ok (nulls are the caller's concern)."""
    return pc.and_(valid_input, pc.invert(pc.fill_null(ok, False)))


def _as_text(col: pa.Array) -> pa.Array:
    """The column as trimmed text; a value that is only whitespace is missing (as the scalar
    parsers' :func:`arrears.store.ingest.fields.blank` says)."""
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    trimmed = pc.replace_substring_regex(col, pattern=r"^[ \t\r\n]+|[ \t\r\n]+$", replacement="")
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def identifier(col: pa.Array) -> Checked:
    text = _as_text(col)
    return text, _refused(pc.is_valid(text), pc.match_substring_regex(text, _ID))


_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def text(max_len: int) -> ColumnCheck:
    def check(col: pa.Array) -> Checked:
        out = _as_text(col)
        raw = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
        fits = pc.less_equal(pc.utf8_length(out), max_len)
        clean = pc.invert(pc.fill_null(pc.match_substring_regex(raw, _CONTROL), False))
        return out, _refused(pc.is_valid(out), pc.and_(fits, clean))

    return check


def integer(minimum: int | None) -> ColumnCheck:
    def check(col: pa.Array) -> Checked:
        if pa.types.is_integer(col.type):
            values = pc.cast(col, pa.int64())
            bad = _false(len(col))
        else:
            txt = _as_text(col)
            well_formed = pc.fill_null(pc.match_substring_regex(txt, _INT), False)
            bad = _refused(pc.is_valid(txt), well_formed)
            unsigned = pc.replace_substring_regex(txt, pattern=r"^\+", replacement="")
            values = pc.cast(
                pc.if_else(well_formed, unsigned, pa.scalar(None, pa.string())), pa.int64()
            )
        if minimum is not None:
            bad = pc.or_(bad, pc.fill_null(pc.less(values, minimum), False))
        return values, bad

    return check


def _in_range(days: pa.Array) -> pa.Array:
    first, last = (pa.scalar(d, pa.date32()) for d in (f.FIRST_DAY, f.LAST_DAY))
    return pc.and_(pc.greater_equal(days, first), pc.less_equal(days, last))


def iso_date(col: pa.Array) -> Checked:
    if (
        pa.types.is_date32(col.type)
        or pa.types.is_timestamp(col.type)
        or pa.types.is_date64(col.type)
    ):
        days = col if pa.types.is_date32(col.type) else pc.cast(col, pa.date32())
        return days, _refused(pc.is_valid(days), _in_range(days))
    txt = _as_text(col)
    shaped = pc.fill_null(pc.match_substring_regex(txt, _DATE), False)
    stamp = pc.strptime(
        pc.if_else(shaped, txt, pa.scalar(None, pa.string())),
        format="%Y-%m-%d",
        unit="s",
        error_is_null=True,
    )
    # strptime rolls 2026-02-30 over into March; a round trip catches it
    same = pc.equal(pc.strftime(stamp, format="%Y-%m-%d"), txt)
    days = pc.cast(stamp, pa.date32())
    return days, _refused(pc.is_valid(txt), pc.and_(same, _in_range(days)))


def by_unique(parse: f.Parser) -> ColumnCheck:
    """Check each distinct value once with the scalar parser: for low-cardinality columns."""

    def check(col: pa.Array) -> Checked:
        uniq = pc.unique(col).to_pylist()
        parsed: list[Any] = []
        ok: list[bool] = []
        for value in uniq:
            if f.blank(value):
                parsed.append(None)
                ok.append(True)
                continue
            try:
                parsed.append(parse(value))
                ok.append(True)
            except f.Invalid:
                parsed.append(None)
                ok.append(False)
        index = pc.index_in(col, value_set=pa.array(uniq, col.type))
        values = pa.array(parsed).take(index) if uniq else pa.nulls(len(col))
        good = pa.array(ok, pa.bool_()).take(index) if uniq else _false(len(col))
        return values, _refused(pc.is_valid(col), good)

    return check


def resident_id_ok(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Whether each value is an 18-character resident id with the right check character and a
    real birth date (vectorised; :func:`arrears.domain.identity.problem` says why not)."""
    from arrears.domain.identity import CHECK, WEIGHTS

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    text = pc.utf8_upper(_as_text(arr))
    shaped = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{17}[0-9X]$"), False)
    ok = np.zeros(len(text), dtype=bool)
    idx = np.flatnonzero(shaped.to_numpy(zero_copy_only=False))
    if idx.size:
        ids = text.take(pa.array(idx))
        chars = np.array(ids.to_pylist(), dtype="S18").view(np.uint8).reshape(-1, 18)
        total = ((chars[:, :17].astype(np.int64) - 48) * np.array(WEIGHTS)).sum(axis=1)
        want = np.frombuffer(CHECK.encode(), np.uint8)[total % 11]
        birth = pc.utf8_slice_codeunits(ids, 6, 14)
        born = pc.strptime(birth, format="%Y%m%d", unit="s", error_is_null=True)
        real = pc.equal(pc.strftime(born, format="%Y%m%d"), birth)  # not rolled over
        year = pc.cast(pc.utf8_slice_codeunits(birth, 0, 4), pa.int64())
        plausible = pc.and_(pc.greater_equal(year, 1900), pc.less_equal(year, 2099))
        dated = pc.fill_null(pc.and_(real, plausible), False).to_numpy(zero_copy_only=False)
        ok[idx] = (chars[:, 17] == want) & dated
    return pa.array(ok)
