"""A payment cancels only what it makes pointless: a token payment (1 yuan) leaves the day's
agent call and reminders planned; a payment of half of what was due or more stops them
(``suppression.paid_today``); the account table says what was paid and what share, the same in
the vectorised cycle and the scalar second look."""

from __future__ import annotations

from datetime import date

import pytest

from arrears.bootstrap import App
from arrears.cycle.accounts import share_paid
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.payments import post_payment
from tests.conftest import PlanBook
from tests.support.clock import Clock, plan_rows

DAY = date(2026, 11, 23)


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(1500, 17, DAY, clock=Clock())


def _call_and_owed(app: App) -> tuple[str, str, int]:
    """A loan with an agent call planned today, one more action, and what it owes."""
    for call in plan_rows(app, status="planned", channel="agent_call"):
        owed = int(statement_for_loan(app, call.loan_id, DAY)["total_due"])
        if owed >= 1_000:
            return call.loan_id, call.action_id, owed
    raise AssertionError("no planned agent call on a loan owing 10 yuan or more")


def test_a_token_payment_leaves_the_call_planned(planned: App) -> None:
    loan, call, owed = _call_and_owed(planned)
    posted = post_payment(planned, loan, 100, DAY)  # 1 yuan of what is due
    assert call not in posted.cancelled, posted.cancelled
    still = {a.action_id: a for a in plan_rows(planned, loan_id=loan)}[call]
    assert still.status == "planned"


def test_half_of_what_was_due_stops_the_days_contacts(planned: App) -> None:
    loan, call, owed = _call_and_owed(planned)
    half = (owed + 1) // 2
    assert share_paid(half, owed - half) >= 0.5
    posted = post_payment(planned, loan, half, DAY)
    assert posted.cancelled.get(call) == "suppression.paid_today", posted.cancelled
    still = {a.action_id: a for a in plan_rows(planned, loan_id=loan)}[call]
    assert (still.status, still.rule) == ("cancelled", "suppression.paid_today")


def test_just_under_half_is_not_enough(planned: App) -> None:
    loan, call, owed = _call_and_owed(planned)
    under = owed // 2 - 1  # leaves more than half of what was due
    assert share_paid(under, owed - under) < 0.5
    posted = post_payment(planned, loan, under, DAY)
    assert call not in posted.cancelled, posted.cancelled


@pytest.mark.parametrize(
    ("paid", "due", "share"),
    [
        (0, 500, 0.0),
        (100, 9_900, 0.01),
        (5_000, 5_000, 0.5),
        (1, 2, 1 / 3),
        (62_818, 62_821, 62_818 / 125_639),
        (7, 0, 1.0),
    ],
)
def test_the_share_paid(paid: int, due: int, share: float) -> None:
    assert share_paid(paid, due) == share
