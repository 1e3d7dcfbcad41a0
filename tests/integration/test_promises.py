"""Promises to pay and payments as events, end to end through the ledger: a promise's limits,
parts kept the moment a payment covers them, a broken promise changing the next cycle's plan,
a bounced payment undoing what it changed, and a breached instalment plan bringing the old
delinquency (and its treatments) back."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.payments import post_payment, reverse_payment
from arrears.service.cases.promises import Part, make_promise
from arrears.service.daily.cycle import run_cycle
from arrears.service.errors import ServiceError
from arrears.service.queries.casework import arrangement_listing, promises_of
from arrears.store import tables as t
from arrears.strategy.model import load
from tests.conftest import FIXED_NOW, PlanBook
from tests.support.clock import Clock, plan_rows

DAY = date(2026, 11, 23)


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(1500, 17, DAY, clock=Clock())


def _parts(app: App, loan_id: str) -> list[Any]:
    return [SimpleNamespace(**r) for r in promises_of(app, loan_id)]


def test_a_promise_must_fit_the_portfolio_limits(planned: App) -> None:
    loan = plan_rows(planned, status="planned", stage="early", channel="sms")[0].loan_id
    due = statement_for_loan(planned, loan, DAY)["total_due"]
    with pytest.raises(ServiceError, match=r"parts\[0\]\.due_on: 2026-12-08 is more than 14"):
        make_promise(planned, loan, [Part(DAY + timedelta(days=15), due)], source="agent_call")
    with pytest.raises(ServiceError, match=r"parts\[0\]\.due_on: 2026-11-22 is in the past"):
        make_promise(planned, loan, [Part(DAY - timedelta(days=1), due)], source="agent_call")
    with pytest.raises(ServiceError, match="parts: a promise has 1 to 3 parts"):
        make_promise(
            planned, loan, [Part(DAY + timedelta(days=k), 1) for k in range(4)], source="portal"
        )
    with pytest.raises(ServiceError, match="more than the"):
        make_promise(planned, loan, [Part(DAY + timedelta(days=2), due + 1)], source="api")
    if due > 10_000:
        with pytest.raises(ServiceError, match="asks for at least"):
            make_promise(planned, loan, [Part(DAY + timedelta(days=2), 1)], source="api")
    with pytest.raises(ServiceError, match="source: expected one of"):
        make_promise(planned, loan, [Part(DAY + timedelta(days=2), due)], source="letter")
    assert _parts(planned, loan) == []  # nothing was written by any refusal


def test_parts_are_kept_as_payments_cover_them(planned: App) -> None:
    sms = plan_rows(planned, status="planned", stage="early", channel="sms")[0]
    loan = sms.loan_id
    due = int(statement_for_loan(planned, loan, DAY)["total_due"])
    first = due // 2
    ids = make_promise(
        planned,
        loan,
        [Part(DAY + timedelta(days=2), first), Part(DAY + timedelta(days=5), due - first)],
        source="agent_call",
        made_by="C0007",
    )
    assert len(ids) == 2
    # a pending promise suppresses what the strategy says it suppresses, at once
    now = {a.action_id: a for a in plan_rows(planned, loan_id=loan)}[sms.action_id]
    assert (now.status, now.rule) == ("cancelled", "suppression.promise_active")
    with pytest.raises(ServiceError, match="has a pending promise"):
        make_promise(planned, loan, [Part(DAY + timedelta(days=3), due)], source="portal")
    clock: Clock = planned.clock  # type: ignore[assignment]
    clock.at = FIXED_NOW + timedelta(days=1)
    post_payment(planned, loan, first - 1, DAY + timedelta(days=1))  # one fen short
    assert [p.status for p in _parts(planned, loan)] == ["pending", "pending"]
    posted = post_payment(planned, loan, 1, DAY + timedelta(days=1))
    assert posted.promises_kept == 1
    parts = _parts(planned, loan)
    assert [(p.status, p.paid) for p in parts] == [("kept", first), ("pending", None)]
    clock.at = FIXED_NOW + timedelta(days=4)
    post_payment(planned, loan, due - first, DAY + timedelta(days=4))
    assert [(p.status, p.paid) for p in _parts(planned, loan)] == [
        ("kept", first),
        ("kept", due - first),
    ]


def test_a_broken_promise_changes_the_next_plan(planned: App) -> None:
    # an account the strategy treats as "forgot to pay" (no broken promise), one day late
    first = next(
        a
        for a in plan_rows(planned, stage="early", segment="forgetful")
        if statement_for_loan(planned, a.loan_id, DAY)["dpd"] == 1
    )
    loan = first.loan_id
    due = int(statement_for_loan(planned, loan, DAY)["total_due"])
    make_promise(planned, loan, [Part(DAY + timedelta(days=1), due)], source="robocall")
    run_cycle(planned, DAY + timedelta(days=3), strategy=load("default"))  # catches up 2 days
    (part,) = _parts(planned, loan)
    assert (part.status, part.settled_on, part.paid) == ("broken", DAY + timedelta(days=3), 0)
    # on day 4 of lateness a "forgetful" account gets nothing, a "standard" one a robocall
    later = plan_rows(planned, loan_id=loan, business_date=DAY + timedelta(days=3))
    assert [(a.segment, a.channel) for a in later] == [("standard", "robocall")]


def test_a_bounced_payment_restores_what_it_changed(planned: App) -> None:
    sms = plan_rows(planned, status="planned", stage="early", channel="sms")[1]
    loan = sms.loan_id
    before = statement_for_loan(planned, loan, DAY)
    posted = post_payment(planned, loan, int(before["total_due"]), DAY, payment_id="PAY-1")
    assert sms.action_id in posted.cancelled
    assert statement_for_loan(planned, loan, DAY)["total_due"] == 0
    back = reverse_payment(planned, "PAY-1", "bounced")
    assert back.restored == sorted(posted.cancelled) and sms.action_id in back.restored
    now = {a.action_id: a for a in plan_rows(planned, loan_id=loan)}[sms.action_id]
    assert (now.status, now.rule) == ("planned", None)
    after = statement_for_loan(planned, loan, DAY)
    assert after["total_due"] == before["total_due"] and after["dpd"] == before["dpd"]
    with pytest.raises(ServiceError, match="was reversed on"):
        reverse_payment(planned, "PAY-1", "bounced")
    with pytest.raises(ServiceError, match="payment_id: NOPE is not in the store"):
        reverse_payment(planned, "NOPE", "bounced")


def test_a_breached_plan_changes_the_next_plan(planned: App) -> None:
    from arrears.service.cases.arrangements import propose

    first = next(
        a
        for a in plan_rows(planned, stage="early")
        if 3 <= statement_for_loan(planned, a.loan_id, DAY)["dpd"] <= 10
    )
    loan = first.loan_id
    dpd = statement_for_loan(planned, loan, DAY)["dpd"]
    p = propose(
        planned, loan, "plan", {"parts": 3}, by="C0007", role="collector", reason="lost job"
    )
    assert p.status == "active" and p.effect["dpd_after"] == -7  # first part in 7 days
    # the account is out of collection: the plan in force, nothing pending for it
    assert all(
        a.status == "cancelled" for a in plan_rows(planned, loan_id=loan) if a.status != "sent"
    )
    clock: Clock = planned.clock  # type: ignore[assignment]
    clock.at = FIXED_NOW + timedelta(days=1)
    run_cycle(planned, DAY + timedelta(days=1), strategy=load("default"))
    assert plan_rows(planned, loan_id=loan, business_date=DAY + timedelta(days=1)) == []
    # nothing paid: part 1 (DAY+7) is missed after 3 days of grace, part 2 (12-30) on 01-02
    # (DAY+40); the second miss breaches the plan and the old delinquency is back. Late
    # accounts get an agent call every other day (odd DPD): a day when this one is due one
    n = 41 if (dpd + 41) % 2 else 42
    later = DAY + timedelta(days=n)
    clock.at = FIXED_NOW + timedelta(days=n)
    run_cycle(planned, later, strategy=load("default"), catch_up=False)
    (status,) = [
        a["status"]
        for a in arrangement_listing(planned, loan, limit=50, offset=0).rows
        if a["arrangement_id"] == p.arrangement_id
    ]
    with planned.engine.connect() as conn:
        stage = conn.execute(
            select(t.account_stage.c.stage).where(t.account_stage.c.loan_id == loan)
        ).scalar()
        entry = conn.execute(
            select(t.audit_log.c.kind).where(
                t.audit_log.c.kind == "arrangement_breached", t.audit_log.c.subject == loan
            )
        ).scalar()
    assert status == "breached" and entry == "arrangement_breached"
    st = statement_for_loan(planned, loan, later)
    assert st["dpd"] == dpd + n and stage == "late"
    assert st["arrangements"][0]["status"] == "breached"
    acts = plan_rows(planned, loan_id=loan, business_date=later)
    assert ("late", "agent_call") in {(a.stage, a.channel) for a in acts}
