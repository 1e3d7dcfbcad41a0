"""What a worked call or visit came to, and what follows from it, written with the outcome.

A wrap-up may say (:class:`Wrap`):
* the **disposition** (:data:`arrears.domain.dispositions.DISPOSITIONS`): only when someone
  answered. A dispute, a death or a bankruptcy starts a hold at once (collection stops until
  someone reviews it); a wrong party marks the number dialled as not the borrower's;
* the borrower's **reason** for falling behind (:data:`REASONS`): only from the borrower (a
  right-party disposition). The latest one is the account's ``delinquency_reason`` attribute;
* a **call-back** at a chosen instant: an agent call in the worked item's queue, due then, on
  that business date. The gate judges it now (a time the rules never allow is refused with
  when it would be) and again when it is dialled, like any call.

Every check runs before anything is written; the effects are written in the outcome's own
transaction, so an outcome never lands without them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update

from arrears import ids
from arrears.bootstrap import App
from arrears.compliance.facts import CONNECTED
from arrears.domain.dispositions import DISPOSITIONS, HOLDS, REASONS, RIGHT_PARTY
from arrears.service.cases.hold_records import insert_hold
from arrears.service.errors import Conflict, Invalid
from arrears.service.outreach.pending import Event, HoldStarted
from arrears.service.outreach.worklist import call_back_row
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc

#: how far ahead a call-back may be set, and how long it stays due once its time comes
CALL_BACK_AHEAD = timedelta(days=14)
CALL_BACK_DUE_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Wrap:
    """What the collector said the contact came to, beyond the dial result."""

    disposition: str | None = None
    reason: str | None = None
    call_back_at: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.disposition is None and self.reason is None and self.call_back_at is None


def check(app: App, loan_id: str, result: str, wrap: Wrap, *, worklist: bool = True) -> None:
    """Refuse a wrap-up that does not hold together, before anything is written."""
    d, why, back = wrap.disposition, wrap.reason, wrap.call_back_at
    if d is not None and d not in DISPOSITIONS:
        raise Invalid(
            f"disposition: expected one of {', '.join(DISPOSITIONS)}, got {d!r}",
            field="disposition",
        )
    if why is not None and why not in REASONS:
        raise Invalid(f"reason: expected one of {', '.join(REASONS)}, got {why!r}", field="reason")
    if d is not None and result not in CONNECTED:
        raise Invalid(
            f"disposition: the contact's result is {result}: nobody answered, so it cannot be {d}",
            field="disposition",
        )
    if why is not None and d not in RIGHT_PARTY:
        raise Invalid(
            "reason: only the borrower gives a reason for falling behind: record a right-party "
            f"disposition ({', '.join(sorted(RIGHT_PARTY))}) with it",
            field="reason",
        )
    if back is not None:
        _check_call_back(app, loan_id, back, worklist)


def _check_call_back(app: App, loan_id: str, at: datetime, worklist: bool) -> None:
    from arrears.service.conduct.contacts import judge, refusal

    if not worklist:
        raise Invalid(
            "call_back_at: only an item of a worklist can be called back from it",
            field="call_back_at",
        )
    if at.tzinfo is None:
        raise Invalid(
            "call_back_at: give the time with its offset (e.g. 2026-12-04T15:00+08:00)",
            field="call_back_at",
        )
    now = app.clock()
    if at <= now or at > now + CALL_BACK_AHEAD:
        raise Invalid(
            f"call_back_at: {at.isoformat()} must lie after now and within "
            f"{CALL_BACK_AHEAD.days} days",
            field="call_back_at",
        )
    judged = judge(app, loan_id, "agent_call", at)
    if judged is not None and not judged.allowed:
        hours = [v for v in judged.refusals if ".hours." in v.rule]
        if hours:  # caps and holds are judged when it is dialled; hours never change
            raise refusal("call", judged)


def apply(
    app: App,
    conn: Connection,
    attempt_id: str,
    wrap: Wrap,
    *,
    by: str,
    action_id: str | None = None,
) -> list[Event]:
    """Write ``wrap``'s effects for the contact ``attempt_id`` in the caller's transaction; the
    events to report once it commits."""
    if wrap.empty:
        return []
    ca = t.contact_attempt
    row = conn.execute(
        select(ca.c.borrower_id, ca.c.loan_id, ca.c.destination_hash).where(
            ca.c.attempt_id == attempt_id
        )
    ).one()
    now = app.clock()
    conn.execute(
        update(ca)
        .where(ca.c.attempt_id == attempt_id)
        .values(disposition=wrap.disposition, reason=wrap.reason)
    )
    events: list[Event] = []
    done: dict[str, Any] = {"attempt_id": attempt_id, "disposition": wrap.disposition}
    done["reason"] = wrap.reason
    kind = HOLDS.get(wrap.disposition or "")
    if kind is not None:
        hold = insert_hold(
            conn,
            kind,
            row.borrower_id,
            row.loan_id,
            now,
            reason=f"{wrap.disposition} on contact {attempt_id}",
            by=by,
        )
        events.append(HoldStarted(hold, row.borrower_id))
        done["hold_id"] = hold
    if wrap.disposition == "wrong_party" and row.destination_hash:
        cp = t.contact_point
        done["numbers_marked_wrong"] = conn.execute(
            update(cp)
            .where(
                cp.c.borrower_id == row.borrower_id,
                cp.c.owner_role == "borrower",
                cp.c.kind == "phone",
                cp.c.value_hash == row.destination_hash,
            )
            .values(is_valid=False)
        ).rowcount
    if wrap.call_back_at is not None and action_id is not None:
        done["call_back"] = add_timed_call_back(app, conn, action_id, wrap.call_back_at)
    audit.record(conn, "disposition", row.loan_id or row.borrower_id, now, done)
    return events


def add_timed_call_back(app: App, conn: Connection, action_id: str, at: datetime) -> str:
    """An agent call for ``action_id``'s account at ``at``, in the same queue, on the business
    date of ``at``; its action id (one per action and minute)."""
    pa_ = t.plan_action
    action = conn.execute(select(pa_).where(pa_.c.action_id == action_id)).one()
    start = as_utc(at)
    item = f"{ids.call_back(action_id)}.{start:%Y%m%dT%H%M}"
    if conn.execute(select(pa_.c.action_id).where(pa_.c.action_id == item)).first():
        raise Conflict(
            f"call_back_at: a call-back at {at.isoformat()} is set already", field="call_back_at"
        )
    values = call_back_row(
        action,
        item,
        business_date=start.astimezone(ZoneInfo(app.settings.business_timezone)).date(),
        window_start=start,
        window_end=start + CALL_BACK_DUE_FOR,
    )
    conn.execute(insert(pa_).values(**values))
    return item
