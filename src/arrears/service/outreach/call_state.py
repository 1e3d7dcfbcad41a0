"""May an agent call this borrower now? The console's answer, asked of the compliance gate
itself: the account is read and judged as the dispatcher's second look judges an action (the
same :class:`~arrears.cycle.scalar_engine.Account`, its history, holds, agreed window, timezone
and opt-outs), for a bare agent call at the given instant. Nothing here restates a rule: the
hours, the frequency caps, holds and consent are the rulebook's, applied by the gate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.compliance import gate
from arrears.compliance.facts import Violation
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules.frequency import connected_today
from arrears.cycle.scalar_engine import Account
from arrears.service.outreach.pending import Judge, step_of, strategies_of
from arrears.store import tables as t
from arrears.strategy.model import Step

#: how finely the end of an allowed stretch is found (the rulebooks' limits fall on minutes)
PROBE = timedelta(minutes=5)


@dataclass(frozen=True)
class CallState:
    """The gate's answer for an agent call at ``at`` (in the borrower's ``timezone``)."""

    at: datetime
    timezone: str
    allowed: bool
    until: datetime | None  # allowed: the end of the stretch the gate allows, within the day
    refusals: tuple[Violation, ...]  # refused: the rules refusing, in the gate's order
    earliest: datetime | None  # refused: when the gate would allow it (None: a new event must)
    connected: int  # connected calls to the person in their local day, as the cap counts them
    limit: int | None  # the rulebook's cap on them (None: no such cap)
    rulebook: Rulebook  # the account's rulebook, as the gate applied it


def account_for(app: App, loan_id: str, channel: str = "agent_call") -> tuple[Account, Step] | None:
    """The account as the second look sees it, under the strategy of the latest run, and a
    bare step of ``channel`` (an agent call, a visit) of it; None when the loan is not in the
    store."""
    cr = t.cycle_run
    with app.engine.connect() as conn:
        last = int(conn.execute(select(func.max(cr.c.run_id))).scalar() or 0)
        strategy = strategies_of(app, conn, {last})[last]
    acct = Judge(app, app.today(), [loan_id]).account(loan_id, strategy)
    if acct is None:
        return None
    step = step_of(strategy, f"console.{channel}", channel)
    return acct, dataclasses.replace(step, channel=channel)


def _refused_from(acct: Account, step: Step, at: datetime, day_end: datetime) -> datetime:
    """The first minute after ``at`` (within the local day) at which the gate refuses the
    call; ``day_end`` if it never does."""
    t0 = at
    while t0 < day_end:
        t1 = min(t0 + PROBE, day_end)
        if gate.violations(acct.request(step, t1), acct.book):
            m = t0 + timedelta(minutes=1)
            while m < t1 and not gate.violations(acct.request(step, m), acct.book):
                m += timedelta(minutes=1)
            return min(m, t1)
        t0 = t1
    return day_end


def call_state(app: App, loan_id: str, at: datetime | None = None) -> CallState | None:
    """The gate's answer for an agent call to the borrower of ``loan_id`` at ``at`` (now);
    None when the loan is not in the store."""
    found = account_for(app, loan_id)
    if found is None:
        return None
    acct, step = found
    at = at or app.clock()
    req = acct.request(step, at)
    decision = gate.check(req, acct.book)
    limit = acct.book.frequency.connected_calls_per_person_per_day
    until = None
    if decision.allowed:
        local = at.astimezone(acct.tz)
        day_end = datetime.combine(local.date() + timedelta(days=1), time(0), acct.tz)
        until = _refused_from(acct, step, at, day_end)
    return CallState(
        at=at,
        timezone=acct.tz.key,
        allowed=decision.allowed,
        until=until,
        refusals=decision.violations,
        earliest=None if decision.allowed else decision.earliest_allowed_at,
        connected=connected_today(req, acct.book),
        limit=limit,
        rulebook=acct.book,
    )
