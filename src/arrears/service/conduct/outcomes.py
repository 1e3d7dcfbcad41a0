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
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, select, update

from arrears.bootstrap import App
from arrears.compliance.conduct.screen import check as screen
from arrears.compliance.facts import RESULTS
from arrears.service.conduct.contacts import Judgement, judge, raise_alert
from arrears.service.errors import Conflict, Invalid, NotFound
from arrears.service.outreach.verify import Contact, record_contact
from arrears.service.outreach.worklist import DONE, WORKED
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t


def _refusal(channel: str, j: Judgement) -> Conflict:
    local = j.at.astimezone(_zone(j.timezone)).strftime("%Y-%m-%d %H:%M")
    when = (
        f"allowed from {j.earliest.astimezone(_zone(j.timezone)).strftime('%Y-%m-%d %H:%M')}"
        if j.earliest
        else "no time alone makes it allowed"
    )
    return Conflict(
        f"at: a {channel} at {local} ({j.timezone}) is not allowed: {j.reasons()}; {when}; "
        "nothing was recorded",
        field="at",
    )


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _check_inputs(
    result: str, note: str | None, collector_id: str, companion_id: str | None
) -> None:
    """The result a code of the list, the note past the screen, the companion another person."""
    if result not in RESULTS:
        raise Invalid(
            f"result: expected one of {', '.join(RESULTS)}, got {result!r}", field="result"
        )
    if note:
        screened = screen(note)
        if screened.flagged:
            raise Invalid(
                f"note: prohibited language: {screened.summary('en')}; nothing was recorded",
                field="note",
            )
    if companion_id is not None and companion_id == collector_id:
        raise Invalid(
            "companion_id: the second collector must be another person", field="companion_id"
        )


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


def record_outcome(
    app: App,
    action_id: str,
    *,
    collector_id: str,
    result: str,
    note: str | None = None,
    at: datetime | None = None,
    companion_id: str | None = None,
) -> str:
    """Record the outcome of one worklist item; returns the contact attempt's id.
    ``companion_id``: a visit's second collector (visits need two)."""
    require_current(app)
    _check_inputs(result, note, collector_id, companion_id)
    row = _action(app, action_id)
    pa_ = t.plan_action
    when = at or app.clock()
    judged = judge(app, row.loan_id, row.channel, when, collectors=2 if companion_id else 1)
    breach = judged is not None and not judged.allowed
    if judged is not None and breach and judged.policy == "refuse":
        raise _refusal(WORKED[row.channel], judged)
    with app.engine.begin() as conn:
        moved = conn.execute(
            update(pa_)
            .where(and_(pa_.c.action_id == action_id, pa_.c.status == "planned"))
            .values(status=DONE)
        ).rowcount
        if moved != 1:  # another collector recorded it first
            raise Conflict(f"action {action_id!r}: already worked", field="action_id")
        attempt_id = record_contact(
            app,
            conn,
            Contact(
                borrower_id=row.borrower_id,
                loan_id=row.loan_id,
                channel=WORKED[row.channel],
                at=when,
                action_id=action_id,
                collector_id=collector_id,
                content=note,
                result=result,
                companion_id=companion_id,
                breach=breach or None,
            ),
        )
        gate_answer = judged.as_dict() if judged else None
        audit.append(
            conn,
            [
                audit.Entry(
                    kind="agent_contact",
                    subject=row.loan_id,
                    rulebook=judged.rulebook if judged else "",
                    payload={
                        "attempt_id": attempt_id,
                        "action_id": action_id,
                        "channel": WORKED[row.channel],
                        "collectors": [c for c in (collector_id, companion_id) if c],
                        "result": result,
                        "at": when.isoformat(),
                        "recorded_at": app.clock().isoformat(),
                        "note_sha256": hashlib.sha256(note.encode()).hexdigest() if note else None,
                        "gate": gate_answer,
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
                detail=f"a {WORKED[row.channel]} recorded outside the rules: {judged.reasons()}",
                detail_zh=f"在规则不允许的情况下记录了{_ZH.get(WORKED[row.channel], '联系')}："
                + judged.reasons("zh"),
                loan_id=row.loan_id,
                borrower_id=row.borrower_id,
                attempt_id=attempt_id,
                collector_id=collector_id,
            )
    return attempt_id


_ZH = {"call": "电话", "visit": "上门拜访"}
