"""The day's plan as the entrypoints list it: a page of a day's actions, how many a queue still
has planned, the call or visit a worker may record on an account, and the cycle's runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from arrears.service.queries.listing import Listing, page_of_query, row_model
from arrears.store import tables as t

if TYPE_CHECKING:
    from arrears.bootstrap import App


def _plan(day: date | None, status: str | None, channel: str | None) -> Select[Any]:
    pa_ = t.plan_action
    q = select(
        pa_.c.action_id,
        pa_.c.loan_id,
        pa_.c.stage,
        pa_.c.segment,
        pa_.c.channel,
        pa_.c.template,
        pa_.c.queue,
        pa_.c.status,
        pa_.c.rule,
        pa_.c.window_start,
        pa_.c.window_end,
    ).where(pa_.c.business_date == day)
    if status:
        q = q.where(pa_.c.status == status)
    if channel:
        q = q.where(pa_.c.channel == channel)
    return q.order_by(pa_.c.action_id)


def plan_listing(
    app: App,
    day: date,
    *,
    status: str | None,
    channel: str | None,
    limit: int,
    offset: int = 0,
    after: str | None = None,
) -> Listing:
    """A page of ``day``'s planned actions by id (with ``status`` and ``channel`` when given):
    loan, stage, segment, channel, template, queue, status, the rule that decided, window.
    From ``offset``, or the actions after the id ``after`` (by keyset: a day's plan holds an
    action for every loan in collection, and a deep page costs what the first does)."""
    key = None if after is None else (t.plan_action.c.action_id, after)
    return page_of_query(app, _plan(day, status, channel), limit, offset, key)


#: a row of :func:`plan_listing`
PlanRow = row_model(
    "PlanRow",
    _plan(None, None, None),
    "A planned action: its step's channel, template and queue, its status, the rule that "
    "blocked, suppressed or cancelled it, and the window it may run in.",
)


def planned_in_queue(app: App, queue: str, day: date) -> int:
    """How many of ``queue``'s actions on ``day`` are still planned (every channel)."""
    pa_ = t.plan_action
    q = select(func.count()).where(
        pa_.c.business_date == day, pa_.c.queue == queue, pa_.c.status == "planned"
    )
    with app.engine.connect() as conn:
        return int(conn.execute(q).scalar() or 0)


def planned_call(app: App, loan_id: str, day: date, queues: Sequence[str] | None) -> str | None:
    """The planned call or visit of ``loan_id`` on ``day``, highest priority first, in one of
    ``queues`` (any queue when None)."""
    pa_ = t.plan_action
    q = select(pa_.c.action_id).where(
        pa_.c.loan_id == loan_id,
        pa_.c.business_date == day,
        pa_.c.status == "planned",
        pa_.c.channel.in_(("agent_call", "visit")),
    )
    if queues is not None:
        q = q.where(pa_.c.queue.in_(queues))
    with app.engine.connect() as conn:
        found = conn.execute(q.order_by(pa_.c.priority.desc()).limit(1)).scalar()
    return None if found is None else str(found)


def run_listing(app: App, *, limit: int, offset: int) -> Listing:
    """A page of the cycle's runs, whole rows, newest first."""
    return page_of_query(app, _runs(), limit, offset)


def _runs() -> Select[Any]:
    cr = t.cycle_run
    return select(cr).order_by(cr.c.run_id.desc())


#: a row of :func:`run_listing`
RunRow = row_model(
    "RunRow",
    _runs(),
    "A cycle run: its day, engine and strategy, its counts (canonical JSON), the digest of "
    "its plan and its link in the runs' hash chain.",
)
