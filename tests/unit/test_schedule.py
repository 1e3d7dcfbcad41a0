from datetime import date
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from arrears.domain.schedule import Method, ScheduleError, add_months, build_schedule


def test_equal_payment_example_pays_1100_16_a_month() -> None:
    rows = build_schedule(
        principal=1200000,
        annual_rate=Decimal("0.18"),
        method=Method.EQUAL_PAYMENT,
        term_months=12,
        first_due_date=date(2026, 1, 15),
    )
    assert [r.principal + r.interest for r in rows[:-1]] == [110016] * 11
    assert (rows[0].interest, rows[0].principal) == (18000, 92016)
    assert (rows[1].interest, rows[1].principal) == (16620, 93396)
    assert sum(r.principal for r in rows) == 1200000
    assert rows[-1].due_date == date(2026, 12, 15)


@pytest.mark.parametrize(
    ("first", "k", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2028, 1, 30), 1, date(2028, 2, 29)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),
    ],
)
def test_due_dates_keep_the_first_day_clamped_to_month_end(
    first: date, k: int, expected: date
) -> None:
    assert add_months(first, k) == expected


def test_equal_principal_rounds_each_part_and_last_clears() -> None:
    rows = build_schedule(
        principal=100000,
        annual_rate=Decimal("0.12"),
        method=Method.EQUAL_PRINCIPAL,
        term_months=3,
        first_due_date=date(2026, 3, 10),
    )
    assert [r.principal for r in rows] == [33333, 33333, 33334]
    assert [r.interest for r in rows] == [1000, 667, 333]


def test_bullet_pays_interest_monthly_and_principal_at_the_end() -> None:
    rows = build_schedule(
        principal=500000,
        annual_rate=Decimal("0.24"),
        method=Method.BULLET,
        term_months=4,
        first_due_date=date(2026, 1, 5),
    )
    assert [r.interest for r in rows] == [10000] * 4
    assert [r.principal for r in rows] == [0, 0, 0, 500000]


def test_zero_rate_equal_payment_splits_principal() -> None:
    rows = build_schedule(
        principal=1000,
        annual_rate=Decimal("0"),
        method=Method.EQUAL_PAYMENT,
        term_months=3,
        first_due_date=date(2026, 1, 1),
    )
    assert [r.principal for r in rows] == [333, 333, 334]
    assert all(r.interest == 0 for r in rows)


def test_bad_terms_are_refused() -> None:
    with pytest.raises(ScheduleError):
        build_schedule(
            principal=0,
            annual_rate=Decimal("0.1"),
            method=Method.BULLET,
            term_months=3,
            first_due_date=date(2026, 1, 1),
        )


@settings(max_examples=200, deadline=None)
@given(
    principal=st.integers(min_value=10_000, max_value=50_000_000),
    rate_bp=st.integers(min_value=1, max_value=3600),
    n=st.integers(min_value=1, max_value=60),
)
@example(principal=180000, rate_bp=1, n=1)  # an exact half that numpy puts just below it
def test_equal_payment_matches_numpy_financial(principal: int, rate_bp: int, n: int) -> None:
    """pmt to the rounding; ipmt/ppmt within one minor unit per period.

    numpy-financial works on the unrounded payment; arrears pays the rounded one, so the balance
    drifts by the payment's rounding compounded. The drift is taken out by comparing each period
    against numpy-financial's balance under the rounded payment (fv), and the remaining difference,
    the per-period rounding of interest, must stay within one minor unit per period.
    """
    annual = Decimal(rate_bp) / 10000
    rows = build_schedule(
        principal=principal,
        annual_rate=annual,
        method=Method.EQUAL_PAYMENT,
        term_months=n,
        first_due_date=date(2026, 1, 15),
    )
    r = float(annual) / 12
    exact = -float(npf.pmt(r, n, principal))
    payment = rows[0].principal + rows[0].interest
    # numpy-financial's float error grows with the amounts (about 1e-11 of them): an exact
    # half (e.g. 180,001.5) may come out a few millionths below it
    eps = 1e-6 + 1e-10 * principal
    assert abs(payment - exact) <= 0.5 + eps
    assert abs(rows[0].interest + float(npf.ipmt(r, 1, n, principal))) <= 0.5 + eps
    assert abs(rows[0].principal + float(npf.ppmt(r, 1, n, principal))) <= 1 + eps
    for per, row in enumerate(rows[:-1], start=1):
        balance_before = -float(npf.fv(r, per - 1, -payment, principal))
        assert abs(row.interest - balance_before * r) <= per + eps
        assert abs(row.principal - (payment - balance_before * r)) <= per + eps
    assert sum(row.principal for row in rows) == principal
