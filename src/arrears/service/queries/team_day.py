"""The supervisor's team table for one business day: every person who worked an account that
day (a console user or a collector id known only from the dialer and the files), with the
measures collections runs on, and the accounts behind each figure (the drill-down).

Per person (their collector id):
* ``attempts``: calls and visits made that day; ``calls`` of them by phone;
* ``calls_per_hour``: calls / the hours between their first and last call (at least one hour);
* ``talk_seconds``: the calls' length as the dialer reported it;
* ``reached`` and ``rpc_rate``: right-party contacts (a right-party disposition, or spoke with
  the borrower when no disposition was given) / attempts;
* ``promises`` and ``promised``: promise parts taken that day, and their amount;
* ``kept`` / ``decided``: of the promise parts they took in the 30 days before, those kept in
  full, and those whose outcome is known (kept, partly kept or broken; pending ones are not
  counted either way);
* ``cash``: payments dated that day on accounts they reached in the 7 days up to the payment
  (last touch: a payment is credited to the last person who reached the borrower);
* ``complaints``: complaints about them received in the 30 days before;
* ``qa_score``: their calls' mean inspection score in those 30 days (None: none scored).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from arrears.domain.dispositions import RIGHT_PARTY
from arrears.store import tables as t
from arrears.store.db import as_utc

if TYPE_CHECKING:
    from arrears.bootstrap import App

#: the measures whose accounts a supervisor can open
MEASURES = ("attempts", "reached", "promises", "kept", "cash", "complaints", "qa_score")
#: how long a right-party contact earns the payments that follow it
CREDIT_DAYS = 7
WORKED = ("call", "visit")


@dataclass
class Member:
    collector_id: str
    name: str = ""
    username: str = ""
    attempts: int = 0
    calls: int = 0
    talk_seconds: int = 0
    calls_per_hour: float | None = None
    reached: int = 0
    promises: int = 0
    promised: int = 0
    kept: int = 0
    decided: int = 0
    cash: int = 0
    complaints: int = 0
    qa_score: float | None = None

    @property
    def rpc_rate(self) -> float | None:
        return self.reached / self.attempts if self.attempts else None

    @property
    def kept_rate(self) -> float | None:
        return self.kept / self.decided if self.decided else None


@dataclass
class TeamDay:
    day: date
    members: list[Member]
    #: (collector id, measure) -> the loan ids behind the figure
    accounts: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def _reached(disposition: str | None, result: str | None) -> bool:
    if disposition is not None:
        return disposition in RIGHT_PARTY
    return result == "conversation"


def team_day(app: App, day: date) -> TeamDay:
    """The team table for ``day`` (in the business's timezone)."""
    zone = ZoneInfo(app.settings.business_timezone)
    d0 = datetime.combine(day, time(0), zone)
    d1, month = d0 + timedelta(days=1), d0 - timedelta(days=30)
    u = t.staff_user
    people: dict[str, Member] = {}
    behind: dict[tuple[str, str], set[str]] = defaultdict(set)

    def who(cid: str) -> Member:
        return people.setdefault(cid, Member(cid))

    with app.engine.connect() as conn:
        _contacts(conn, d0, d1, who, behind)
        _promises(conn, d0, d1, month, who, behind)
        _complaints(conn, month, d1, who, behind)
        _qa(conn, month, d1, who, behind)
        _cash(conn, day, zone, who, behind)
        for r in conn.execute(
            select(u.c.username, u.c.display_name, u.c.collector_id).where(
                u.c.role.in_(("collector", "field_agent"))
            )
        ):
            cid = r.collector_id or r.username
            if cid in people:
                people[cid].name, people[cid].username = r.display_name, r.username
    members = sorted(
        (m for m in people.values() if m.attempts or m.promises or m.cash),
        key=lambda m: (-m.cash, -m.reached, m.collector_id),
    )
    return TeamDay(day, members, dict(behind))


def _promises(
    conn: Any, d0: datetime, d1: datetime, month: datetime, who: Any, behind: dict[Any, set[str]]
) -> None:
    pr = t.promise
    for r in conn.execute(
        select(pr.c.made_by, pr.c.loan_id, pr.c.amount, pr.c.status, pr.c.made_at).where(
            pr.c.made_at >= month,
            pr.c.made_at < d1,
            pr.c.made_by.is_not(None),
            pr.c.source == "agent_call",  # a collector's; a portal promise is the borrower's
        )
    ):
        m = who(str(r.made_by))
        if as_utc(r.made_at) >= d0:
            m.promises += 1
            m.promised += int(r.amount)
            behind[(m.collector_id, "promises")].add(r.loan_id)
        if r.status in ("kept", "partly_kept", "broken"):
            m.decided += 1
            if r.status == "kept":
                m.kept += 1
                behind[(m.collector_id, "kept")].add(r.loan_id)


def _complaints(
    conn: Any, since: datetime, until: datetime, who: Any, behind: dict[Any, set[str]]
) -> None:
    c = t.complaint
    for r in conn.execute(
        select(c.c.collector_id, c.c.loan_id).where(
            c.c.received_at >= since, c.c.received_at < until, c.c.collector_id.is_not(None)
        )
    ):
        who(str(r.collector_id)).complaints += 1
        if r.loan_id:
            behind[(str(r.collector_id), "complaints")].add(r.loan_id)


def _contacts(conn: Any, d0: datetime, d1: datetime, who: Any, behind: dict[Any, set[str]]) -> None:
    ca = t.contact_attempt
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    rows = conn.execute(
        select(
            ca.c.collector_id,
            ca.c.loan_id,
            ca.c.channel,
            ca.c.at,
            ca.c.result,
            ca.c.disposition,
            ca.c.duration_seconds,
        ).where(
            ca.c.at >= d0,
            ca.c.at < d1,
            ca.c.channel.in_(WORKED),
            ca.c.direction == "outbound",
            ca.c.collector_id.is_not(None),
        )
    )
    for r in rows:
        cid = str(r.collector_id)
        m = who(cid)
        m.attempts += 1
        if r.loan_id:
            behind[(cid, "attempts")].add(r.loan_id)
        if r.channel == "call":
            m.calls += 1
            m.talk_seconds += int(r.duration_seconds or 0)
            at = as_utc(r.at)
            first[cid] = min(first.get(cid, at), at)
            last[cid] = max(last.get(cid, at), at)
        if _reached(r.disposition, r.result):
            m.reached += 1
            if r.loan_id:
                behind[(cid, "reached")].add(r.loan_id)
    for cid, start in first.items():
        hours = max((last[cid] - start).total_seconds() / 3600, 1.0)
        who(cid).calls_per_hour = who(cid).calls / hours


def _qa(conn: Any, since: datetime, until: datetime, who: Any, behind: dict[Any, set[str]]) -> None:
    ca, ct = t.contact_attempt, t.call_transcript
    scores: dict[str, list[int]] = defaultdict(list)
    for r in conn.execute(
        select(ca.c.collector_id, ca.c.loan_id, ct.c.score)
        .join(ct, ct.c.attempt_id == ca.c.attempt_id)
        .where(
            ca.c.at >= since,
            ca.c.at < until,
            ct.c.score.is_not(None),
            ca.c.collector_id.is_not(None),
        )
    ):
        scores[str(r.collector_id)].append(int(r.score))
        if r.loan_id:
            behind[(str(r.collector_id), "qa_score")].add(r.loan_id)
    for cid, s in scores.items():
        who(cid).qa_score = sum(s) / len(s)


def _cash(conn: Any, day: date, zone: ZoneInfo, who: Any, behind: dict[Any, set[str]]) -> None:
    """Payments dated ``day``, each credited to the last person who reached the borrower about
    the loan in the :data:`CREDIT_DAYS` days up to the end of that day (that day included)."""
    ca, p = t.contact_attempt, t.payment
    pays = conn.execute(
        select(p.c.loan_id, p.c.amount).where(p.c.paid_on == day, p.c.status == "posted")
    ).all()
    if not pays:
        return
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    since = end - timedelta(days=CREDIT_DAYS)
    loans = sorted({r.loan_id for r in pays})
    touch: dict[str, tuple[datetime, str]] = {}
    for r in conn.execute(
        select(ca.c.loan_id, ca.c.collector_id, ca.c.at, ca.c.result, ca.c.disposition).where(
            ca.c.loan_id.in_(loans),
            ca.c.at >= since,
            ca.c.at < end,
            ca.c.channel.in_(WORKED),
            ca.c.collector_id.is_not(None),
            or_(ca.c.disposition.is_not(None), and_(ca.c.result == "conversation")),
        )
    ):
        if not _reached(r.disposition, r.result):
            continue
        at = as_utc(r.at)
        if r.loan_id not in touch or touch[r.loan_id][0] < at:
            touch[r.loan_id] = (at, str(r.collector_id))
    for r in pays:
        if r.loan_id in touch:
            cid = touch[r.loan_id][1]
            who(cid).cash += int(r.amount)
            behind[(cid, "cash")].add(r.loan_id)
