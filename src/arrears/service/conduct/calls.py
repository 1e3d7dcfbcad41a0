"""Click-to-call: a collector's call dialled through the lender's dialer, judged by the gate at
the moment of dialling, followed by the dialer's status events, and completed by the
collector's wrap-up.

* **Dialling** (:func:`dial`). The borrower's number is chosen here (their primary valid phone
  not opted out of calls) and goes to the dialer only; the collector is told its masked form.
  The gate judges the dial at that instant with the number (hours in every candidate timezone,
  the agreed window, dials per number, connected calls per day across lender and agencies,
  third-party rules, holds). A refusal says why and from when it would be allowed, and is in
  the evidence log like an allowed dial. Dials to one borrower are judged one at a time (a lock
  on the borrower's row), so two collectors dialling at once cannot both pass a limit.
* **Status events** (:func:`call_event`): the collector's leg, the borrower's leg (its result is
  the contact's result), the end with the call's length, and the recording
  (:mod:`.inspection`). Each event acts once, however often the dialer tells it.
* **Wrap-up** (:func:`wrap_up`): the collector's result and note (screened) complete the
  attempt and the plan item it worked; the note's SHA-256 goes into the evidence log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from arrears.bootstrap import App
from arrears.channels import telephony
from arrears.channels.base import SendFailed
from arrears.channels.profiles import ProfileError, agent_dialer, read
from arrears.compliance.facts import FAILED
from arrears.service.conduct import dispositions
from arrears.service.conduct.contacts import Judgement, check_inputs, judge, refusal
from arrears.service.conduct.dispositions import Wrap
from arrears.service.conduct.inspection import CallNews, recording
from arrears.service.errors import Conflict, Invalid, NotFound
from arrears.service.outreach.callbacks import UnknownReference, first_telling, told
from arrears.service.outreach.pending import after_commit
from arrears.service.outreach.verify import Contact, record_contact
from arrears.service.outreach.worklist import DONE
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.crypto import mask_phone
from arrears.store.db import as_utc

#: a call still in progress (a second dial of the same account waits for it)
LIVE = frozenset({"dialing", "agent_answered", "answered"})
#: how long a dial without news is taken as still ringing
RINGING_FOR = timedelta(minutes=5)


@dataclass(frozen=True)
class Dialled:
    attempt_id: str
    call_id: str
    number: str  # masked: what the collector may see
    judgement: Judgement


def _number(app: App, conn: Connection, borrower_id: str) -> str | None:
    """The borrower's number to call: their primary valid phone not opted out of calls."""
    cp = t.contact_point
    rows = conn.execute(
        select(cp.c.value_enc, cp.c.opt_outs)
        .where(
            cp.c.borrower_id == borrower_id,
            cp.c.kind == "phone",
            cp.c.owner_role == "borrower",
            cp.c.is_valid.is_(True),
        )
        .order_by(cp.c.is_primary.desc(), cp.c.contact_id)
    ).all()
    for r in rows:
        if "call" not in (r.opt_outs or "").split(","):
            return app.cipher.decrypt("contact_point.value", r.value_enc)
    return None


def masked_number(app: App, borrower_id: str) -> str:
    """The borrower's number to call, masked (what a collector may see)."""
    with app.engine.connect() as conn:
        number = _number(app, conn, borrower_id)
    return mask_phone(number) if number else ""


#: how early a call-back may be dialled before the time the borrower asked for
CALL_BACK_EARLY = timedelta(minutes=10)


def _planned(conn: Connection, action_id: str, loan_id: str, now: datetime) -> None:
    pa_ = t.plan_action
    row = conn.execute(
        select(pa_.c.loan_id, pa_.c.channel, pa_.c.status, pa_.c.step_id, pa_.c.window_start).where(
            pa_.c.action_id == action_id
        )
    ).first()
    if row is None or row.loan_id != loan_id:
        raise NotFound(f"action_id: {action_id} is not planned for {loan_id}", field="action_id")
    if row.channel != "agent_call":
        raise Invalid(f"action_id: a {row.channel} is not dialled", field="action_id")
    if row.status != "planned":
        raise Conflict(f"action_id: {action_id} is {row.status} already", field="action_id")
    due = as_utc(row.window_start)
    if row.step_id == "call_back" and now < due - CALL_BACK_EARLY:
        raise Conflict(
            f"action_id: the borrower asked to be called back at {due.isoformat()}; "
            "not before then",
            field="action_id",
        )


def _in_progress(app: App, conn: Connection, loan_id: str) -> str | None:
    ca = t.contact_attempt
    return conn.execute(
        select(ca.c.attempt_id).where(
            ca.c.loan_id == loan_id,
            ca.c.channel == "call",
            ca.c.dial_status.in_(sorted(LIVE)),
            ca.c.at >= app.clock() - RINGING_FOR,
        )
    ).scalar()


def _log_dial(
    conn: Connection, app: App, loan_id: str, payload: dict[str, Any], j: Judgement
) -> None:
    audit.append(
        conn,
        [
            audit.Entry(
                kind="agent_dial",
                subject=loan_id,
                rulebook=j.rulebook,
                payload={**payload, "gate": j.as_dict()},
                at=app.clock(),
            )
        ],
    )


@dataclass(frozen=True)
class _Dial:
    loan_id: str
    borrower: str
    collector_id: str
    agency: str | None
    action_id: str | None
    at: datetime


def _judge_and_record(
    app: App, conn: Connection, d: _Dial, provider: str
) -> tuple[str | None, Judgement, str]:
    """Under the borrower's lock: the number, the gate's answer for dialling it now, and (when
    allowed) the attempt recorded; (the attempt's id or None, the answer, the number)."""
    ca = t.contact_attempt
    loan_id, borrower, now = d.loan_id, d.borrower, d.at
    number = _number(app, conn, borrower)
    if not number:
        raise Conflict(
            "loan_id: the borrower has no phone number that may be called", field="loan_id"
        )
    dest = app.cipher.lookup_hash("phone", number)
    judged = judge(app, loan_id, "agent_call", now, destination=dest)
    assert judged is not None  # the loan is in the store
    payload: dict[str, Any] = {
        "action_id": d.action_id,
        "collector": d.collector_id,
        "agency": d.agency,
        "at": now.isoformat(),
        "destination_sha256": dest,
    }
    attempt_id = None
    if not judged.allowed:
        _log_dial(conn, app, loan_id, {**payload, "attempt_id": None}, judged)
    else:  # recorded under the same lock: the next dial's judgement counts this one
        attempt_id = record_contact(
            app,
            conn,
            Contact(
                borrower_id=borrower,
                loan_id=loan_id,
                channel="call",
                at=now,
                action_id=d.action_id,
                collector_id=d.collector_id,
                destination_hash=dest,
                provider=provider,
            ),
        )
        conn.execute(update(ca).where(ca.c.attempt_id == attempt_id).values(dial_status="dialing"))
        _log_dial(conn, app, loan_id, {**payload, "attempt_id": attempt_id}, judged)
    return attempt_id, judged, number


def dial(
    app: App,
    loan_id: str,
    *,
    collector_id: str,
    agency: str | None = None,
    action_id: str | None = None,
) -> Dialled:
    """Dial the borrower of ``loan_id`` for ``collector_id`` (their phone rings first). The
    caller has checked that the collector may work the account."""
    require_current(app)
    try:
        dialer = agent_dialer(read(app.settings.providers_file))
    except ProfileError as exc:
        raise Conflict(f"dialer: {exc}", field="dialer") from exc
    if dialer is not None:
        provider = dialer.name
        dialer.close()  # opened again to place the call, once the dial is judged and recorded
    else:
        raise Conflict(
            "dialer: no dialer is configured (the providers file's agent_dialer); call from "
            "your own phone and record the outcome",
            field="dialer",
        )
    now = app.clock()
    ca = t.contact_attempt
    with app.engine.begin() as conn:
        borrower = conn.execute(
            select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)
        ).scalar()
        if borrower is None:
            raise NotFound(f"loan_id: {loan_id} is not in the store", field="loan_id")
        # dials to one borrower are judged one at a time: this write takes the row's lock (the
        # database's on SQLite) until the dial is recorded
        b = t.borrower
        conn.execute(update(b).where(b.c.borrower_id == borrower).values(borrower_id=borrower))
        if action_id is not None:
            _planned(conn, action_id, loan_id, now)
        busy = _in_progress(app, conn, loan_id)
        if busy is not None:
            raise Conflict(
                f"loan_id: a call to this account is in progress ({busy})", field="loan_id"
            )
        attempt_id, judged, number = _judge_and_record(
            app, conn, _Dial(loan_id, borrower, collector_id, agency, action_id, now), provider
        )
    if attempt_id is None:  # the refusal is logged (committed above); nothing was dialled
        raise refusal("call", judged)
    dialer = agent_dialer(read(app.settings.providers_file))
    assert dialer is not None
    try:
        call_id = dialer.bridge(
            telephony.Bridge(attempt_id, collector_id, number, dialer.config.callback_url)
        )
    except SendFailed as exc:
        with app.engine.begin() as conn:
            conn.execute(
                update(ca)
                .where(ca.c.attempt_id == attempt_id)
                .values(dial_status="not_placed", destination_hash=None)
            )
        raise Conflict(f"dialer: the call was not placed: {exc.reason}", field="dialer") from exc
    finally:
        dialer.close()
    with app.engine.begin() as conn:
        conn.execute(update(ca).where(ca.c.attempt_id == attempt_id).values(provider_ref=call_id))
    return Dialled(attempt_id, call_id, mask_phone(number), judged)


def _attempt(conn: Connection, reference: str) -> Any:
    ca = t.contact_attempt
    row = conn.execute(
        select(ca).where(ca.c.attempt_id == reference, ca.c.channel == "call")
    ).first()
    if row is None:
        raise UnknownReference(f"reference: no call of ours is {reference!r}", field="reference")
    return row


def _status(ev: telephony.CallEvent, row: Any) -> dict[str, Any]:
    """What a status event changes on the attempt."""
    if ev.kind == "agent":
        if ev.status == "answered":
            return {"dial_status": "agent_answered"}
        if ev.status == "ringing":
            return {}
        # the collector did not pick up: the borrower was never dialled
        return {"dial_status": "agent_missed", "destination_hash": None}
    if ev.kind == "borrower":
        if ev.status == "ringing":
            return {}
        assert ev.status is not None
        return {"dial_status": ev.status, "result": telephony.LEG_RESULT[ev.status]}
    # completed
    return {"dial_status": "completed", "duration_seconds": ev.duration}


def call_event(app: App, event: dict[str, Any]) -> CallNews:
    """A dialer's status event about a click-to-call (a recording goes to
    :func:`arrears.service.conduct.inspection.recording`)."""
    try:
        ev = telephony.call_event(event)
    except ValueError as exc:
        raise Invalid(str(exc), field=getattr(exc, "field", None)) from exc
    if ev.kind == "recording":
        return recording(app, ev)
    key = "|".join((ev.reference, ev.kind, ev.status or ""))
    ca = t.contact_attempt
    with app.engine.begin() as conn:
        before = first_telling(conn, "agent_dialer", key, app.clock())
        if before is not None:
            row = _attempt(conn, ev.reference)
            return CallNews(ev.reference, row.dial_status, row.result)
        row = _attempt(conn, ev.reference)
        change = _status(ev, row)
        if row.dial_status == "completed":
            change.pop("dial_status", None)  # a late leg event does not reopen a call
        if change:
            conn.execute(update(ca).where(ca.c.attempt_id == ev.reference).values(**change))
        told(
            conn,
            "agent_dialer",
            key,
            {"attempt_id": ev.reference, **{k: str(v) for k, v in change.items()}},
        )
        after = _attempt(conn, ev.reference)
    return CallNews(ev.reference, after.dial_status, after.result)


def wrap_up(
    app: App,
    attempt_id: str,
    *,
    collector_id: str,
    result: str,
    note: str | None = None,
    wrap: Wrap | None = None,
) -> str:
    """The collector's result and note for a call they dialled: completes the attempt and the
    plan item it worked. Once only, and only by whoever dialled. ``wrap``: the disposition,
    the borrower's reason and a call-back (:mod:`.dispositions`)."""
    require_current(app)
    check_inputs(result, note, collector_id, None)
    wrap = wrap or Wrap()
    ca, pa_ = t.contact_attempt, t.plan_action
    now = app.clock()
    with app.engine.connect() as conn:
        first = _attempt(conn, attempt_id)
    if first.collector_id != collector_id:
        raise NotFound(f"attempt_id: {attempt_id} is not a call of yours", field="attempt_id")
    dispositions.check(app, first.loan_id, result, wrap, worklist=first.action_id is not None)
    with app.engine.begin() as conn:
        row = _attempt(conn, attempt_id)
        if row.dial_status is None:
            raise Invalid(f"attempt_id: {attempt_id} was not dialled from here", field="attempt_id")
        said = row.result
        if said in FAILED and result not in FAILED:
            raise Conflict(
                f"result: the dialer reported the call as {said}; it cannot be {result}",
                field="result",
            )
        moved = conn.execute(
            update(ca)
            .where(ca.c.attempt_id == attempt_id, ca.c.wrapped_at.is_(None))
            .values(
                result=result,
                content=app.cipher.seal_text("contact_attempt.content", note),
                wrapped_at=now,
            )
        ).rowcount
        if moved != 1:
            raise Conflict(f"attempt_id: {attempt_id} is wrapped up already", field="attempt_id")
        if row.action_id:
            conn.execute(
                update(pa_)
                .where(pa_.c.action_id == row.action_id, pa_.c.status == "planned")
                .values(status=DONE)
            )
        audit.append(
            conn,
            [
                audit.Entry(
                    kind="agent_contact",
                    subject=row.loan_id or row.borrower_id,
                    rulebook="",
                    payload={
                        "attempt_id": attempt_id,
                        "action_id": row.action_id,
                        "channel": "call",
                        "collectors": [collector_id],
                        "dialled": True,
                        "dialer_result": said,
                        "result": result,
                        "duration_seconds": row.duration_seconds,
                        "at": row.at.isoformat(),
                        "recorded_at": now.isoformat(),
                        "note_sha256": hashlib.sha256(note.encode()).hexdigest() if note else None,
                    },
                    at=now,
                )
            ],
        )
        events = dispositions.apply(
            app, conn, attempt_id, wrap, by=collector_id, action_id=row.action_id
        )
    for event in events:
        after_commit(app, event)
    return attempt_id


def open_call(app: App, action_id: str, collector_id: str) -> str | None:
    """The call ``collector_id`` dialled for ``action_id`` and has not wrapped up, if any."""
    ca = t.contact_attempt
    with app.engine.connect() as conn:
        return conn.execute(
            select(ca.c.attempt_id)
            .where(
                ca.c.action_id == action_id,
                ca.c.collector_id == collector_id,
                ca.c.dial_status.is_not(None),
                ca.c.dial_status != "not_placed",
                ca.c.wrapped_at.is_(None),
            )
            .order_by(ca.c.at.desc())
        ).scalar()


def dialer_webhook(app: App, event: dict[str, Any]) -> dict[str, Any]:
    """One event of the dialer's webhook: a click-to-call's progress or recording, or a
    robocall's status and keypad outcome (``outreach.callbacks.dialer_event``)."""
    from arrears.service.outreach.callbacks import dialer_event

    ref = event.get("reference")
    ca = t.contact_attempt
    clicked = False
    if isinstance(ref, str) and ref:
        with app.engine.connect() as conn:
            clicked = (
                conn.execute(
                    select(ca.c.attempt_id).where(
                        ca.c.attempt_id == ref, ca.c.dial_status.is_not(None)
                    )
                ).first()
                is not None
            )
    if clicked or event.get("event") == "recording" or "leg" in event:
        news = call_event(app, event)
        return {
            "attempt_id": news.attempt_id,
            "dial_status": news.dial_status,
            "result": news.result,
        }
    r = dialer_event(app, event)
    return {"result": r.result, "choice": r.choice, "effect": r.effect}
