"""The vectorised column checks refuse exactly what the scalar parsers refuse."""

from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.store.ingest import columns as c
from arrears.store.ingest import fields as f

VALUES = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(-(10**6), 10**6).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["2026-02-30", " 2026-03-01 ", "+5", "LN-01", "a b", "0", "-0", "１２"]),
)


def _agrees(parse: f.Parser, check: c.ColumnCheck, values: list[Any]) -> None:
    _, refused = check(pa.array(values, pa.string()))
    for value, bad in zip(values, refused.to_pylist(), strict=True):
        if f.blank(value):
            continue
        try:
            parse(value)
            scalar_bad = False
        except f.Invalid:
            scalar_bad = True
        assert bad == scalar_bad, value


@settings(max_examples=200, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=30))
def test_integer_date_and_id_checks_agree_with_the_parsers(values: list[Any]) -> None:
    _agrees(f.integer(0), c.integer(0), values)
    _agrees(f.iso_date, c.iso_date, values)
    _agrees(f.identifier, c.identifier, values)
    _agrees(f.text(5), c.text(5), values)
    _agrees(f.rate, c.by_unique(f.rate), values)


def test_typed_parquet_columns_pass_through() -> None:
    values, refused = c.integer(0)(pa.array(list(range(100)), pa.int64()))
    assert not any(refused.to_pylist()) and values.to_pylist()[99] == 99
    values, refused = c.integer(1)(pa.array([0, 5], pa.int64()))
    assert refused.to_pylist() == [True, False]


def test_channels_window_and_timezone_parsers() -> None:
    assert f.channels("sms; push,sms") == "sms,push"
    assert f.window("09:00-20:00") == "09:00-20:00"
    for parse, bad in ((f.channels, "fax"), (f.window, "9-5"), (f.timezone, "Mars/Base")):
        try:
            parse(bad)
        except f.Invalid:
            continue
        raise AssertionError(f"{bad!r} was accepted")
