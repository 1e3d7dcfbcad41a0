"""Properties of the ledger over random loans and payments (hypothesis)."""

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.codec import loan_from_dict, statement_to_dict
from arrears.domain.delinquency import statement
from arrears.domain.ledger import Loan, Payment

START = date(2026, 1, 1)


@st.composite
def loans(draw: st.DrawFn) -> Loan:
    policy: dict[str, Any] = {
        "penalty_base": draw(st.sampled_from(["principal", "principal_interest"])),
        "grace_days": draw(st.integers(0, 5)),
        "allocation": draw(st.sampled_from(["components_first", "instalment_first"])),
    }
    if draw(st.booleans()):
        policy["penalty_daily_rate"] = str(draw(st.integers(1, 100)) / 100000)
    else:
        policy["penalty_rate_multiplier"] = draw(st.sampled_from(["1", "1.5", "2"]))
    if draw(st.booleans()):
        policy["penalty_rate_cap_annual"] = "0.24"
    if draw(st.booleans()):
        policy["charges_cap_ratio"] = draw(st.sampled_from(["0.001", "0.01", "0.05", "0.5"]))
    data: dict[str, Any] = {
        "loan_id": "H",
        "principal": draw(st.integers(10_000, 5_000_000)),
        "annual_rate": str(draw(st.integers(0, 3600)) / 10000),
        "method": draw(st.sampled_from(["equal_payment", "equal_principal", "bullet"])),
        "term_months": draw(st.integers(1, 12)),
        "first_due_date": (START + timedelta(days=draw(st.integers(0, 60)))).isoformat(),
        "policy": policy,
    }
    loan = loan_from_dict(data)
    for k in range(draw(st.integers(0, 6))):
        day = START + timedelta(days=draw(st.integers(0, 400)))
        loan = loan.post(Payment(f"P{k}", day, draw(st.integers(1, 800_000))))
    return loan


AS_OF = st.integers(0, 500).map(lambda n: START + timedelta(days=n))


@settings(max_examples=150, deadline=None)
@given(loan=loans(), as_of=AS_OF)
def test_allocation_conserves_money_to_the_minor_unit(loan: Loan, as_of: date) -> None:
    st_ = statement(loan, as_of, explain=False)
    applied = sum(
        i.paid_principal + i.paid_interest + i.paid_fee + i.penalty_paid for i in st_.instalments
    )
    received = sum(p.amount for p in loan.payments if p.date <= as_of)
    assert applied + st_.credit_balance == received
    for i in st_.instalments:
        assert 0 <= i.paid_principal <= i.principal
        assert 0 <= i.paid_interest <= i.interest
        assert 0 <= i.penalty_paid <= i.penalty_accrued


@settings(max_examples=100, deadline=None)
@given(loan=loans(), as_of=AS_OF, day=st.integers(0, 400), amount=st.integers(1, 900_000))
def test_reversing_a_payment_restores_the_exact_prior_state(
    loan: Loan, as_of: date, day: int, amount: int
) -> None:
    bounced = loan.post(Payment("BOUNCE", START + timedelta(days=day), amount)).reverse("BOUNCE")
    assert statement_to_dict(statement(bounced, as_of)) == statement_to_dict(statement(loan, as_of))


@settings(max_examples=100, deadline=None)
@given(loan=loans(), as_of=AS_OF, days=st.integers(1, 60))
def test_dpd_never_decreases_without_a_payment(loan: Loan, as_of: date, days: int) -> None:
    paid_days = {p.date for p in loan.payments}
    before = statement(loan, as_of, explain=False)
    for k in range(1, days + 1):
        day = as_of + timedelta(days=k)
        after = statement(loan, day, explain=False)
        if day in paid_days or before.credit_balance > 0:
            return
        if before.dpd is None:
            assert after.dpd is None
        else:
            assert after.dpd is not None and after.dpd == before.dpd + 1
        before = after


@settings(max_examples=150, deadline=None)
@given(loan=loans(), as_of=AS_OF)
def test_caps_are_never_exceeded(loan: Loan, as_of: date) -> None:
    st_ = statement(loan, as_of)
    if st_.cap_amount is not None:
        assert st_.penalty_accrued <= st_.cap_amount  # these loans carry no fees
        assert st_.cap_reached == (st_.penalty_accrued == st_.cap_amount)
    cap_rate = loan.policy.rate_cap_annual
    for inst in st_.instalments:
        for line in inst.penalty_lines:
            if cap_rate is not None:
                assert line.daily_rate * 360 <= cap_rate
            assert line.amount <= line.per_day * line.days
