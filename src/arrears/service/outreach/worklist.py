"""Agent calls and home visits as worklists: the day's planned items of a queue in priority
order, and call-backs first in line. Recording an item's outcome is conduct's
(:mod:`arrears.service.conduct.outcomes`): the gate judges the contact and the screen the
note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select

from arrears import ids
from arrears.bootstrap import App
from arrears.service.errors import Conflict, NotFound
from arrears.service.store import require_current
from arrears.store import tables as t
from arrears.store.db import as_utc

#: the plan channels a person works from a list, and the contact channel each records
WORKED = {"agent_call": "call", "visit": "visit"}
#: a worked item's status in the plan
DONE = "done"
#: where call-backs wait, first in line (a dialer keypress, a wrap-up's next action)
CALL_BACK_QUEUE = "call_back"
NEXT_ACTIONS = ("none", "call_back")


@dataclass(frozen=True)
class WorkItem:
    action_id: str
    loan_id: str
    borrower_id: str
    channel: str
    stage: str
    segment: str
    priority: float
    window_start: datetime
    window_end: datetime
    locale: str
    #: carried over from an earlier day: the date first planned (None: planned for this day)
    carried_from: date | None = None
    #: a call-back a collector set for a time the borrower chose
    call_back: bool = False
    #: the borrower's time zone (the window is shown in it too where it differs from the
    #: business time zone)
    timezone: str | None = None


def items(app: App, queue: str, day: date, *, limit: int = 50, offset: int = 0) -> list[WorkItem]:
    """The planned, not yet worked items of ``queue`` on ``day``, highest priority first."""
    require_current(app)
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(
                pa_.c.action_id,
                pa_.c.loan_id,
                pa_.c.borrower_id,
                pa_.c.channel,
                pa_.c.stage,
                pa_.c.segment,
                pa_.c.priority,
                pa_.c.window_start,
                pa_.c.window_end,
                pa_.c.locale,
                pa_.c.carried_from,
                (pa_.c.step_id == "call_back").label("call_back"),
                t.borrower.c.timezone,
            )
            .join(t.borrower, t.borrower.c.borrower_id == pa_.c.borrower_id, isouter=True)
            .where(
                and_(
                    pa_.c.business_date == day,
                    pa_.c.queue == queue,
                    pa_.c.status == "planned",
                    pa_.c.channel.in_(sorted(WORKED)),
                )
            )
            .order_by(pa_.c.priority.desc(), pa_.c.action_id)
            .limit(limit)
            .offset(offset)
        ).all()
    found = []
    for r in rows:
        row = dict(r._mapping)
        row["window_start"], row["window_end"] = as_utc(r.window_start), as_utc(r.window_end)
        row["call_back"] = bool(r.call_back)
        found.append(WorkItem(**row))
    return found


def call_back_row(action: Any, item: str, **values: Any) -> dict[str, Any]:
    """The plan row of a call-back ``item`` made from ``action``'s row: an agent call first in
    line, not yet worked; ``values`` (its queue, window, date) over the action's own."""
    row = {c.name: getattr(action, c.name) for c in t.plan_action.c}
    row.update(
        action_id=item,
        step_id="call_back",
        channel="agent_call",
        template=None,
        pool=None,
        priority=1e9,
        status="planned",
        rule=None,
        lease_owner=None,
        lease_until=None,
        tries=None,
        next_try_at=None,
        attempt_id=None,
        sent_at=None,
        last_error=None,
        carried_from=None,
    )
    row.update(values)
    return row


def add_call_back(conn: Connection, action: Any, now: datetime) -> str:
    """An agent call for ``action``'s account in today's call-back worklist, first in line
    (once); returns its action id."""
    pa_ = t.plan_action
    item = ids.call_back(action.action_id)
    exists = conn.execute(select(pa_.c.action_id).where(pa_.c.action_id == item)).first()
    if exists is None:
        row = call_back_row(
            action,
            item,
            queue=CALL_BACK_QUEUE,
            window_start=max(as_utc(action.window_start), now),
        )
        conn.execute(insert(pa_).values(**row))
    return item


def call_back(app: App, action_id: str) -> str:
    """A wrap-up's next action: call this account back today, first in line."""
    pa_ = t.plan_action
    with app.engine.begin() as conn:
        action = conn.execute(select(pa_).where(pa_.c.action_id == action_id)).first()
        if action is None:
            raise NotFound(f"action {action_id!r}: not in the plan", field="action_id")
        if action.step_id == "call_back":
            raise Conflict(f"action {action_id!r}: already a call-back", field="action_id")
        return add_call_back(conn, action, app.clock())
