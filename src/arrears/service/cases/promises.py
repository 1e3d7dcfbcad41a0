"""Promises to pay (承诺还款): made in one or several parts (an amount by a date each), from an
agent call, a robocall keypress, the portal or the API, within the portfolio's limits
(:mod:`arrears.service.cases.policy`).

A part is **kept** as soon as the payments made since the promise cover everything promised up
to and including it (so a payment marks it at once); otherwise it is decided the day after its
date plus the grace days: **partly kept** when something was paid toward it, **broken** when
nothing was. A pending promise suppresses what the strategy says it suppresses (its pending
actions are judged again when it is made); broken promises count in the strategy's
``broken_promises`` attribute, which the next cycle reads.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from arrears.bootstrap import App
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.policy import load_policy
from arrears.service.errors import Conflict, Invalid, LimitExceeded, NotFound
from arrears.service.outreach.pending import PromiseMade, after_commit
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc

SOURCES = ("agent_call", "robocall", "portal", "api")
PENDING, KEPT, PARTLY, BROKEN = "pending", "kept", "partly_kept", "broken"
#: replaced by an extension or plan that cleared the arrears: neither kept nor broken (the
#: borrower's word is now the arrangement's schedule), so no measure counts it either way
SUPERSEDED = "superseded"
#: the arrangements that take a pending promise's place when they clear the arrears
SUPERSEDING = ("extension", "plan")


@dataclass(frozen=True)
class Part:
    due_on: date
    amount: int


def _loan(conn: Connection, loan_id: str) -> Any:
    row = conn.execute(
        select(t.loan.c.portfolio_id, t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)
    ).first()
    if row is None:
        raise NotFound(f"loan_id: {loan_id} is not in the store", field="loan_id")
    return row


def check_parts(parts: list[Part], today: date, total_due: int, rules: Any) -> None:
    """The portfolio's limits on a promise; the first breach raises, naming the part."""
    if not parts or len(parts) > rules.max_parts:
        raise LimitExceeded(
            f"parts: a promise has 1 to {rules.max_parts} parts, got {len(parts)}", field="parts"
        )
    last = today + timedelta(days=rules.max_days_out)
    seen: set[date] = set()
    for k, p in enumerate(parts):
        if p.amount <= 0:
            raise Invalid(
                f"parts[{k}].amount: must be positive, got {p.amount}", field=f"parts[{k}].amount"
            )
        if p.due_on < today:
            raise Invalid(
                f"parts[{k}].due_on: {p.due_on} is in the past", field=f"parts[{k}].due_on"
            )
        if p.due_on > last:
            raise LimitExceeded(
                f"parts[{k}].due_on: {p.due_on} is more than {rules.max_days_out} days out "
                f"(the last allowed date is {last})",
                field=f"parts[{k}].due_on",
            )
        if p.due_on in seen:
            raise Invalid(
                f"parts[{k}].due_on: {p.due_on} is named twice", field=f"parts[{k}].due_on"
            )
        seen.add(p.due_on)
    total = sum(p.amount for p in parts)
    if total > total_due:
        raise Invalid(f"parts: {total} promised is more than the {total_due} due", field="parts")
    if total_due <= rules.min_amount:
        least = total_due
    else:
        least = max(rules.min_amount, math.ceil(total_due * rules.min_share))
    if total < least:
        raise Invalid(
            f"parts: {total} promised; this portfolio asks for at least {least} of the "
            f"{total_due} due",
            field="parts",
        )


def check_promise(app: App, loan_id: str, parts: list[Part]) -> list[Part]:
    """Would :func:`make_promise` take this promise now? Raises what it would refuse with;
    writes nothing (a wrap-up checks the promise before it records the call). The parts in
    date order."""
    today = app.today()
    with app.engine.connect() as conn:
        loan = _loan(conn, loan_id)
        pending = conn.execute(
            select(t.promise.c.group_id).where(
                t.promise.c.loan_id == loan_id, t.promise.c.status == PENDING
            )
        ).first()
    total_due = int(statement_for_loan(app, loan_id, today)["total_due"])
    if total_due <= 0:
        raise Invalid(f"loan_id: nothing is due on {loan_id} today", field="loan_id")
    rules = load_policy(app.settings.collections_policy_file).for_portfolio(loan.portfolio_id)
    parts = sorted(parts, key=lambda p: p.due_on)
    check_parts(parts, today, total_due, rules.promise)
    if pending is not None:
        raise _pending(loan_id, pending[0])
    return parts


def _pending(loan_id: str, group: str) -> Conflict:
    return Conflict(
        f"loan_id: {loan_id} has a pending promise ({group}); it must be kept or broken first",
        field="loan_id",
    )


def make_promise(
    app: App,
    loan_id: str,
    parts: list[Part],
    *,
    source: str,
    made_by: str | None = None,
) -> list[str]:
    """Record a promise; returns its parts' ids. Pending actions it suppresses are cancelled."""
    require_current(app)
    if source not in SOURCES:
        raise Invalid(
            f"source: expected one of {', '.join(SOURCES)}, got {source!r}", field="source"
        )
    now = app.clock()
    parts = check_promise(app, loan_id, parts)
    group = f"pg-{uuid.uuid4().hex[:16]}"
    ids = [f"{group}-{k + 1}" for k in range(len(parts))]
    pr = t.promise
    with app.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one promise at a time per loan
            conn.execute(
                select(t.loan.c.loan_id).where(t.loan.c.loan_id == loan_id).with_for_update()
            )
        pending = conn.execute(
            select(pr.c.group_id).where(pr.c.loan_id == loan_id, pr.c.status == PENDING)
        ).first()
        if pending is not None:
            raise _pending(loan_id, pending[0])
        conn.execute(
            insert(pr),
            [
                {
                    "promise_id": pid,
                    "loan_id": loan_id,
                    "amount": p.amount,
                    "due_on": p.due_on,
                    "made_at": now,
                    "status": PENDING,
                    "group_id": group,
                    "seq": k + 1,
                    "source": source,
                    "made_by": made_by,
                }
                for k, (pid, p) in enumerate(zip(ids, parts, strict=True))
            ],
        )
        audit.record(
            conn,
            "promise",
            loan_id,
            now,
            {
                "group_id": group,
                "source": source,
                "made_by": made_by,
                "parts": [[p.due_on.isoformat(), p.amount] for p in parts],
            },
        )
    after_commit(app, PromiseMade(group, loan_id))
    return ids


def _paid_by(payments: list[tuple[date, int]], start: date, end: date) -> int:
    return sum(a for d, a in payments if start <= d <= end)


def _payments(conn: Connection, loan_ids: set[str]) -> dict[str, list[tuple[date, int]]]:
    out: dict[str, list[tuple[date, int]]] = defaultdict(list)
    if not loan_ids:
        return out
    rows = conn.execute(
        select(t.payment.c.loan_id, t.payment.c.paid_on, t.payment.c.amount).where(
            t.payment.c.loan_id.in_(sorted(loan_ids)), t.payment.c.status == "posted"
        )
    ).all()
    for r in rows:
        out[r.loan_id].append((r.paid_on, int(r.amount)))
    return out


def _decide(
    conn: Connection, app: App, day: date, where: Any, *, final: bool, replaced: bool = False
) -> dict[str, int]:
    """Decide the pending parts of the groups ``where`` selects, as of ``day``: kept when paid
    up (always); partly kept or broken when ``final`` and past their date plus grace; with
    ``replaced``, every part not kept is superseded (with what was paid toward it)."""
    pr = t.promise
    found = conn.execute(select(pr.c.group_id, pr.c.promise_id).where(where)).all()
    counts = {KEPT: 0, PARTLY: 0, BROKEN: 0}
    if not found:
        return counts
    # a promise loaded with the history has no group: it is a promise of one part
    groups = sorted({g for g, _ in found if g is not None})
    singles = sorted({p for g, p in found if g is None})
    rows = conn.execute(
        select(pr).where(pr.c.group_id.in_(groups) | pr.c.promise_id.in_(singles))
    ).all()
    by_group: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_group[r.group_id or r.promise_id].append(r)
    pays = _payments(conn, {r.loan_id for r in rows})
    policy = load_policy(app.settings.collections_policy_file)
    portfolios = dict(
        conn.execute(
            select(t.loan.c.loan_id, t.loan.c.portfolio_id).where(
                t.loan.c.loan_id.in_(sorted({r.loan_id for r in rows}))
            )
        ).all()
    )
    for parts in by_group.values():
        parts.sort(key=lambda r: r.seq or 0)
        loan_id = parts[0].loan_id
        grace = policy.for_portfolio(portfolios[loan_id]).promise.grace_days
        made = as_utc(parts[0].made_at).date()
        before = 0  # promised in the earlier parts
        for r in parts:
            promised = before + int(r.amount)
            if r.status == PENDING:
                end = min(day, r.due_on + timedelta(days=grace))
                paid = _paid_by(pays[loan_id], made, end)
                toward = max(0, min(int(r.amount), paid - before))
                status = None
                if paid >= promised:
                    status = KEPT
                elif replaced:
                    status = SUPERSEDED
                elif final and day > r.due_on + timedelta(days=grace):
                    status = PARTLY if toward > 0 else BROKEN
                if status is not None:
                    conn.execute(
                        update(pr)
                        .where(pr.c.promise_id == r.promise_id)
                        .values(status=status, settled_on=day, paid=toward)
                    )
                    counts[status] = counts.get(status, 0) + 1
            before = promised
    return counts


def on_payment(app: App, conn: Connection, loan_id: str, day: date) -> int:
    """Mark the parts a payment has just paid up as kept; returns how many."""
    pr = t.promise
    where = and_(pr.c.loan_id == loan_id, pr.c.status == PENDING)
    return _decide(conn, app, day, where, final=False)[KEPT]


def supersede(
    app: App, conn: Connection, loan_id: str, day: date, kind: str, effect: dict[str, Any]
) -> list[str]:
    """An extension or plan now in force that clears the arrears (no day overdue after it)
    judges the loan's pending promises: those already paid up are kept, the rest superseded;
    returns the superseded ones. Anything else leaves them to run."""
    if kind not in SUPERSEDING or int(effect.get("dpd_after") or 0) > 0:
        return []
    pr = t.promise
    pending = and_(pr.c.loan_id == loan_id, pr.c.status == PENDING)
    ids = sorted(conn.execute(select(pr.c.promise_id).where(pending)).scalars())
    _decide(conn, app, day, pending, final=False, replaced=True)
    return sorted(
        conn.execute(
            select(pr.c.promise_id).where(pr.c.promise_id.in_(ids), pr.c.status == SUPERSEDED)
        ).scalars()
    )


def settle(app: App, day: date, loan_id: str | None = None) -> dict[str, int]:
    """Decide every pending part (of ``loan_id``, or every loan's) whose date plus grace has
    passed by ``day`` (the cycle does this first each day); returns the counts by outcome."""
    require_current(app)
    pr = t.promise
    due = and_(pr.c.status == PENDING, pr.c.due_on < day)
    if loan_id is not None:
        due = and_(due, pr.c.loan_id == loan_id)
    with app.engine.begin() as conn:
        return _decide(conn, app, day, due, final=True)


def reopen(app: App, conn: Connection, loan_id: str, since: date, day: date) -> None:
    """A payment from ``since`` was reversed: the parts decided since then are decided again."""
    pr = t.promise
    conn.execute(
        update(pr)
        .where(
            pr.c.loan_id == loan_id,
            pr.c.status.in_((KEPT, PARTLY, BROKEN)),
            pr.c.settled_on >= since,
            pr.c.group_id.is_not(None),
        )
        .values(status=PENDING, settled_on=None, paid=None)
    )
    _decide(conn, app, day, and_(pr.c.loan_id == loan_id, pr.c.status == PENDING), final=True)
