"""Need to know: which accounts a person may open.

* An agency user: only accounts placed with their agency (a live placement).
* A collector or field agent: accounts in their queues (planned there in the last
  :data:`RECENT_DAYS` days) or that they worked themselves (a contact of theirs in that time).
  Any other account needs a stated reason ("break-glass", :func:`break_glass`): the grant lasts
  the rest of the day, is written to the access log and raised to compliance as a conduct
  alert. What they may do on an account (a wrap-up, a waiver) follows the same scope.
* Supervisors, compliance, strategy managers and admins see every account.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, insert, select

from arrears.bootstrap import App
from arrears.service.conduct.contacts import raise_alert
from arrears.service.errors import Forbidden, Invalid, NotFound
from arrears.service.staff.users import Staff, log_access, work_queues
from arrears.store import tables as t

#: roles whose sight is limited to their own work
SCOPED = frozenset({"collector", "field_agent"})
#: how far back "in my queues" and "worked by me" reach
RECENT_DAYS = 14
#: the shortest reason a break-glass accepts
MIN_REASON = 10


def _placed_with(app: App, user: Staff, loan_id: str) -> bool:
    pl = t.placement
    with app.engine.connect() as conn:
        row = conn.execute(
            select(pl.c.loan_id).where(
                pl.c.loan_id == loan_id, pl.c.agency == user.agency, pl.c.status == "placed"
            )
        ).first()
    return row is not None


def in_scope(app: App, user: Staff, loan_id: str) -> bool:
    """May ``user`` open ``loan_id`` without stating a reason?"""
    if user.role == "agency":
        return _placed_with(app, user, loan_id)
    if user.role not in SCOPED:
        return True
    pa_, ca, g = t.plan_action, t.contact_attempt, t.access_grant
    since = app.today() - timedelta(days=RECENT_DAYS)
    me = [x for x in (user.collector_id, user.username) if x]
    now = app.clock()
    with app.engine.connect() as conn:
        queued = conn.execute(
            select(pa_.c.action_id)
            .where(
                pa_.c.loan_id == loan_id,
                pa_.c.business_date >= since,
                pa_.c.queue.in_(work_queues(user)),
            )
            .limit(1)
        ).first()
        if queued is not None:
            return True
        worked = conn.execute(
            select(ca.c.attempt_id)
            .where(
                ca.c.loan_id == loan_id,
                ca.c.collector_id.in_(me),
                ca.c.at >= datetime.combine(since, time(0), ZoneInfo("UTC")),
            )
            .limit(1)
        ).first()
        if worked is not None:
            return True
        granted = conn.execute(
            select(g.c.grant_id)
            .where(and_(g.c.user_id == user.user_id, g.c.loan_id == loan_id, g.c.expires_at > now))
            .limit(1)
        ).first()
    return granted is not None


def exists(app: App, loan_id: str) -> bool:
    with app.engine.connect() as conn:
        return (
            conn.execute(select(t.loan.c.loan_id).where(t.loan.c.loan_id == loan_id)).first()
            is not None
        )


#: the roles that break glass, as the Chinese wording of the alert names them
_ROLE_ZH = {"collector": "催收员", "field_agent": "外访员"}


def break_glass(app: App, user: Staff, loan_id: str, reason: str) -> str:
    """Open ``loan_id`` outside ``user``'s scope for the rest of the day, for ``reason``:
    logged and raised to compliance. Returns the grant's id."""
    if user.role not in SCOPED:
        raise Forbidden(f"role: a {user.role} needs no break-glass", field="role")
    why = " ".join(reason.split())
    if len(why) < MIN_REASON:
        raise Invalid(
            f"reason: say why you need this account (at least {MIN_REASON} characters)",
            field="reason",
        )
    if not exists(app, loan_id):
        raise NotFound(f"loan_id: {loan_id} is not in the store", field="loan_id")
    now = app.clock()
    tomorrow = datetime.combine(app.today() + timedelta(days=1), time(0), ZoneInfo("UTC"))
    grant_id = f"bg-{uuid.uuid4().hex}"
    with app.engine.begin() as conn:
        borrower = conn.execute(
            select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)
        ).scalar_one()
        conn.execute(
            insert(t.access_grant).values(
                grant_id=grant_id,
                user_id=user.user_id,
                loan_id=loan_id,
                reason=why,
                granted_at=now,
                expires_at=max(tomorrow, now + timedelta(hours=1)),
            )
        )
        raise_alert(
            conn,
            kind="break_glass",
            at=now,
            rules=[{"rule": "scope.break_glass", "grant_id": grant_id}],
            detail=f"{user.username} ({user.role}) opened {loan_id} outside their queues: {why}",
            detail_zh=f"{user.username}（{_ROLE_ZH.get(user.role, user.role)}）"
            f"在其队列之外打开了账户 {loan_id}：{why}",
            loan_id=loan_id,
            borrower_id=borrower,
            collector_id=user.collector_id or user.username,
        )
    log_access(app, user, borrower, "break_glass", False)
    return grant_id
