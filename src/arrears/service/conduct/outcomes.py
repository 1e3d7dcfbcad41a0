"""The outcome of a worked agent call or visit: a contact attempt (the result, the collectors,
the note as evidence) that ends the item (it leaves the queue; a re-run of the day's cycle
keeps it).

Before anything is written:
* the note is screened (:mod:`arrears.compliance.conduct.screen`); prohibited language is
  refused with its category, words and reason;
* the contact is judged by the gate at the instant it was made (hours in every candidate
  timezone, agreed window, caps, holds, consent; two collectors for a visit). Outside what the
  rules allow it is refused with the reasons and when it becomes allowed, or, where the
  lender's policy says ``record_as_breach``, recorded as a fact marked a breach, with a conduct
  alert for compliance.

Every outcome, breach or not, goes into the hash-chained evidence log with the gate's answer
and the SHA-256 of the note."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, select, update

from arrears.bootstrap import App
from arrears.service.conduct import dispositions
from arrears.service.conduct.contacts import Judgement, check_inputs, judge, raise_alert, refusal
from arrears.service.conduct.dispositions import Wrap
from arrears.service.errors import Conflict, Invalid, NotFound
from arrears.service.outreach.pending import after_commit
from arrears.service.outreach.verify import Contact, record_contact
from arrears.service.outreach.worklist import DONE, WORKED
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t


def _action(app: App, action_id: str) -> Row[Any, Any, Any, Any]:
    """The plan action, planned and worked from a list."""
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        row = conn.execute(
            select(pa_.c.loan_id, pa_.c.borrower_id, pa_.c.channel, pa_.c.status).where(
                pa_.c.action_id == action_id
            )
        ).first()
    if row is None:
        raise NotFound(f"action {action_id!r}: not in the plan", field="action_id")
    if row.channel not in WORKED:
        raise Invalid(
            f"action {action_id!r}: a {row.channel} is not worked from a list", field="action_id"
        )
    if row.status != "planned":
        raise Conflict(f"action {action_id!r}: already {row.status}", field="action_id")
    return row


NO_WRAP = Wrap()


@dataclass(frozen=True)
class _Made:
    """A person's contact about to be written: whose, what, when, by whom."""

    loan_id: str
    borrower_id: str
    plan_channel: str  # agent_call | visit
    at: datetime
    collector_id: str
    result: str
    note: str | None
    companion_id: str | None = None
    action_id: str | None = None
    agency: str | None = None


def _judged(app: App, made: _Made) -> tuple[Judgement | None, bool]:
    """The gate's answer for the contact, and whether it is a breach; refused (nothing
    written) when outside the rules and the lender's policy says refuse."""
    collectors = 2 if made.companion_id else 1
    judged = judge(app, made.loan_id, made.plan_channel, made.at, collectors=collectors)
    breach = judged is not None and not judged.allowed
    if judged is not None and breach and judged.policy == "refuse":
        raise refusal(WORKED[made.plan_channel], judged)
    return judged, breach


def _write(app: App, conn: Connection, made: _Made, judged: Judgement | None, breach: bool) -> str:
    """The contact attempt, its evidence entry and (for a breach) the conduct alert, in the
    caller's transaction; the attempt's id."""
    channel = WORKED[made.plan_channel]
    attempt_id = record_contact(
        app,
        conn,
        Contact(
            borrower_id=made.borrower_id,
            loan_id=made.loan_id,
            channel=channel,
            at=made.at,
            action_id=made.action_id,
            collector_id=made.collector_id,
            content=made.note,
            result=made.result,
            companion_id=made.companion_id,
            breach=breach or None,
        ),
    )
    note = made.note
    audit.append(
        conn,
        [
            audit.Entry(
                kind="agent_contact",
                subject=made.loan_id,
                rulebook=judged.rulebook if judged else "",
                payload={
                    "attempt_id": attempt_id,
                    "action_id": made.action_id,
                    "channel": channel,
                    "collectors": [c for c in (made.collector_id, made.companion_id) if c],
                    "agency": made.agency,
                    "result": made.result,
                    "at": made.at.isoformat(),
                    "recorded_at": app.clock().isoformat(),
                    "note_sha256": hashlib.sha256(note.encode()).hexdigest() if note else None,
                    "gate": judged.as_dict() if judged else None,
                    "breach": breach,
                },
                at=app.clock(),
            )
        ],
    )
    if breach and judged is not None:
        raise_alert(
            conn,
            kind="out_of_policy_contact",
            at=app.clock(),
            rules=[{"rule": v.rule} for v in judged.refusals],
            detail=f"a {channel} recorded outside the rules: {judged.reasons()}",
            detail_zh=f"在规则不允许的情况下记录了{_ZH.get(channel, '联系')}："
            + judged.reasons("zh"),
            loan_id=made.loan_id,
            borrower_id=made.borrower_id,
            attempt_id=attempt_id,
            collector_id=made.collector_id,
            agency=made.agency,
        )
    return attempt_id


def record_outcome(
    app: App,
    action_id: str,
    *,
    collector_id: str,
    result: str,
    note: str | None = None,
    at: datetime | None = None,
    companion_id: str | None = None,
    wrap: Wrap = NO_WRAP,
) -> str:
    """Record the outcome of one worklist item; returns the contact attempt's id.
    ``companion_id``: a visit's second collector (visits need two); ``wrap``: the
    disposition, the borrower's reason and a call-back (:mod:`.dispositions`)."""
    require_current(app)
    from arrears.service.conduct.calls import open_call, wrap_up

    dialled = open_call(app, action_id, collector_id)
    if dialled is not None:  # dialled from here: judged when dialled; the wrap-up completes it
        return wrap_up(app, dialled, collector_id=collector_id, result=result, note=note, wrap=wrap)
    check_inputs(result, note, collector_id, companion_id)
    row = _action(app, action_id)
    dispositions.check(app, row.loan_id, result, wrap)
    pa_ = t.plan_action
    made = _Made(
        row.loan_id,
        row.borrower_id,
        row.channel,
        at or app.clock(),
        collector_id,
        result,
        note,
        companion_id,
        action_id,
    )
    judged, breach = _judged(app, made)
    with app.engine.begin() as conn:
        moved = conn.execute(
            update(pa_)
            .where(and_(pa_.c.action_id == action_id, pa_.c.status == "planned"))
            .values(status=DONE)
        ).rowcount
        if moved != 1:  # another collector recorded it first
            raise Conflict(f"action {action_id!r}: already worked", field="action_id")
        attempt_id = _write(app, conn, made, judged, breach)
        events = dispositions.apply(
            app, conn, attempt_id, wrap, by=collector_id, action_id=action_id
        )
    for event in events:
        after_commit(app, event)
    return attempt_id


def record_agency_contact(
    app: App,
    loan_id: str,
    *,
    agency: str,
    collector_id: str,
    channel: str,
    result: str,
    note: str | None = None,
    at: datetime | None = None,
    companion_id: str | None = None,
    wrap: Wrap = NO_WRAP,
) -> str:
    """A call or visit an agency made on an account placed with it: the same screen, the same
    gate and the same daily limits as the lender's own (its contacts count against them too);
    returns the contact attempt's id."""
    require_current(app)
    if channel not in WORKED:
        raise Invalid(f"channel: expected one of {', '.join(WORKED)}", field="channel")
    check_inputs(result, note, collector_id, companion_id)
    dispositions.check(app, loan_id, result, wrap, worklist=False)
    pl = t.placement
    with app.engine.connect() as conn:
        placed = conn.execute(
            select(pl.c.borrower_id).where(
                pl.c.loan_id == loan_id, pl.c.agency == agency, pl.c.status == "placed"
            )
        ).first()
    if placed is None:  # no hint whether the loan exists
        raise NotFound(f"loan_id: {loan_id} is not placed with {agency}", field="loan_id")
    made = _Made(
        loan_id,
        placed.borrower_id,
        channel,
        at or app.clock(),
        collector_id,
        result,
        note,
        companion_id,
        agency=agency,
    )
    judged, breach = _judged(app, made)
    with app.engine.begin() as conn:
        attempt_id = _write(app, conn, made, judged, breach)
        events = dispositions.apply(app, conn, attempt_id, wrap, by=collector_id)
    for event in events:
        after_commit(app, event)
    return attempt_id


_ZH = {"call": "电话", "visit": "上门拜访"}
