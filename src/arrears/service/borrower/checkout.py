"""Payments a borrower starts in the portal: an order is created, the borrower pays at the
provider (redirect), and the provider's signed callback completes the order. A paid order
becomes a payment event (``post_payment``, source ``portal``): reminders it makes pointless
are cancelled at once, promises it keeps are kept. Completing is idempotent: a callback
repeated, or two at once, posts one payment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from arrears.bootstrap import App
from arrears.service.books.statements import statement_state
from arrears.service.cases.payments import post_payment
from arrears.service.cases.policy import load_policy
from arrears.service.cases.restructure import payoff
from arrears.service.errors import Invalid, ServiceError
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t

STATUSES = ("created", "paid", "failed")


@dataclass(frozen=True)
class Order:
    order_id: str
    loan_id: str
    amount: int
    currency: str
    provider: str
    status: str
    payment_id: str | None


@dataclass(frozen=True)
class Bounds:
    """What the portal takes for a loan today (minor units)."""

    least: int
    due: int  # what is due now (the amount offered first)
    most: int  # paying the loan off


def amount_bounds(app: App, loan_id: str) -> Bounds:
    """The least and the most the portal takes for ``loan_id`` today, and what is due."""
    with app.engine.connect() as conn:
        pf = conn.execute(select(t.loan.c.portfolio_id).where(t.loan.c.loan_id == loan_id))
        portfolio = pf.scalar()
    rules = load_policy(app.settings.collections_policy_file).for_portfolio(str(portfolio))
    today = app.today()
    st = statement_state(app, loan_id, today)
    most = payoff(st, today)
    return Bounds(min(rules.portal.min_payment, most), st.total_due or most, most)


def start_order(app: App, loan_id: str, amount: int, provider: str) -> Order:
    require_current(app)
    b = amount_bounds(app, loan_id)
    if b.most <= 0:
        raise Invalid(f"amount: nothing is owed on {loan_id}", field="amount")
    if not b.least <= amount <= b.most:
        raise Invalid(
            f"amount: between {b.least} and {b.most} minor units, got {amount}", field="amount"
        )
    order_id = f"po-{uuid.uuid4().hex[:20]}"
    with app.engine.begin() as conn:
        currency = conn.execute(select(t.loan.c.currency).where(t.loan.c.loan_id == loan_id))
        order = Order(order_id, loan_id, amount, str(currency.scalar()), provider, "created", None)
        conn.execute(
            insert(t.payment_order).values(
                order_id=order_id,
                loan_id=loan_id,
                amount=amount,
                currency=order.currency,
                provider=provider,
                status="created",
                created_at=app.clock(),
            )
        )
    return order


def _order(row: Any) -> Order:
    return Order(
        row.order_id,
        row.loan_id,
        row.amount,
        row.currency,
        row.provider,
        row.status,
        row.payment_id,
    )


def order_of(app: App, order_id: str) -> Order | None:
    po = t.payment_order
    with app.engine.connect() as conn:
        row = conn.execute(select(po).where(po.c.order_id == order_id)).first()
    return None if row is None else _order(row)


def _posted(app: App, payment_id: str) -> bool:
    p = t.payment
    with app.engine.connect() as conn:
        return (
            conn.execute(select(p.c.payment_id).where(p.c.payment_id == payment_id)).first()
            is not None
        )


def complete_order(
    app: App, order_id: str, *, status: str, amount: int, provider_ref: str
) -> Order:
    """What the provider says became of an order: ``paid`` posts the payment."""
    require_current(app)
    if status not in ("paid", "failed"):
        raise Invalid(f"status: expected paid or failed, got {status!r}", field="status")
    order = order_of(app, order_id)
    if order is None:
        raise Invalid(f"order_id: {order_id} is not an order of ours", field="order_id")
    if amount != order.amount:
        raise Invalid(
            f"amount: the order is for {order.amount}, the callback says {amount}", field="amount"
        )
    if order.status != "created":
        return order  # told before
    payment_id = None
    if status == "paid":
        payment_id = f"pay-{order_id}"
        try:
            post_payment(app, order.loan_id, amount, payment_id=payment_id, source="portal")
        except ServiceError:
            if not _posted(app, payment_id):
                raise
            # the same payment posted by a callback at the same time: once is enough
    po = t.payment_order
    now = app.clock()
    with app.engine.begin() as conn:
        done = conn.execute(
            update(po)
            .where(po.c.order_id == order_id, po.c.status == "created")
            .values(
                status=status,
                completed_at=now,
                provider_ref=provider_ref[:128],
                payment_id=payment_id,
            )
        )
        said = {
            "order_id": order_id,
            "status": status,
            "amount": amount,
            "provider": order.provider,
            "provider_ref": provider_ref[:128],
        }
        if done.rowcount == 1:  # the callback that completed it says so, once
            audit.record(conn, "payment_order", order.loan_id, now, said)
    found = order_of(app, order_id)
    assert found is not None
    return found


#: the contacts a borrower is told about (a collector's call or visit, and messages)
TOLD = ("sms", "push", "email", "letter", "robocall", "agent_call", "visit")
#: what cancels a contact because the borrower paid
PAID_RULES = ("suppression.paid_today", "dispatch.paid")


@dataclass(frozen=True)
class Follows:
    """What follows a payment, as the borrower is told: what is still due, the contacts still
    planned (channel and when), and how many the payment stopped today."""

    still_due: int
    planned: list[tuple[str, datetime]]
    stopped: int


def what_follows(app: App, loan_id: str) -> Follows:
    """After a payment on ``loan_id``: what is still due and which contacts still follow (a
    small payment leaves the day's call in place: the page must not say reminders stopped)."""
    from arrears.service.books.statements import statement_for_loan
    from arrears.store.db import as_utc

    today = app.today()
    due = int(statement_for_loan(app, loan_id, today)["total_due"])
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(pa_.c.channel, pa_.c.window_start, pa_.c.status, pa_.c.rule)
            .where(
                pa_.c.loan_id == loan_id,
                pa_.c.business_date >= today,
                pa_.c.channel.in_(TOLD),
                pa_.c.status.in_(("planned", "cancelled")),
            )
            .order_by(pa_.c.window_start)
        ).all()
    planned = [(r.channel, as_utc(r.window_start)) for r in rows if r.status == "planned"]
    stopped = sum(1 for r in rows if r.status == "cancelled" and r.rule in PAID_RULES)
    return Follows(due, planned, stopped)
