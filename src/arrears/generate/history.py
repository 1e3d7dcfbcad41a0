"""A loan's collection history so far, as a lender would bring it along: 90 days of contact
attempts (more and more pressing the later the loan), promises to pay (a settled one kept,
partly kept or broken by the loan's own payments, never assumed broken) or pending,
and the odd hold (a complaint, a dispute, hardship). Drawn from its own random stream, so the
loans and payments of a seed do not change."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from arrears.domain.ledger import Loan

Rows = dict[str, list[dict[str, Any]]]
CALL_RESULTS = ("connected", "conversation", "no_answer", "no_answer", "busy", "voicemail")


def oldest_unpaid(loan: Loan, as_of: date) -> date | None:
    """The due date of the oldest instalment the payments have not covered (a quick estimate:
    payments against instalment totals, oldest first)."""
    paid = sum(p.amount for p in loan.payments if not p.reversed and p.date <= as_of)
    owed = 0
    for inst in sorted(loan.instalments, key=lambda i: i.due_date):
        owed += inst.principal + inst.interest + inst.fee
        if owed > paid:
            return inst.due_date
    return None


def _outcome(loan: Loan, made: date, settled: date | None, amount: int) -> str:
    """A settled promise judged by the loan's own payments between its making and its
    settling, as arrears judges one: kept in full, partly kept, or broken."""
    assert settled is not None
    paid = sum(p.amount for p in loan.payments if not p.reversed and made <= p.date < settled)
    return "kept" if paid >= amount else "partly_kept" if paid > 0 else "broken"


def _at(rng: random.Random, day: date) -> datetime:
    """An instant between 09:00 and 20:00 China time on ``day``."""
    local = datetime.combine(day, datetime.min.time()) + timedelta(
        hours=rng.randint(9, 19), minutes=rng.randrange(60), seconds=rng.randrange(60)
    )
    return (local - timedelta(hours=8)).replace(tzinfo=UTC)


def collection(rng: random.Random, loan: Loan, borrower_id: str, as_of: date, rows: Rows) -> None:
    due = oldest_unpaid(loan, as_of)
    if due is None:
        return
    dpd = (as_of - due).days
    if dpd < -3:
        return
    lid = loan.loan_id
    contacts = rows["contacts"]
    for back in range(min(max(dpd, 0), 90), 0, -1):
        day = as_of - timedelta(days=back)
        late = dpd - back  # the loan's DPD on that day
        if late < 1 or rng.random() > (0.25 if late <= 17 else 0.45):
            continue
        channel = rng.choice(("sms", "robocall") if late <= 17 else ("call", "call", "sms"))
        calls = channel in ("call", "robocall")
        contacts.append(
            {
                "attempt_id": f"{lid}-C{back:02d}",
                "borrower_id": borrower_id,
                "loan_id": lid,
                "channel": channel,
                "at": _at(rng, day),
                "direction": "outbound",
                "role": "debtor",
                "result": rng.choice(CALL_RESULTS) if calls else "delivered",
            }
        )
    if dpd >= 5 and rng.random() < 0.25:
        pending = rng.random() < 0.5
        if pending:  # made in the last days, due within the week
            made = _at(rng, as_of - timedelta(days=rng.randint(1, 4)))
            due_on, settled = as_of + timedelta(days=rng.randint(1, 7)), None
        else:  # made weeks ago, due three days later, settled the day after
            made = _at(rng, as_of - timedelta(days=rng.randint(5, max(5, min(dpd, 30)))))
            due_on = made.date() + timedelta(days=3)
            settled = due_on + timedelta(days=1)
        amount = max(loan.instalments[0].principal // 2, 1)
        rows["promises"].append(
            {
                "promise_id": f"{lid}-P1",
                "loan_id": lid,
                "amount": amount,
                "due_on": due_on,
                "made_at": made,
                "status": "pending" if pending else _outcome(loan, made.date(), settled, amount),
                "settled_on": settled,
            }
        )
    if dpd >= 10 and rng.random() < 0.04:
        rows["holds"].append(
            {
                "hold_id": f"{lid}-H1",
                "borrower_id": borrower_id,
                "loan_id": rng.choice((lid, None)),
                "kind": rng.choice(("complaint", "dispute", "hardship")),
                "starts_at": _at(rng, as_of - timedelta(days=rng.randint(1, 10))),
                "ends_at": None,
            }
        )
