"""A payment posted as an event: written, then the loan's pending actions judged again at once,
so reminders the payment makes pointless are cancelled before any dispatcher takes them.

What "pointless" means is the strategy's and the rulebook's, not this module's: the second look
(:func:`arrears.service.dispatch.recheck`) judges each pending action as the cycle would now
(a loan paid up leaves its stage; the default strategy suppresses contacts on a day the
borrower paid). Issue 6 adds allocation details, promises kept and reversals on top of this.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, insert, select

from arrears.bootstrap import App
from arrears.service.dispatch import Report, apply_verdicts, recheck
from arrears.service.errors import ServiceError
from arrears.service.store import require_current
from arrears.store import tables as t


@dataclass(frozen=True)
class Posted:
    payment_id: str
    loan_id: str
    amount: int
    paid_on: date
    pending: int  # actions of the loan still planned when it was posted
    cancelled: dict[str, str]  # action id -> the rule that cancelled it
    moved: int
    seconds: float  # from the payment's write to the last cancellation committed


def post_payment(
    app: App,
    loan_id: str,
    amount: int,
    paid_on: date | None = None,
    *,
    payment_id: str | None = None,
    source: str = "manual",
) -> Posted:
    """Post ``amount`` (minor units) to ``loan_id`` and cancel what it makes pointless."""
    require_current(app)
    if amount <= 0:
        raise ServiceError(
            f"payment amount: must be a positive number of minor units, got {amount}"
        )
    today = app.today()
    paid_on = paid_on or today
    if paid_on > today:
        raise ServiceError(f"payment paid_on: {paid_on} is in the future (today is {today})")
    payment_id = payment_id or f"pay-{uuid.uuid4().hex[:16]}"
    started = time.perf_counter()
    with app.engine.begin() as conn:
        if (
            conn.execute(select(t.loan.c.loan_id).where(t.loan.c.loan_id == loan_id)).first()
            is None
        ):
            raise ServiceError(f"payment loan_id: {loan_id} is not in the store")
        if conn.execute(
            select(t.payment.c.payment_id).where(t.payment.c.payment_id == payment_id)
        ).first():
            raise ServiceError(f"payment payment_id: {payment_id} was posted already")
        conn.execute(
            insert(t.payment).values(
                payment_id=payment_id,
                loan_id=loan_id,
                paid_on=paid_on,
                amount=amount,
                status="posted",
                source=source,
            )  # fmt: skip
        )
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        pending = conn.execute(
            select(pa_).where(
                and_(
                    pa_.c.loan_id == loan_id,
                    pa_.c.status == "planned",
                    pa_.c.business_date >= paid_on,
                )
            )  # fmt: skip
        ).all()
    verdicts = recheck(app, pending, app.clock())
    report = Report()
    with app.engine.begin() as conn:
        apply_verdicts(app, conn, verdicts, None, report)
    cancelled = {v.action_id: v.rule or "" for v in verdicts if v.outcome == "cancel"}
    return Posted(payment_id, loan_id, amount, paid_on, len(pending), cancelled, report.moved,
                  time.perf_counter() - started)  # fmt: skip
