"""The strategy expression language: parsing, errors with positions, scalar evaluation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.strategy.expr import ExprError, evaluate, parse, truthy

NAMES = {
    "dpd": "int",
    "total_due": "int",
    "score": "float",
    "promise_active": "bool",
    "product": "str",
    "broken_promises": "int",
}
ACCOUNT = {
    "dpd": 35,
    "total_due": 200000,
    "score": 0.25,
    "promise_active": False,
    "product": "cash_loan",
    "broken_promises": 2,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("dpd >= 31 and dpd <= 90", True),
        ("dpd > 90 or total_due > 100000", True),
        ("not promise_active", True),
        ("total_due * (1 - score)", 150000.0),
        ("-dpd + 40", 5),
        ('product in ["cash_loan", "instalment"]', True),
        ("product not in ['cash_loan']", False),
        ("broken_promises >= 2 and not (dpd < 30)", True),
        ("dpd == 35 and product != 'fenqi'", True),
        ("total_due / 0", None),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
    ],
)
def test_scalar_evaluation(source: str, expected: Any) -> None:
    assert evaluate(parse(source, NAMES), ACCOUNT) == expected


def test_null_is_false_in_conditions_and_propagates_in_arithmetic() -> None:
    env = {**ACCOUNT, "score": None}
    assert evaluate(parse("score * 2", NAMES), env) is None
    assert truthy(evaluate(parse("score > 0.1", NAMES), env)) is False
    assert evaluate(parse("score > 0.1 or dpd > 1", NAMES), env) is True
    assert evaluate(parse("score > 0.1 and dpd > 100", NAMES), env) is False


@pytest.mark.parametrize(
    ("source", "column", "message"),
    [
        ("dpd >= ", 7, "unexpected"),
        ("dpdd > 3", 0, "unknown attribute 'dpdd'"),
        ("dpd > 3 )", 8, "unexpected ')'"),
        ("(dpd > 3", 8, "expected ')'"),
        ("dpd $ 3", 4, "unexpected character"),
        ("__import__('os')", 0, "unknown attribute"),
        ("", 0, "empty"),
    ],
)
def test_errors_name_the_column(source: str, column: int, message: str) -> None:
    with pytest.raises(ExprError) as info:
        parse(source, NAMES)
    assert info.value.position == column
    assert message in str(info.value)


@given(a=st.integers(-1000, 1000), b=st.integers(-1000, 1000), c=st.integers(1, 50))
def test_arithmetic_and_comparisons_match_python(a: int, b: int, c: int) -> None:
    env = {"dpd": a, "total_due": b, "broken_promises": c}
    assert evaluate(parse("dpd * 3 - total_due + broken_promises", NAMES), env) == a * 3 - b + c
    assert evaluate(parse("dpd < total_due", NAMES), env) == (a < b)
    assert evaluate(parse("not (dpd >= total_due) or broken_promises == 1", NAMES), env) == (
        not (a >= b) or c == 1
    )
