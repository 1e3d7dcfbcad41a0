"""Holds: what stops collection, and for how long.

A hold has a kind (:data:`KINDS`), a start, an end or an expiry (``ends_at`` set when it starts)
or none (until someone ends it), and a scope: one debt (``loan_id``) or the borrower (every
debt). A cease request, an attorney, a bankruptcy and a death always cover the person. The
rulebook says what each kind stops (``holds`` in cn.yaml and us_regf.yaml: which contacts,
which purposes are still allowed); the cycle and the dispatcher read the holds as they are in
the store, and starting one judges the borrower's pending actions again at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from arrears.bootstrap import App
from arrears.cycle.plan import PERSON_HOLDS
from arrears.service.errors import Invalid, NotFound
from arrears.service.outreach.pending import HoldStarted, after_commit
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc

KINDS = ("dispute", "complaint", "cease_request", "attorney_represented", "bankruptcy",
         "deceased", "hardship", "legal")  # fmt: skip


def start_hold(
    app: App,
    kind: str,
    *,
    loan_id: str | None = None,
    borrower_id: str | None = None,
    ends_at: datetime | None = None,
    reason: str | None = None,
    by: str | None = None,
) -> str:
    """Start a hold now; returns its id. Give the loan (one debt) or the borrower (all)."""
    require_current(app)
    if kind not in KINDS:
        raise Invalid(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    now = app.clock()
    if ends_at is not None and as_utc(ends_at) <= now:
        raise Invalid(f"ends_at: {ends_at.isoformat()} is not in the future", field="ends_at")
    with app.engine.begin() as conn:
        if loan_id is not None:
            owner = conn.execute(
                select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)
            ).scalar()
            if owner is None:
                raise NotFound(f"loan_id: {loan_id} is not in the store", field="loan_id")
            if borrower_id is not None and borrower_id != owner:
                raise Invalid(
                    f"borrower_id: loan {loan_id} is not {borrower_id}'s", field="borrower_id"
                )
            borrower_id = owner
        elif borrower_id is None:
            raise Invalid(
                "loan_id: give the loan (one debt) or the borrower (every debt)", field="loan_id"
            )
        else:
            b = t.borrower.c.borrower_id
            if conn.execute(select(b).where(b == borrower_id)).first() is None:
                raise NotFound(
                    f"borrower_id: {borrower_id} is not in the store", field="borrower_id"
                )
        hold_id = insert_hold(
            conn, kind, borrower_id, loan_id, now, ends_at=ends_at, reason=reason, by=by
        )
    after_commit(app, HoldStarted(hold_id, borrower_id))
    return hold_id


def insert_hold(
    conn: Connection,
    kind: str,
    borrower_id: str,
    loan_id: str | None,
    now: datetime,
    *,
    ends_at: datetime | None = None,
    reason: str | None = None,
    by: str | None = None,
) -> str:
    """The hold and its evidence entry, in the caller's transaction (the caller reports
    :class:`HoldStarted` once it commits); its id. A person's kind covers every debt."""
    scope = None if kind in PERSON_HOLDS else loan_id
    hold_id = f"hd-{uuid.uuid4().hex[:16]}"
    conn.execute(
        insert(t.hold).values(
            hold_id=hold_id,
            borrower_id=borrower_id,
            loan_id=scope,
            kind=kind,
            starts_at=now,
            ends_at=ends_at,
            reason=reason,
            created_by=by,
        )
    )
    audit.record(
        conn,
        "hold",
        scope or borrower_id,
        now,
        {"hold_id": hold_id, "kind": kind, "by": by, "reason": reason},
    )
    return hold_id


def end_hold(app: App, hold_id: str, *, reason: str, by: str | None = None) -> None:
    """End a hold now (a dispute verified, a complaint resolved, hardship over)."""
    require_current(app)
    now = app.clock()
    h = t.hold
    with app.engine.begin() as conn:
        row = conn.execute(select(h).where(h.c.hold_id == hold_id)).first()
        if row is None:
            raise NotFound(f"hold_id: {hold_id} is not in the store", field="hold_id")
        if row.ends_at is not None and as_utc(row.ends_at) <= now:
            raise Invalid(
                f"hold_id: {hold_id} ended at {as_utc(row.ends_at).isoformat()}", field="hold_id"
            )
        conn.execute(
            update(h)
            .where(h.c.hold_id == hold_id)
            .values(ends_at=now, ended_by=by, end_reason=reason)
        )
        audit.record(
            conn,
            "hold_end",
            row.loan_id or row.borrower_id,
            now,
            {"hold_id": hold_id, "by": by, "reason": reason},
        )
