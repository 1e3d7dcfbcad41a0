"""What providers report after a message went out, recorded on the message and its contact:
an SMS gateway's delivery receipt, an email bounce or complaint, and a dialer's status and
keypad events.

Each provider event acts once (:func:`first_telling`): the dialer's call and status, an SMS's
id and status, an email's id and event. The event is claimed in the same transaction as its
effect, so a callback told again, or several times at once, is acknowledged with what its
first telling did and changes nothing.

A robocall's keypad outcome acts at once: **1** (I will pay today) records a promise to pay the
amount due today, which the strategy's suppressions honour; **2** (call me back) puts an agent
call for the account in today's ``call_back`` worklist; **3** (I dispute this) starts a dispute
hold on the debt, which stops collection on it until it is resolved.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from arrears.bootstrap import App
from arrears.channels import voice
from arrears.ids import normal
from arrears.service.books.statements import statement_for_loan
from arrears.service.errors import Invalid, NotFound
from arrears.service.outreach.worklist import add_call_back
from arrears.store import tables as t

#: what an SMS gateway's receipt statuses mean (case does not matter)
DELIVERED = frozenset({"delivered", "delivrd", "success", "0"})
UNDELIVERED = frozenset({"undelivered", "undeliv", "failed", "rejected", "expired", "rejectd"})
EMAIL_EVENTS = {"delivered": "delivered", "bounced": "bounced", "complained": "complained"}


class UnknownReference(NotFound):
    """The provider names a message we did not send (or not through it)."""


def _message(conn: Any, **where: str) -> Any:
    ob = t.outbox_message
    cond = [getattr(ob.c, k) == v for k, v in where.items()]
    return conn.execute(select(ob).where(*cond)).first()


def _mark(conn: Any, row: Any, delivery: str, detail: str | None, at: Any) -> None:
    ob, ca = t.outbox_message, t.contact_attempt
    conn.execute(
        update(ob)
        .where(ob.c.action_id == row.action_id)
        .values(delivery=delivery, delivery_at=at, detail=detail)
    )
    conn.execute(update(ca).where(ca.c.attempt_id == row.attempt_id).values(result=delivery))


def first_telling(conn: Any, provider: str, key: str, at: Any) -> str | None:
    """Claim the event ``key`` of ``provider`` for this transaction: None the first time (the
    caller then acts and :func:`told` what it did), else what the first telling did. The claim
    is the transaction's first write, so a concurrent telling waits for it and then sees it."""
    pe = t.provider_event
    row = {"provider": provider, "event_key": key[:200], "received_at": at, "outcome": "{}"}
    if conn.dialect.name == "postgresql":
        stmt: Any = postgresql.insert(pe).values(**row).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(pe).values(**row).on_conflict_do_nothing()
    if conn.execute(stmt.returning(pe.c.event_key)).first() is not None:
        return None  # claimed: the first telling
    return str(
        conn.execute(
            select(pe.c.outcome).where(pe.c.provider == provider, pe.c.event_key == key[:200])
        ).scalar_one()
    )


def told(conn: Any, provider: str, key: str, outcome: dict[str, Any]) -> None:
    pe = t.provider_event
    conn.execute(
        update(pe)
        .where(pe.c.provider == provider, pe.c.event_key == key[:200])
        .values(outcome=json.dumps(outcome, sort_keys=True))
    )


def sms_receipt(app: App, provider_ref: str, status: str, detail: str | None = None) -> str:
    """A delivery receipt: the message ``provider_ref`` was delivered or not."""
    said = status.strip().lower()
    if said in DELIVERED:
        delivery = "delivered"
    elif said in UNDELIVERED:
        delivery = "undelivered"
    else:
        raise Invalid(
            f"status: {status!r} is neither a delivery nor a failure we know", field="status"
        )
    key = f"{provider_ref}|{said}"
    with app.engine.begin() as conn:
        if first_telling(conn, "sms", key, app.clock()) is not None:
            return delivery  # told before: acknowledged, nothing changes
        row = _message(conn, provider_ref=provider_ref, channel="sms")
        if row is None:
            raise UnknownReference(
                f"id: no SMS of ours has the reference {provider_ref!r}", field="id"
            )
        _mark(conn, row, delivery, detail, app.clock())
        told(conn, "sms", key, {"delivery": delivery})
    return delivery


def email_event(app: App, message_id: str, event: str, detail: str | None = None) -> str:
    """An email's later fate: delivered, bounced (the address is then marked invalid), or
    complained (the borrower marked it as spam: an opt-out of email)."""
    if event not in EMAIL_EVENTS:
        raise Invalid(
            f"event: expected one of {', '.join(EMAIL_EVENTS)}, got {event!r}", field="event"
        )
    key = f"{message_id}|{event}"
    with app.engine.begin() as conn:
        if first_telling(conn, "email", key, app.clock()) is not None:
            return EMAIL_EVENTS[event]  # told before: acknowledged, nothing changes
        row = _message(conn, provider_ref=message_id, channel="email")
        if row is None:
            raise UnknownReference(
                f"message_id: no email of ours has the id {message_id!r}", field="message_id"
            )
        _mark(conn, row, EMAIL_EVENTS[event], detail, app.clock())
        if event in ("bounced", "complained"):
            _email_point(app, conn, row, event)
        told(conn, "email", key, {"delivery": EMAIL_EVENTS[event]})
    return EMAIL_EVENTS[event]


def _email_point(app: App, conn: Any, row: Any, event: str) -> None:
    cp = t.contact_point
    to = app.cipher.decrypt("outbox.destination", row.destination_enc)
    digests = app.cipher.lookup_hashes("email", to) if to else []
    if not digests:
        return
    borrower = conn.execute(
        select(t.loan.c.borrower_id).where(t.loan.c.loan_id == row.loan_id)
    ).scalar_one()
    points = conn.execute(
        select(cp.c.contact_id, cp.c.opt_outs).where(
            cp.c.borrower_id == borrower, cp.c.kind == "email", cp.c.value_hash.in_(digests)
        )
    ).all()
    for p in points:
        if event == "bounced":
            conn.execute(update(cp).where(cp.c.contact_id == p.contact_id).values(is_valid=False))
        else:
            outs = sorted({*(p.opt_outs or "").split(","), "email"} - {""})
            conn.execute(
                update(cp).where(cp.c.contact_id == p.contact_id).values(opt_outs=",".join(outs))
            )


@dataclass(frozen=True)
class CallResult:
    action_id: str
    result: str
    choice: str | None
    effect: str | None  # what the choice did: promise_id, hold_id or the call-back action


def dialer_event(app: App, event: dict[str, Any]) -> CallResult:
    """A dialer's status callback (and keypad outcome) for a robocall."""
    try:
        outcome = voice.outcome(event)
    except ValueError as exc:
        raise Invalid(str(exc), field=getattr(exc, "field", None)) from exc
    now = app.clock()
    key = "|".join(
        (
            outcome.call_id or outcome.reference,
            str(event.get("status")),
            str(event.get("digits") or ""),
        )
    )
    with app.engine.begin() as conn:
        before = first_telling(conn, "dialer", key, now)
        if before is not None:  # told before: what it did then, and nothing more
            return CallResult(**json.loads(before))
        row = _message(conn, action_id=normal(outcome.reference), channel="robocall")
        if row is None:
            raise UnknownReference(
                f"reference: no robocall of ours is {outcome.reference!r}", field="reference"
            )
        _mark(conn, row, outcome.result, outcome.call_id, now)
        effect = None
        if outcome.choice is not None:
            effect = _act(app, conn, row, outcome.choice)
        result = CallResult(outcome.reference, outcome.result, outcome.choice, effect)
        told(conn, "dialer", key, asdict(result))
    return result


def _act(app: App, conn: Any, row: Any, choice: str) -> str:
    now = app.clock()
    today = app.today()
    pa_ = t.plan_action
    action = conn.execute(select(pa_).where(pa_.c.action_id == row.action_id)).first()
    borrower = conn.execute(
        select(t.loan.c.borrower_id).where(t.loan.c.loan_id == row.loan_id)
    ).scalar_one()
    if choice == "promise_today":
        owed = int(statement_for_loan(app, row.loan_id, today)["total_due"])
        promise_id = f"pr-{uuid.uuid4().hex[:16]}"
        conn.execute(
            insert(t.promise).values(
                promise_id=promise_id,
                loan_id=row.loan_id,
                amount=owed,
                due_on=today,
                made_at=now,
                status="pending",
            )
        )
        return promise_id
    if choice == "dispute":
        hold_id = f"hd-{uuid.uuid4().hex[:16]}"
        conn.execute(
            insert(t.hold).values(
                hold_id=hold_id,
                borrower_id=borrower,
                loan_id=row.loan_id,
                kind="dispute",
                starts_at=now,
                ends_at=None,
            )
        )
        return hold_id
    # call_back: an agent call in today's call-back worklist, first in line
    if action is None:  # the call's plan action is gone (a re-planned day): nothing to call back
        raise UnknownReference(
            f"reference: no planned action {row.action_id!r} to call back", field="reference"
        )
    return add_call_back(conn, action, now)
