"""Complaints (投诉): taken from the portal, the API, or by a collector on the borrower's behalf.

A complaint has a category (:data:`CATEGORIES`), the borrower's words, and the contacts it
concerns (their collector, agency and template are what it is about). Where the portfolio's
policy says so for its category, it puts the debt on hold (kind ``complaint``) until resolved.
It is due a finding within the policy's SLA and is escalated when still open after
``escalate_after_days``. Resolving it records the finding (upheld, partly upheld, not upheld),
ends its hold, and an upheld finding flags the collector, agency and template concerned.
:func:`rates` gives complaints per 10,000 contacts by collector, agency and template.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from arrears.bootstrap import App
from arrears.domain.complaint_categories import CATEGORIES
from arrears.service.cases.hold_records import end_hold, start_hold
from arrears.service.cases.policy import load_policy
from arrears.service.errors import Conflict, Invalid, NotFound
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t

SOURCES = ("portal", "api", "collector")
FINDINGS = ("upheld", "partly_upheld", "not_upheld")


def file_complaint(
    app: App,
    *,
    borrower_id: str,
    category: str,
    description: str,
    source: str,
    loan_id: str | None = None,
    attempt_ids: list[str] | None = None,
    taken_by: str | None = None,
) -> str:
    """Take a complaint; returns its id."""
    require_current(app)
    _check(category, source, description, taken_by)
    now = app.clock()
    attempt_ids = sorted(set(attempt_ids or []))
    ca = t.contact_attempt
    with app.engine.connect() as conn:
        owner = conn.execute(
            select(t.borrower.c.borrower_id).where(t.borrower.c.borrower_id == borrower_id)
        ).first()
        if owner is None:
            raise NotFound(f"borrower_id: {borrower_id} is not in the store", field="borrower_id")
        if loan_id is not None:
            loan = conn.execute(select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id))
            if loan.scalar() != borrower_id:
                raise Invalid(f"loan_id: {loan_id} is not a loan of {borrower_id}", field="loan_id")
        contacts = conn.execute(select(ca).where(ca.c.attempt_id.in_(attempt_ids))).all()
        portfolio = None
        if loan_id is not None:
            portfolio = conn.execute(
                select(t.loan.c.portfolio_id).where(t.loan.c.loan_id == loan_id)
            ).scalar()
        agency = _agency(conn, loan_id, contacts)
    _check_contacts(attempt_ids, contacts, borrower_id)
    collector = _most(c.collector_id for c in contacts)
    template = _most(c.template for c in contacts)
    policy = load_policy(app.settings.collections_policy_file)
    rules = (policy.for_portfolio(portfolio) if portfolio else policy.default).complaint
    complaint_id = f"cp-{uuid.uuid4().hex[:16]}"
    with app.engine.begin() as conn:
        conn.execute(
            insert(t.complaint).values(
                complaint_id=complaint_id,
                borrower_id=borrower_id,
                loan_id=loan_id,
                category=category,
                description=description,
                source=source,
                taken_by=taken_by,
                received_at=now,
                sla_due_at=now + timedelta(days=rules.sla_days),
                status="open",
                collector_id=collector,
                agency=agency,
                template=template,
            )
        )
        if attempt_ids:
            links = [{"complaint_id": complaint_id, "attempt_id": a} for a in attempt_ids]
            conn.execute(insert(t.complaint_attempt), links)
        audit.record(
            conn,
            "complaint",
            loan_id or borrower_id,
            now,
            {
                "complaint_id": complaint_id,
                "category": category,
                "source": source,
                "attempts": attempt_ids,
            },
        )
    if category in rules.hold_on:
        why = f"complaint {complaint_id}: {category}"
        hold_id = start_hold(
            app, "complaint", loan_id=loan_id, borrower_id=borrower_id, reason=why, by=taken_by
        )
        with app.engine.begin() as conn:
            conn.execute(
                update(t.complaint)
                .where(t.complaint.c.complaint_id == complaint_id)
                .values(hold_id=hold_id)
            )
    return complaint_id


def _check(category: str, source: str, description: str, taken_by: str | None) -> None:
    if category not in CATEGORIES:
        raise Invalid(
            f"category: expected one of {', '.join(CATEGORIES)}, got {category!r}", field="category"
        )
    if source not in SOURCES:
        raise Invalid(
            f"source: expected one of {', '.join(SOURCES)}, got {source!r}", field="source"
        )
    if not description.strip():
        raise Invalid("description: say what happened", field="description")
    if len(description) > 5000:
        raise Invalid("description: at most 5,000 characters", field="description")
    if source == "collector" and not taken_by:
        raise Invalid("taken_by: a collector taking a complaint is named", field="taken_by")


def _check_contacts(attempt_ids: list[str], contacts: Sequence[Any], borrower_id: str) -> None:
    found = {c.attempt_id: c for c in contacts}
    for a in attempt_ids:
        if a not in found:
            raise Invalid(f"attempt_ids: {a} is not a contact in the store", field="attempt_ids")
        if found[a].borrower_id != borrower_id:
            raise Invalid(
                f"attempt_ids: {a} was not a contact with {borrower_id}", field="attempt_ids"
            )


def _most(values: Any) -> str | None:
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else None


def _agency(conn: Any, loan_id: str | None, contacts: Sequence[Any]) -> str | None:
    """The agency holding the loan (or the contacts' loans) when the complaint came."""
    loans = {loan_id} if loan_id else {c.loan_id for c in contacts if c.loan_id}
    if not loans:
        return None
    pl = t.placement
    rows = conn.execute(
        select(pl.c.agency).where(pl.c.loan_id.in_(sorted(loans)), pl.c.status == "placed")
    ).scalars()
    return _most(rows)


def escalate(app: App) -> list[str]:
    """Escalate the open complaints past their portfolio's point; returns their ids."""
    require_current(app)
    now = app.clock()
    c = t.complaint
    policy = load_policy(app.settings.collections_policy_file)
    with app.engine.begin() as conn:
        rows = conn.execute(
            select(c.c.complaint_id, c.c.received_at, c.c.sla_due_at, t.loan.c.portfolio_id)
            .select_from(c.outerjoin(t.loan, t.loan.c.loan_id == c.c.loan_id))
            .where(c.c.status == "open")
        ).all()
        late = []
        for r in rows:
            sla_days = (r.sla_due_at - r.received_at).days
            rules = policy.for_portfolio(r.portfolio_id) if r.portfolio_id else policy.default
            after = rules.complaint.escalate_after_days
            if now >= _aware(r.received_at) + timedelta(days=min(after, sla_days)):
                late.append(r.complaint_id)
        if late:
            conn.execute(
                update(c)
                .where(c.c.complaint_id.in_(late))
                .values(status="escalated", escalated_at=now)
            )
    return late


def _aware(at: datetime) -> datetime:
    from arrears.store.db import as_utc

    return as_utc(at)


def resolve(app: App, complaint_id: str, *, finding: str, resolution: str, by: str) -> None:
    """Record the finding; the complaint's hold ends; upheld findings flag who it is about."""
    require_current(app)
    if finding not in FINDINGS:
        raise Invalid(
            f"finding: expected one of {', '.join(FINDINGS)}, got {finding!r}", field="finding"
        )
    if not resolution.strip():
        raise Invalid("resolution: say what was found and done", field="resolution")
    c = t.complaint
    now = app.clock()
    with app.engine.begin() as conn:
        row = _open_complaint(conn, complaint_id)
        conn.execute(
            update(c)
            .where(c.c.complaint_id == complaint_id)
            .values(
                status="resolved",
                resolved_at=now,
                finding=finding,
                resolution=resolution,
                resolved_by=by,
            )
        )
        said = {"complaint_id": complaint_id, "finding": finding, "by": by}
        entry = audit.Entry(
            kind="complaint_resolved",
            rulebook="",
            at=now,
            subject=row.loan_id or row.borrower_id,
            payload=said,
        )
        audit.append(conn, [entry])
    if row.hold_id:
        end_hold(app, row.hold_id, reason=f"complaint {complaint_id} {finding}", by=by)


#: who may own a complaint: those who open the complaints pages
OWNERS = ("compliance", "admin")


def owners(app: App) -> list[str]:
    """The people a complaint can be given to: active compliance officers (and admins)."""
    u = t.staff_user
    q = select(u.c.username).where(u.c.role.in_(OWNERS), u.c.active.is_(True))
    with app.engine.connect() as conn:
        return sorted(conn.execute(q).scalars())


def assign(app: App, complaint_id: str, *, owner: str, by: str) -> None:
    """Give ``complaint_id`` to ``owner`` (an active compliance officer or admin), in the
    evidence log. Assigning it again to its owner changes nothing; a resolved complaint keeps
    the owner it was resolved by. Two people assigning it at once are applied one after the
    other, each entry naming the owner it replaced."""
    require_current(app)
    u = t.staff_user
    with app.engine.connect() as conn:
        who = conn.execute(
            select(u.c.role).where(u.c.username == owner, u.c.active.is_(True))
        ).scalar()
    if who not in OWNERS:
        raise Invalid(f"owner: {owner!r} is not an active compliance officer", field="owner")
    for _ in range(5):
        if _assign_once(app, complaint_id, owner, by):
            return
    raise Conflict(f"complaint_id: {complaint_id} is being reassigned; try again")


def _open_complaint(conn: Any, complaint_id: str) -> Any:
    """``complaint_id``'s row, refused when it is not in the store or is resolved already."""
    c = t.complaint
    row = conn.execute(select(c).where(c.c.complaint_id == complaint_id)).first()
    if row is None:
        raise NotFound(f"complaint_id: {complaint_id} is not in the store", field="complaint_id")
    if row.status == "resolved":
        raise Conflict(f"complaint_id: {complaint_id} was resolved already", field="complaint_id")
    return row


def _assign_once(app: App, complaint_id: str, owner: str, by: str) -> bool:
    """One try: False when someone else changed the owner between the read and the write."""
    c = t.complaint
    now = app.clock()
    with app.engine.begin() as conn:
        row = _open_complaint(conn, complaint_id)
        if row.owner == owner:
            return True
        same = c.c.owner.is_(None) if row.owner is None else c.c.owner == row.owner
        changed = conn.execute(
            update(c)
            .where(c.c.complaint_id == complaint_id, c.c.status != "resolved", same)
            .values(owner=owner, assigned_by=by, assigned_at=now)
        ).rowcount
        if changed != 1:
            return False
        said = {"complaint_id": complaint_id, "owner": owner, "was": row.owner, "by": by}
        entry = audit.Entry(
            kind="complaint_assigned",
            rulebook="",
            at=now,
            subject=row.loan_id or row.borrower_id,
            payload=said,
        )
        audit.append(conn, [entry])
    return True


@dataclass(frozen=True)
class Rate:
    by: str  # collector | agency | template
    key: str
    complaints: int
    contacts: int

    @property
    def per_10k(self) -> float:
        return 10_000 * self.complaints / self.contacts if self.contacts else 0.0


def rates(app: App, since: datetime, until: datetime, *, upheld_only: bool = False) -> list[Rate]:
    """Complaints per 10,000 contacts in [since, until), by collector, agency and template."""
    require_current(app)
    c, ca, pl = t.complaint, t.contact_attempt, t.placement
    window = (c.c.received_at >= since, c.c.received_at < until)
    out: list[Rate] = []
    with app.engine.connect() as conn:
        for by, ccol, acol in (
            ("collector", c.c.collector_id, ca.c.collector_id),
            ("template", c.c.template, ca.c.template),
        ):
            q = select(ccol, func.count()).where(*window, ccol.is_not(None))
            if upheld_only:
                q = q.where(c.c.finding.in_(("upheld", "partly_upheld")))
            complaints: dict[Any, int] = dict(conn.execute(q.group_by(ccol)).all())
            contacts: dict[Any, int] = dict(
                conn.execute(
                    select(acol, func.count())
                    .where(ca.c.at >= since, ca.c.at < until, acol.is_not(None))
                    .group_by(acol)
                ).all()
            )
            for key in sorted(set(complaints) | set(contacts)):
                out.append(Rate(by, key, int(complaints.get(key, 0)), int(contacts.get(key, 0))))
        q = select(c.c.agency, func.count()).where(*window, c.c.agency.is_not(None))
        complaints = dict(conn.execute(q.group_by(c.c.agency)).all())
        contacts = dict(
            conn.execute(
                select(pl.c.agency, func.count())
                .select_from(ca.join(pl, pl.c.loan_id == ca.c.loan_id))
                .where(ca.c.at >= since, ca.c.at < until)
                .group_by(pl.c.agency)
            ).all()
        )
        for key in sorted(set(complaints) | set(contacts)):
            out.append(Rate("agency", key, int(complaints.get(key, 0)), int(contacts.get(key, 0))))
    return out
