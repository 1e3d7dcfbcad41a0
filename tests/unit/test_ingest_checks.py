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
    st.sampled_from(
        [
            "2026-02-30",
            " 2026-03-01 ",
            "+5",
            "LN-01",
            "a b",
            "0",
            "-0",
            "１２",
            "9999-12-31",
            "0001-01-01",
            "1899-12-31",
            "2199-12-31",
            "a\x00b",
            "x\x1f",
            "\x1fy",
            "tab\tok",
            "line\nok",
        ]
    ),
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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"[0-9]{17}[0-9Xx]", fullmatch=True),
            st.sampled_from(
                [
                    "110101199003077774",
                    "110101199003077777",
                    "11010119900230777X",
                    "1",
                    "",
                    "11010120000229001X",
                    "110101190001010010",
                ]
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_resident_id_check_agrees_with_the_scalar_rule(values: list[str]) -> None:
    from arrears.domain.identity import problem

    got = c.resident_id_ok(pa.array(values, pa.string())).to_pylist()
    for value, ok in zip(values, got, strict=True):
        scalar = bool(value) and len(value) == 18 and problem(value) is None
        assert ok == scalar, value


def test_identity_documents_by_their_kind() -> None:
    from arrears.domain.identity import check_character, problem

    assert check_character("11010519491231002") == "X"  # GB 11643's worked example
    assert problem("11010519491231002X") is None and problem("11010519491231002x") is None
    assert "check character" in (problem("110105194912310021") or "")
    assert "18 characters" in (problem("1") or "")
    assert "birth date" in (problem("110105194902300024") or "")
    assert problem("110105491231002") is None  # the 15-digit first-generation card
    assert problem("E12345678", "passport") is None
    assert problem("078-05-1120", "us_ssn") is None and problem("000-12-3456", "us_ssn")
    assert problem("AB123456C", "uk_nino") is None and problem("DA123456A", "uk_nino")
    assert problem("H12345678", "hk_macau") is None and problem("X12345678", "hk_macau")
    assert problem("x", "library_card")


def test_dates_locales_and_control_characters() -> None:
    from datetime import date

    assert f.iso_date("2026-11-23") == date(2026, 11, 23)
    for parse, bad in (
        (f.iso_date, "9999-12-31"),
        (f.iso_date, date(1, 1, 1)),
        (f.locale, "fr"),
        (f.locale, "xx-YY"),
        (f.text(50), "张\x00三"),
        (f.timezone, "Mars/Olympus_Mons"),
    ):
        try:
            parse(bad)
        except f.Invalid as exc:
            assert str(exc)  # a reason a person reads
            continue
        raise AssertionError(f"{bad!r} was accepted")
    assert f.locale("zh-CN") == "zh-CN" and f.locale("en") == "en"
