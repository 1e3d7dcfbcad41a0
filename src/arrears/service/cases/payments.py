"""A payment posted as an event: written, then the loan's pending actions judged again at once,
so reminders the payment makes pointless are cancelled before any dispatcher takes them.

What "pointless" means is the strategy's and the rulebook's, not this module's: the second
look (:func:`arrears.service.outreach.pending.recheck`) judges each pending action as the
cycle would now (a loan paid up leaves its stage; the default strategy suppresses contacts on
a day the borrower paid). Issue 6 adds allocation details, promises kept and reversals on top
of this.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from arrears.bootstrap import App
from arrears.service.cases import promises
from arrears.service.errors import Conflict, Invalid, NotFound, ServiceError
from arrears.service.outreach.pending import PaymentPosted, after_commit, apply_verdicts, recheck
from arrears.service.outreach.state import Report
from arrears.service.store import require_current
from arrears.store import audit
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
    promises_kept: int = 0  # promise parts this payment paid up


def _within_payoff(app: App, loan_id: str, amount: int, paid_on: date) -> None:
    from arrears.service.books.statements import statement_state
    from arrears.service.cases.restructure import payoff

    try:
        st = statement_state(app, loan_id, paid_on)
    except ServiceError as exc:
        raise NotFound(f"payment loan_id: {loan_id} is not in the store", field="loan_id") from exc
    most = payoff(st, paid_on)
    if amount > most:
        raise Invalid(
            f"payment amount: {amount} is more than the payoff of {loan_id} on {paid_on} "
            f"({most}); say it is an overpayment to post it as a credit",
            field="amount",
        )


def post_payment(
    app: App,
    loan_id: str,
    amount: int,
    paid_on: date | None = None,
    *,
    payment_id: str | None = None,
    source: str = "manual",
    overpayment: bool = False,
) -> Posted:
    """Post ``amount`` (minor units) to ``loan_id`` and cancel what it makes pointless. An
    amount above the payoff on ``paid_on`` (everything due plus the principal not yet due) is
    refused unless the caller says it is an ``overpayment`` (kept as a credit)."""
    require_current(app)
    if amount <= 0:
        raise Invalid(
            f"payment amount: must be a positive number of minor units, got {amount}",
            field="amount",
        )
    today = app.today()
    paid_on = paid_on or today
    if paid_on > today:
        raise Invalid(
            f"payment paid_on: {paid_on} is in the future (today is {today})", field="paid_on"
        )
    if not overpayment:
        _within_payoff(app, loan_id, amount, paid_on)
    payment_id = payment_id or f"pay-{uuid.uuid4().hex[:16]}"
    started = time.perf_counter()
    with app.engine.begin() as conn:
        if (
            conn.execute(select(t.loan.c.loan_id).where(t.loan.c.loan_id == loan_id)).first()
            is None
        ):
            raise NotFound(f"payment loan_id: {loan_id} is not in the store", field="loan_id")
        if conn.execute(
            select(t.payment.c.payment_id).where(t.payment.c.payment_id == payment_id)
        ).first():
            raise Conflict(
                f"payment payment_id: {payment_id} was posted already", field="payment_id"
            )
        try:
            conn.execute(
                insert(t.payment).values(
                    payment_id=payment_id,
                    loan_id=loan_id,
                    paid_on=paid_on,
                    amount=amount,
                    status="posted",
                    source=source,
                    posted_at=app.clock(),
                )
            )
        except IntegrityError as exc:  # the same id posted at the same moment by another caller
            raise Conflict(
                f"payment payment_id: {payment_id} was posted already", field="payment_id"
            ) from exc
        kept = promises.on_payment(app, conn, loan_id, today)
    from arrears.service.cases.arrangements import review

    review(app, today, loan_id)
    report = after_commit(app, PaymentPosted(payment_id, loan_id, paid_on))
    cancelled = report.cancelled_ids
    return Posted(
        payment_id,
        loan_id,
        amount,
        paid_on,
        report.claimed,
        cancelled,
        report.moved,
        time.perf_counter() - started,
        kept,
    )


@dataclass(frozen=True)
class Reversed:
    payment_id: str
    loan_id: str
    restored: list[str]  # actions the payment had cancelled, planned again
    promises_reopened: bool


def reverse_payment(app: App, payment_id: str, reason: str, on: date | None = None) -> Reversed:
    """A payment bounced: the ledger replays as if it never came, the promise parts it had kept
    are decided again, and the actions it cancelled today are planned again (then judged again:
    another reason may still stop them)."""
    require_current(app)
    if not reason.strip():
        raise Invalid(
            "reason: say why the payment is reversed (bounced, chargeback ...)", field="reason"
        )
    day = on or app.today()
    pay, pa_ = t.payment, t.plan_action
    now = app.clock()
    with app.engine.begin() as conn:
        row = conn.execute(select(pay).where(pay.c.payment_id == payment_id)).first()
        if row is None:
            raise NotFound(f"payment_id: {payment_id} is not in the store", field="payment_id")
        if row.status == "reversed":
            raise Conflict(
                f"payment_id: {payment_id} was reversed on {row.reversed_on}", field="payment_id"
            )
        if day < row.paid_on:
            raise Invalid(
                f"reversed_on: {day} is before the payment ({row.paid_on})", field="reversed_on"
            )
        conn.execute(
            update(pay)
            .where(pay.c.payment_id == payment_id)
            .values(status="reversed", reversed_on=day, reversal_reason=reason)
        )
        promises.reopen(app, conn, row.loan_id, row.paid_on, day)
        restored = list(
            conn.execute(
                update(pa_)
                .where(
                    pa_.c.last_error == f"after payment {payment_id}",
                    pa_.c.status == "cancelled",
                    pa_.c.window_end > now,
                )
                .values(status="planned", rule=None, last_error=None)
                .returning(pa_.c.action_id)
            ).scalars()
        )
        audit.record(
            conn,
            "payment_reversal",
            row.loan_id,
            now,
            {
                "payment_id": payment_id,
                "reason": reason,
                "restored": sorted(restored),
            },
        )
    from arrears.service.cases.arrangements import review

    review(app, day, row.loan_id)
    if restored:
        with app.engine.connect() as conn:
            again = conn.execute(select(pa_).where(pa_.c.action_id.in_(restored))).all()
        report = Report()
        with app.engine.begin() as conn:
            apply_verdicts(app, conn, recheck(app, again, app.clock()), None, report)
    return Reversed(payment_id, row.loan_id, sorted(restored), True)


@dataclass(frozen=True)
class Row:
    payment_id: str
    loan_id: str
    paid_on: date
    amount: int


def _check_row(
    file: Path, n: int, raw: dict[str, str], seen: set[str], today: date
) -> tuple[Row | None, list[str]]:
    r = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
    at = f"{file}: row {n}"
    problems = []
    pid, loan = r.get("payment_id", ""), r.get("loan_id", "")
    if not pid:
        problems.append(f"{at}, payment_id: missing")
    elif pid in seen:
        problems.append(f"{at}, payment_id: {pid} appears twice in the file")
    seen.add(pid)
    if not loan:
        problems.append(f"{at}, loan_id: missing")
    paid_on, amount = today, 0
    try:
        paid_on = date.fromisoformat(r.get("paid_on", ""))
    except ValueError:
        problems.append(f"{at}, paid_on: expected YYYY-MM-DD, got {r.get('paid_on', '')!r}")
    if paid_on > today:
        problems.append(f"{at}, paid_on: {paid_on} is in the future")
    try:
        amount = int(r.get("amount", ""))
    except ValueError:
        problems.append(f"{at}, amount: expected whole fen, got {r.get('amount', '')!r}")
    else:
        if amount <= 0:
            problems.append(f"{at}, amount: must be positive, got {amount}")
    return (None if problems else Row(pid, loan, paid_on, amount)), problems


def _over_payoff(app: App, file: Path, rows: list[tuple[int, Row]]) -> list[str]:
    """Rows whose loan's payments in the file come to more than its payoff (a file has no
    overpayments: post those one by one, saying so)."""
    from arrears.service.books.statements import statement_state
    from arrears.service.cases.restructure import payoff

    total: dict[str, int] = {}
    last: dict[str, tuple[int, date]] = {}
    for n, x in rows:
        total[x.loan_id] = total.get(x.loan_id, 0) + x.amount
        last[x.loan_id] = (n, max(x.paid_on or app.today(), last.get(x.loan_id, (0, date.min))[1]))
    out = []
    for loan, amount in sorted(total.items()):
        n, day = last[loan]
        most = payoff(statement_state(app, loan, day), day)
        if amount > most:
            out.append(
                f"{file}: row {n}, amount: the file pays {loan} {amount}, more than its "
                f"payoff {most}"
            )
    return out


def check_rows(app: App, file: Path, rows: list[dict[str, str]]) -> list[Row]:
    """The rows of a payments file, each checked; every problem is reported (file, row, field)
    and none is posted when there is one. Row 2 is the first after the header."""
    require_current(app)
    today = app.today()
    problems: list[str] = []
    good: list[tuple[int, Row]] = []
    seen: set[str] = set()
    for n, raw in enumerate(rows, start=2):
        row, found = _check_row(file, n, raw, seen, today)
        problems += found
        if row is not None:
            good.append((n, row))
    with app.engine.connect() as conn:
        loans = sorted({x.loan_id for _, x in good})
        known = set(
            conn.execute(select(t.loan.c.loan_id).where(t.loan.c.loan_id.in_(loans))).scalars()
        )
        ids = sorted(x.payment_id for _, x in good)
        taken = set(
            conn.execute(
                select(t.payment.c.payment_id).where(t.payment.c.payment_id.in_(ids))
            ).scalars()
        )
    for n, x in good:
        if x.loan_id not in known:
            problems.append(f"{file}: row {n}, loan_id: {x.loan_id} is not in the store")
        if x.payment_id in taken:
            problems.append(f"{file}: row {n}, payment_id: {x.payment_id} was posted already")
    problems += _over_payoff(app, file, [(n, x) for n, x in good if x.loan_id in known])
    if problems:
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise Invalid("; ".join(problems[:20]) + more + "; nothing was posted")
    return [x for _, x in good]
