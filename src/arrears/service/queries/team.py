"""The supervisor's figures and the agencies': each queue today against its capacity, each
collector's and field agent's work, each agency's results, and what is placed with an agency.

The team's figures take a fixed number of queries whatever the team's size: the people, then
one grouped count per measure (contacts today, promises taken, complaints), joined here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, RowMapping, Select, and_, func, select

from arrears.store import tables as t

if TYPE_CHECKING:
    from arrears.bootstrap import App

#: the roles of the team: who works the queues
WORKERS = ("collector", "field_agent")


@dataclass(frozen=True)
class QueueLoad:
    """A queue on a day: its capacity (the strategy's; None for a queue it does not define),
    actions still to work, worked, and in any other status."""

    queue: str
    capacity: int | None
    planned: int
    done: int
    other: int


def queue_loads(app: App, day: date) -> list[QueueLoad]:
    """Each queue of the strategy in force, and each other queue with actions on ``day``, by
    name."""
    from arrears.strategy.model import load

    capacity = load(app.settings.strategy).queues
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(pa_.c.queue, pa_.c.status, func.count())
            .where(pa_.c.business_date == day, pa_.c.queue.is_not(None))
            .group_by(pa_.c.queue, pa_.c.status)
        ).all()
    counts: dict[str, dict[str, int]] = {q: {"planned": 0, "done": 0, "other": 0} for q in capacity}
    for q, status, n in rows:
        row = counts.setdefault(q, {"planned": 0, "done": 0, "other": 0})
        row[status if status in ("planned", "done") else "other"] += int(n)
    return [QueueLoad(q, capacity.get(q), **c) for q, c in sorted(counts.items())]


@dataclass(frozen=True)
class TeamMember:
    """A collector or field agent: who, the queues assigned, contacts today, promise parts
    taken in 30 days (kept, and decided: not pending), complaints about them in 30 days."""

    username: str
    name: str
    role: str
    collector_id: str
    queues: str
    contacts_today: int
    promises: int
    kept: int
    decided: int
    complaints: int


def team_figures(app: App, day: date) -> list[TeamMember]:
    """The collectors and field agents by user name, each with their figures: contacts since
    ``day`` began (in the business's timezone); promises and complaints in the 30 days before.
    A person is known in the contacts, promises and complaints by their collector id (their user
    name when they have none)."""
    u, ca, pr, c = t.staff_user, t.contact_attempt, t.promise, t.complaint
    day0 = datetime.combine(day, time(0), ZoneInfo(app.settings.business_timezone))
    month = day0 - timedelta(days=30)
    with app.engine.connect() as conn:
        people = (
            conn.execute(
                select(u.c.username, u.c.display_name, u.c.role, u.c.collector_id, u.c.queues)
                .where(u.c.role.in_(WORKERS))
                .order_by(u.c.username)
            )
            .mappings()
            .all()
        )
        contacts = _by_person(
            conn,
            select(ca.c.collector_id, func.count())
            .where(ca.c.at >= day0)
            .group_by(ca.c.collector_id),
        )
        complaints = _by_person(
            conn,
            select(c.c.collector_id, func.count())
            .where(c.c.received_at >= month)
            .group_by(c.c.collector_id),
        )
        taken: dict[str, dict[str, int]] = defaultdict(dict)
        for who, status, n in conn.execute(
            select(pr.c.made_by, pr.c.status, func.count())
            .where(pr.c.made_at >= month)
            .group_by(pr.c.made_by, pr.c.status)
        ):
            if who is not None:
                taken[str(who)][str(status)] = int(n)
    return [_member(p, contacts, taken, complaints) for p in people]


def _by_person(conn: Connection, q: Select[Any]) -> dict[str, int]:
    return {str(who): int(n) for who, n in conn.execute(q) if who is not None}


def _member(
    p: RowMapping,
    contacts: dict[str, int],
    taken: dict[str, dict[str, int]],
    complaints: dict[str, int],
) -> TeamMember:
    cid = p["collector_id"] or p["username"]
    mine = taken.get(cid, {})
    return TeamMember(
        username=p["username"],
        name=p["display_name"],
        role=p["role"],
        collector_id=cid,
        queues=p["queues"] or "",
        contacts_today=contacts.get(cid, 0),
        promises=sum(mine.values()),
        kept=mine.get("kept", 0),
        decided=sum(n for k, n in mine.items() if k != "pending"),
        complaints=complaints.get(cid, 0),
    )


@dataclass(frozen=True)
class AgencyResult:
    """An agency: accounts placed with it now, the balance placed, collected on them since
    their placement, and the share collected (None when nothing is placed)."""

    agency: str
    accounts: int
    balance: int
    collected: int
    rate: float | None


def agency_results(app: App) -> list[AgencyResult]:
    """Each agency with accounts placed now."""
    pl, pay = t.placement, t.payment
    with app.engine.connect() as conn:
        placed = conn.execute(
            select(pl.c.agency, func.count(), func.sum(pl.c.balance))
            .where(pl.c.status == "placed")
            .group_by(pl.c.agency)
        ).all()
        got = dict(
            conn.execute(
                select(pl.c.agency, func.sum(pay.c.amount))
                .select_from(
                    pl.join(
                        pay, and_(pay.c.loan_id == pl.c.loan_id, pay.c.paid_on >= pl.c.placed_on)
                    )
                )
                .where(pay.c.status == "posted")
                .group_by(pl.c.agency)
            ).all()
        )
    return [
        AgencyResult(
            agency=a,
            accounts=int(n),
            balance=int(b or 0),
            collected=int(got.get(a, 0) or 0),
            rate=(int(got.get(a, 0) or 0) / int(b)) if b else None,
        )
        for a, n, b in placed
    ]


def placed_with(app: App, agency: str | None) -> list[dict[str, Any]]:
    """The accounts placed with ``agency`` now (whole placement rows), the latest placed first,
    at most 500."""
    pl = t.placement
    with app.engine.connect() as conn:
        return [
            dict(x)
            for x in conn.execute(
                select(pl)
                .where(pl.c.agency == agency, pl.c.status == "placed")
                .order_by(pl.c.placed_on.desc(), pl.c.loan_id)
                .limit(500)
            ).mappings()
        ]
