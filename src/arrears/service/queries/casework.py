"""What happened on the accounts, as listed: a loan's promises and arrangements, the
arrangements waiting for approval, and complaints (a page of them, those by their deadline,
one complaint's state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select

from arrears.service.queries.listing import Listing, page_of_query, row_model
from arrears.store import tables as t

if TYPE_CHECKING:
    from arrears.bootstrap import App


def _promises(loan_id: str) -> Select[Any]:
    pr = t.promise
    return select(pr).where(pr.c.loan_id == loan_id).order_by(pr.c.made_at, pr.c.seq)


def promises_of(app: App, loan_id: str) -> list[dict[str, Any]]:
    """A loan's promise parts, whole rows, in the order they were made (part by part)."""
    with app.engine.connect() as conn:
        return [dict(r) for r in conn.execute(_promises(loan_id)).mappings()]


def promise_listing(app: App, loan_id: str, *, limit: int, offset: int) -> Listing:
    """A page of :func:`promises_of`."""
    return page_of_query(app, _promises(loan_id), limit, offset)


def _arrangements(loan_id: str) -> Select[Any]:
    ar = t.arrangement
    return select(ar).where(ar.c.loan_id == loan_id).order_by(ar.c.proposed_at)


def arrangement_listing(app: App, loan_id: str, *, limit: int, offset: int) -> Listing:
    """A page of a loan's arrangements, whole rows, oldest proposal first."""
    return page_of_query(app, _arrangements(loan_id), limit, offset)


def awaiting_approval(app: App) -> list[dict[str, Any]]:
    """The arrangements waiting for a second person's approval, whole rows, oldest first."""
    ar = t.arrangement
    q = select(ar).where(ar.c.status == "pending_approval").order_by(ar.c.proposed_at)
    with app.engine.connect() as conn:
        return [dict(x) for x in conn.execute(q).mappings()]


def _complaints(status: str | None) -> Select[Any]:
    c = t.complaint
    q = select(
        c.c.complaint_id,
        c.c.borrower_id,
        c.c.loan_id,
        c.c.category,
        c.c.source,
        c.c.status,
        c.c.received_at,
        c.c.sla_due_at,
        c.c.finding,
        c.c.collector_id,
        c.c.agency,
        c.c.template,
    ).order_by(c.c.received_at.desc())
    return q.where(c.c.status == status) if status else q


def complaint_listing(app: App, *, status: str | None, limit: int, offset: int) -> Listing:
    """A page of complaints, newest first (with ``status`` when given): who, what, where it
    stands and whom it is about."""
    return page_of_query(app, _complaints(status), limit, offset)


#: a row of :func:`promise_listing`: one part of a promise
PromiseRow = row_model(
    "PromiseRow",
    _promises(""),
    "One part of a promise to pay: amount and day, who made it through which channel, and "
    "how it was decided (pending, kept, partly_kept, broken, superseded; paid toward it).",
)
#: a row of :func:`arrangement_listing`
ArrangementRow = row_model(
    "ArrangementRow",
    _arrangements(""),
    "An arrangement: kind, status, the days it covers, what was agreed (terms) and its effect "
    "(both canonical JSON), who proposed and who approved it.",
)
#: a row of :func:`complaint_listing`
ComplaintRow = row_model(
    "ComplaintRow",
    _complaints(None),
    "A complaint: whose, its category and channel, where it stands, its deadline for a "
    "finding, and whom it is about (collector, agency, template).",
)


def complaints_by_deadline(
    app: App, *, status: str | None, limit: int, owner: str | None = None
) -> list[dict[str, Any]]:
    """The first ``limit`` complaints (with ``status`` when given; ``owner``'s only, or with
    none when ``owner`` is ""), whole rows, the nearest deadline for a finding first."""
    c = t.complaint
    q = select(c).order_by(c.c.sla_due_at)
    if status is not None:
        q = q.where(c.c.status == status)
    if owner == "":
        q = q.where(c.c.owner.is_(None))
    elif owner is not None:
        q = q.where(c.c.owner == owner)
    with app.engine.connect() as conn:
        return [dict(x) for x in conn.execute(q.limit(limit)).mappings()]


@dataclass(frozen=True)
class ComplaintState:
    """Where a complaint stands: its status, the deadline for a finding, whom and which
    template it is about, the hold it started."""

    status: str
    sla_due_at: datetime
    collector_id: str | None
    template: str | None
    hold_id: str | None


def complaint_state(app: App, complaint_id: str) -> ComplaintState:
    """Where ``complaint_id`` stands (it must be in the store)."""
    c = t.complaint
    q = select(c.c.status, c.c.sla_due_at, c.c.collector_id, c.c.template, c.c.hold_id)
    with app.engine.connect() as conn:
        row = conn.execute(q.where(c.c.complaint_id == complaint_id)).one()
    return ComplaintState(**row._mapping)
