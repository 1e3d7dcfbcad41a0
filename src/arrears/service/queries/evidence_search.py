"""What the compliance officer searches: the evidence log (a page of entries, the kinds there
are), the gate's decisions by rule over a period, and one account's evidence as the store
holds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, or_, select

from arrears.service.books.statements import statement_for_loan
from arrears.service.queries.listing import Listing
from arrears.store import tables as t

if TYPE_CHECKING:
    from arrears.bootstrap import App


def audit_search(app: App, text: str, kind: str, *, limit: int, offset: int) -> Listing:
    """A page of the evidence log, newest first: entries of ``kind`` whose subject or payload
    holds ``text`` (either filter only when given); the payload whole."""
    a = t.audit_log
    where = []
    if kind:
        where.append(a.c.kind == kind)
    if text:
        like = f"%{text}%"
        where.append(or_(a.c.subject.like(like), a.c.payload.like(like)))
    with app.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(a).where(*where)).scalar() or 0
        rows = [
            dict(x)
            for x in conn.execute(
                select(a.c.seq, a.c.at, a.c.kind, a.c.subject, a.c.rulebook, a.c.payload, a.c.hash)
                .where(*where)
                .order_by(a.c.seq.desc())
                .limit(limit)
                .offset(offset)
            ).mappings()
        ]
    return Listing(rows, int(total))


def audit_kinds(app: App) -> list[str]:
    """The kinds of entry the evidence log holds, in order."""
    a = t.audit_log
    with app.engine.connect() as conn:
        return [k for (k,) in conn.execute(select(a.c.kind).distinct().order_by(a.c.kind))]


@dataclass(frozen=True)
class RuleCount:
    """How many of the plan's actions a rule left in a status."""

    rule: str
    status: str
    count: int


def decisions_by_rule(app: App, since: date, until: date) -> list[RuleCount]:
    """The actions planned from ``since`` to ``until`` that a rule decided, by rule and status,
    the most frequent first."""
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        by_rule = conn.execute(
            select(pa_.c.rule, pa_.c.status, func.count())
            .where(
                pa_.c.business_date >= since,
                pa_.c.business_date <= until,
                pa_.c.rule.is_not(None),
            )
            .group_by(pa_.c.rule, pa_.c.status)
            .order_by(func.count().desc())
        ).all()
    return [RuleCount(r, s, int(n)) for r, s, n in by_rule]


@dataclass(frozen=True)
class AccountEvidence:
    """One account's evidence as the store holds it: the statement on the day, the borrower,
    every contact (whole rows: the words still sealed), the audit entries about the loan or the
    borrower, and the payments, promises, holds, complaints and arrangements (whole rows)."""

    statement: dict[str, Any]
    borrower_id: str | None
    contacts: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    promises: list[dict[str, Any]]
    holds: list[dict[str, Any]]
    complaints: list[dict[str, Any]]
    arrangements: list[dict[str, Any]]


def account_evidence(app: App, loan_id: str, as_of: date) -> AccountEvidence:
    """``loan_id``'s evidence, its statement on ``as_of`` (refused, as the statement is, for a
    loan not in the store); the contacts about the loan or every debt of its borrower, in time
    order; the audit entries in the log's order."""
    st = statement_for_loan(app, loan_id, as_of)
    ca, a = t.contact_attempt, t.audit_log
    with app.engine.connect() as conn:
        bid = conn.execute(select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)).scalar()
        contacts = [
            dict(r)
            for r in conn.execute(
                select(ca)
                .where(
                    ca.c.borrower_id == bid, or_(ca.c.loan_id == loan_id, ca.c.loan_id.is_(None))
                )
                .order_by(ca.c.at, ca.c.attempt_id)
            ).mappings()
        ]
        audit = [
            dict(r)
            for r in conn.execute(
                select(a.c.seq, a.c.at, a.c.kind, a.c.payload, a.c.hash)
                .where(a.c.subject.in_((loan_id, bid)))
                .order_by(a.c.seq)
            ).mappings()
        ]
        return AccountEvidence(
            statement=st,
            borrower_id=bid,
            contacts=contacts,
            audit=audit,
            payments=_rows(conn, t.payment, t.payment.c.loan_id, loan_id),
            promises=_rows(conn, t.promise, t.promise.c.loan_id, loan_id),
            holds=_rows(conn, t.hold, t.hold.c.borrower_id, str(bid)),
            complaints=_rows(conn, t.complaint, t.complaint.c.borrower_id, str(bid)),
            arrangements=_rows(conn, t.arrangement, t.arrangement.c.loan_id, loan_id),
        )


def _rows(conn: Connection, table: Any, col: Any, key: str) -> list[dict[str, Any]]:
    return [dict(x) for x in conn.execute(select(table).where(col == key)).mappings()]
