"""Prepare a batch, in one transaction per batch: each message rendered with a fresh verification
code, and the contact attempt, the code and the message (``outbox_message``, its texts sealed)
written, the action ``sending``. A lease lost in the meantime fences the write."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from arrears.bootstrap import App
from arrears.channels import codes, templating
from arrears.channels.base import Message, Receipt, SendFailed
from arrears.channels.templating import Template
from arrears.service.errors import ServiceError

#: the contact point each channel sends to (push goes to the borrower's app account)
from arrears.service.outreach.lease import end_message, release_lease
from arrears.service.outreach.pending import Verdict
from arrears.service.outreach.state import (
    ATTACH_STATEMENT,
    BODY,
    HTML,
    PARKED,
    POINT,
    SENDING,
    Report,
)
from arrears.service.outreach.templates import context_from, current, loan_facts
from arrears.service.outreach.verify import Contact, contact_rows
from arrears.store import tables as t
from arrears.store.db import as_utc


@dataclass
class Outgoing:
    action_id: str
    attempt_id: str
    loan_id: str
    business_date: date
    channel: str
    message: Message
    attach: str | None
    tries: int
    window_end: datetime
    receipt: Receipt | None = None
    failure: SendFailed | None = None


def destinations_of(app: App, conn: Connection, borrowers: set[str]) -> dict[tuple[str, str], str]:
    """(borrower, point kind) -> the address in clear: the primary valid point first; points
    opted out of the medium are left to the gate (an opt-out is an event it refuses on)."""
    cp = t.contact_point
    rows = conn.execute(
        select(cp.c.borrower_id, cp.c.kind, cp.c.value_enc)
        .where(
            cp.c.borrower_id.in_(sorted(borrowers)),
            cp.c.owner_role == "borrower",
            cp.c.is_valid.is_(True),
        )
        .order_by(cp.c.borrower_id, cp.c.kind, cp.c.is_primary.desc(), cp.c.contact_id)
    ).all()
    out: dict[tuple[str, str], str] = {}
    for r in rows:
        key = (r.borrower_id, r.kind)
        if key not in out:
            value = app.cipher.decrypt("contact_point.value", r.value_enc)
            if value:
                out[key] = value
    return out


class Templates:
    def __init__(self, app: App) -> None:
        self.app = app
        self.cache: dict[tuple[str, str], Template] = {}

    def get(self, name: str, locale: str) -> Template:
        key = (name, locale)
        if key not in self.cache:
            self.cache[key] = current(self.app, name, locale)
        return self.cache[key]


def render_all(
    app: App,
    todo: Sequence[Any],
    judge_statements: dict[str, dict[str, Any]],
    templates: Templates,
) -> tuple[list[tuple[Any, Template, templating.Rendered, str, str]], list[tuple[Any, str]]]:
    """Each action's message rendered with a new code, or the reason it cannot be."""
    prepared: list[tuple[Any, Template, templating.Rendered, str, str]] = []
    parked: list[tuple[Any, str]] = []
    with app.engine.connect() as conn:
        facts = loan_facts(conn, sorted({a.loan_id for a in todo}))
        dest = destinations_of(app, conn, {a.borrower_id for a in todo})
    for a in todo:
        kind = POINT.get(a.channel)
        to = a.borrower_id if kind is None else dest.get((a.borrower_id, kind))
        if to is None:
            parked.append((a, f"no valid {kind} for the borrower"))
            continue
        if a.template is None:
            parked.append((a, "the plan action names no template"))
            continue
        try:
            tpl = templates.get(a.template, a.locale)
            code = codes.new_code()
            ctx = context_from(
                app,
                judge_statements[a.loan_id],
                facts[a.loan_id],
                locale=tpl.locale,
                code=codes.shown(code),
            )
            rendered = templating.render(tpl, ctx)
        except (ServiceError, templating.TemplateError, KeyError) as exc:
            parked.append((a, f"cannot render {a.template}: {exc}"))
            continue
        prepared.append((a, tpl, rendered, code, to))
    return prepared, parked


def prepare_batch(
    app: App,
    rows: Sequence[Any],
    verdicts: dict[str, Verdict],
    judge_statements: dict[str, dict[str, Any]],
    now: datetime,
    worker: str,
    report: Report,
    templates: Templates,
) -> list[Outgoing]:
    """Render and write the messages of the actions to send, in one transaction."""
    todo = [a for a in rows if verdicts[a.action_id].outcome == "send"]
    if not todo:
        return []
    prepared, parked = render_all(app, todo, judge_statements, templates)
    out: list[Outgoing] = []
    with app.engine.begin() as conn:
        for a, reason in parked:
            if release_lease(conn, a.action_id, worker, status=PARKED, last_error=reason):
                report.parked += 1
                report.by_rule[f"parked: {reason.split(':')[0]}"] += 1
            else:
                report.fenced += 1
        ids = [a.action_id for a, *_ in prepared]
        pa_ = t.plan_action
        took = set(
            conn.execute(  # the fence: only actions still ours and still planned
                update(pa_)
                .where(
                    pa_.c.action_id.in_(ids), pa_.c.lease_owner == worker, pa_.c.status == "planned"
                )
                .values(status=SENDING, tries=0)
                .returning(pa_.c.action_id)
            ).scalars()
        )
        report.fenced += len(ids) - len(took)
        keyed, attempts, issued, messages = [], [], [], []
        for a, tpl, rendered, code, to in prepared:
            if a.action_id not in took:  # the lease was lost or the action replaced
                continue
            attempt_id = f"ca-{uuid.uuid4().hex}"
            content = rendered.text
            contact = Contact(
                borrower_id=a.borrower_id,
                loan_id=a.loan_id,
                channel=a.channel,
                at=now,
                action_id=a.action_id,
                template=tpl.name,
                template_version=tpl.version,
                collector_id=app.settings.system_collector_id,
                subject=rendered.subject,
                content=content,
                destination_hash=app.cipher.lookup_hash(POINT.get(a.channel, "push"), to),
            )
            attempt, code_row = contact_rows(app, contact, code, attempt_id)
            attempts.append(attempt)
            assert code_row is not None  # every message carries a code
            issued.append(code_row)
            keyed.append({"k": a.action_id, "att": attempt_id})
            attach = "statement" if tpl.name in ATTACH_STATEMENT else None
            html = rendered.body if rendered.html else None
            messages.append(
                {
                    "action_id": a.action_id,
                    "attempt_id": attempt_id,
                    "business_date": a.business_date,
                    "loan_id": a.loan_id,
                    "channel": a.channel,
                    "locale": tpl.locale,
                    "destination_enc": app.cipher.encrypt("outbox.destination", to),
                    "subject": rendered.subject,
                    "body": app.cipher.seal_text(BODY, content),  # sealed at rest
                    "html": app.cipher.seal_text(HTML, html),
                    "attach": attach,
                    "created_at": now,
                    "status": "pending",
                }
            )
            out.append(
                Outgoing(
                    action_id=a.action_id,
                    attempt_id=attempt_id,
                    loan_id=a.loan_id,
                    business_date=a.business_date,
                    channel=a.channel,
                    message=message_of(
                        a.action_id,
                        a.channel,
                        to,
                        rendered.subject,
                        content,
                        html,
                        tpl.locale,
                        a.business_date,
                    ),
                    attach=attach,
                    tries=0,
                    window_end=as_utc(a.window_end),
                )
            )
        if keyed:
            conn.execute(
                update(pa_)
                .where(pa_.c.action_id == bindparam("k"))
                .values(attempt_id=bindparam("att")),
                keyed,
            )
            conn.execute(insert(t.contact_attempt), attempts)
            conn.execute(insert(t.verification_code), issued)
            conn.execute(insert(t.outbox_message), messages)
    return out


def message_of(
    key: str,
    channel: str,
    to: str,
    subject: str | None,
    body: str,
    html: str | None,
    locale: str,
    day: date,
) -> Message:
    return Message(
        idempotency_key=key,
        channel=channel,
        destination=to,
        body=body,
        subject=subject,
        html=html,
        locale=locale,
        metadata={"day": day.isoformat()},
    )


def stored_messages(
    app: App, rows: Sequence[Any], now: datetime, worker: str, report: Report
) -> list[Outgoing]:
    """The messages of actions already prepared (a dead dispatcher's, or due for a retry)."""
    if not rows:
        return []
    ob = t.outbox_message
    with app.engine.connect() as conn:
        stored = {
            r.action_id: r
            for r in conn.execute(
                select(ob).where(ob.c.action_id.in_([a.action_id for a in rows]))
            ).all()
        }
    out: list[Outgoing] = []
    late: list[tuple[Any, Any]] = []
    for a in rows:
        m = stored.get(a.action_id)
        if m is None:  # cannot happen: prepared means written with its message
            late.append((a, None))
            continue
        if as_utc(a.window_end) <= now:
            late.append((a, m))
            continue
        to = app.cipher.decrypt("outbox.destination", m.destination_enc) or ""
        out.append(
            Outgoing(
                action_id=a.action_id,
                attempt_id=m.attempt_id,
                loan_id=a.loan_id,
                business_date=a.business_date,
                channel=a.channel,
                message=message_of(
                    a.action_id,
                    a.channel,
                    to,
                    m.subject,
                    app.cipher.open_text(BODY, m.body) or "",
                    app.cipher.open_text(HTML, m.html),
                    m.locale,
                    a.business_date,
                ),
                attach=m.attach,
                tries=int(a.tries or 0),
                window_end=as_utc(a.window_end),
            )
        )
    if late:
        with app.engine.begin() as conn:
            for a, _m in late:
                reason = "the window closed before the send was confirmed"
                if release_lease(conn, a.action_id, worker, status=PARKED, last_error=reason):
                    end_message(conn, a.action_id, a.attempt_id, "parked", "unconfirmed", reason)
                    report.parked += 1
                    report.by_rule["parked: window closed"] += 1
    return out
