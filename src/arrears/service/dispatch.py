"""The dispatcher: works the day's plan, message by message, exactly once.

A round takes a batch of actions whose window is open now (in the borrower's local time; the
plan holds each window as UTC instants) and leases them (PostgreSQL: ``FOR UPDATE SKIP
LOCKED``, so several dispatchers share the work; SQLite: one dispatcher, guarded by a lock
file). Then, for each action:

1. **A second look** (:func:`recheck`): the account is read again from the store and judged as
   the cycle would judge it now: a loan that left its stage (paid, cured) or that a
   suppression now covers (a payment today, a promise, a hold) is *cancelled*; a compliance
   rule that refuses the contact now (an opt-out, a hold, the day's frequency cap) cancels it,
   or *moves* it to the rule's earliest allowed instant when that is still inside the window.
2. **Prepare**, in one transaction: the message is rendered with a fresh verification code,
   and the contact attempt, the code and the message itself (``outbox_message``) are written,
   and the action becomes ``sending``. A lease lost in the meantime (another dispatcher, or a
   cycle re-run replacing the action) fences the write: nothing is prepared twice.
3. **Send** with the action's id as the idempotency key; several sender threads per process.
4. **Record**: ``sent`` with the provider's reference (and an evidence entry in the audit
   log), or a retry after a backoff, or ``parked`` with the reason when it keeps failing or
   can never succeed.

A dispatcher killed between 2 and 4 leaves a ``sending`` action whose lease runs out; the next
one sends the *stored* message again under the same key (the provider drops the repeat), so
the borrower receives one message with one code, and the store holds one contact attempt. If
the window has closed by then, the message is parked as unconfirmed rather than sent late.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from arrears.bootstrap import App
from arrears.channels import codes, documents, templating
from arrears.channels.base import Attachment, Channel, Message, Receipt, SendFailed
from arrears.channels.profiles import PROVIDER_CHANNELS
from arrears.channels.templating import Template
from arrears.compliance import gate
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rulebook import load as load_rulebook
from arrears.cycle import snapshot
from arrears.cycle.delinquency import loan_from_rows
from arrears.cycle.reference import Account, History
from arrears.domain.codec import statement_to_dict
from arrears.domain.delinquency import statement
from arrears.service.errors import ServiceError
from arrears.service.store import require_current
from arrears.service.tables import bands_for
from arrears.service.templates import context_from, current, ensure_loaded, loan_facts
from arrears.service.verify import Contact, contact_rows
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc
from arrears.strategy.expr import Lit, evaluate, truthy
from arrears.strategy.model import Step, Strategy
from arrears.strategy.model import load as load_strategy

#: the contact point each channel sends to (push goes to the borrower's app account)
POINT = {"sms": "phone", "robocall": "phone", "email": "email", "letter": "address"}
#: statuses: prepared and possibly handed over; ended
SENDING, SENT, PARKED, CANCELLED = "sending", "sent", "parked", "cancelled"
#: templates whose message carries the statement as a PDF
ATTACH_STATEMENT = frozenset({"statement_email"})

#: errors that mean the database is gone for a moment, and how often in a row to wait it out
DB_GONE = (OperationalError, InterfaceError)
RECONNECT_TRIES = 30

#: the associated data a message's texts are sealed under (names sit in them)
BODY, HTML = "outbox_message.body", "outbox_message.html"


@dataclass(frozen=True)
class Options:
    worker: str = field(default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}")
    batch: int = 200
    lease_seconds: float = 120.0
    max_tries: int = 5
    backoff_seconds: float = 30.0  # the first retry's wait; doubled each time, at most 1 hour
    senders: int = 8  # threads handing messages to providers
    channels: tuple[str, ...] = PROVIDER_CHANNELS
    day: date | None = None  # only this business date's actions (all open ones if None)
    follow: bool = False  # keep polling when nothing is ready (a service) instead of stopping
    poll_seconds: float = 1.0
    limit: int | None = None  # stop after this many actions were handled (tests, demos)


@dataclass
class Report:
    claimed: int = 0
    sent: int = 0
    cancelled: int = 0
    moved: int = 0
    retried: int = 0
    parked: int = 0
    fenced: int = 0  # prepared elsewhere, or replaced by a cycle re-run while leased
    by_channel: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    cancelled_ids: dict[str, str] = field(default_factory=dict)  # action id -> rule

    @property
    def handled(self) -> int:
        return self.sent + self.cancelled + self.moved + self.retried + self.parked + self.fenced


@dataclass(frozen=True)
class Verdict:
    """What the second look decided for an action: send, cancel (with the rule) or move."""

    action_id: str
    outcome: str  # send | cancel | move
    rule: str | None = None
    move_to: datetime | None = None


# ------------------------------------------------------------------------------------------
# leases


def _claim(app: App, worker: str, now: datetime, opts: Options) -> list[Any]:
    """Lease up to ``opts.batch`` actions that are ready now; returns their rows."""
    pa_ = t.plan_action
    ready_new = and_(
        pa_.c.status == "planned",
        pa_.c.window_start <= now,
        pa_.c.window_end > now,
    )
    ready_again = pa_.c.status == SENDING  # a dead dispatcher's, or waiting for a retry
    conds = [
        or_(ready_new, ready_again),
        pa_.c.channel.in_(opts.channels),
        or_(pa_.c.next_try_at.is_(None), pa_.c.next_try_at <= now),
        or_(pa_.c.lease_until.is_(None), pa_.c.lease_until < now),
    ]
    if opts.day is not None:
        conds.append(pa_.c.business_date == opts.day)
    pick = (
        select(pa_.c.action_id)
        .where(and_(*conds))
        .order_by(pa_.c.priority.desc(), pa_.c.action_id)
        .limit(opts.batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    until = now + timedelta(seconds=opts.lease_seconds)
    with app.engine.begin() as conn:
        rows = conn.execute(
            update(pa_)
            .where(pa_.c.action_id.in_(pick))
            .values(lease_owner=worker, lease_until=until)
            .returning(*pa_.c)
        ).all()
    return sorted(rows, key=lambda r: (-r.priority, r.action_id))


def _release(conn: Connection, action_id: str, worker: str, **values: Any) -> bool:
    pa_ = t.plan_action
    done = conn.execute(
        update(pa_)
        .where(and_(pa_.c.action_id == action_id, pa_.c.lease_owner == worker))
        .values(lease_owner=None, lease_until=None, **values)
    )
    return bool(done.rowcount)


@contextmanager
def single_sqlite(app: App) -> Iterator[None]:
    """On SQLite only one dispatcher runs: a second one is told so and stops."""
    url = app.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    path = Path(f"{url.database}.dispatch.lock")
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ServiceError(
                f"another dispatcher is working on {url.database}: SQLite runs one at a time "
                "(use PostgreSQL to run several)"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------
# the second look


class _Judge:
    """Judges actions as the cycle would now, from a fresh read of their accounts."""

    def __init__(self, app: App, day: date, loan_ids: Sequence[str]) -> None:
        self.app = app
        self.snap = snapshot.from_store(app.engine, day, threads=2, loans=loan_ids)
        self.history = History(self.snap)
        self.bands = bands_for(app.settings)
        self.rows = {r["loan_id"]: (i, r) for i, r in enumerate(self.snap.loans.to_pylist())}
        self.books: dict[str, Rulebook] = {}
        self.accounts: dict[tuple[str, str], Account] = {}
        self.statements: dict[str, dict[str, Any]] = {}

    def account(self, loan_id: str, strategy: Strategy) -> Account | None:
        key = (loan_id, strategy.name)
        if key in self.accounts:
            return self.accounts[key]
        found = self.rows.get(loan_id)
        if found is None:
            return None
        idx, row = found
        row = {**row, "_idx": idx}
        loan = loan_from_rows(row, self.history.inst.get(idx, []), self.history.pays.get(idx, []),
                              self.snap.events.get(loan_id, ()))  # fmt: skip
        s = statement(loan, self.snap.as_of, buckets=self.bands.buckets, explain=False)
        self.statements[loan_id] = statement_to_dict(s)
        book = self.books.setdefault(row["rulebook"], load_rulebook(row["rulebook"]))
        acct = Account(row, s, self.history, self.snap, strategy, book)
        self.accounts[key] = acct
        return acct

    def judge(self, a: Any, strategy: Strategy, now: datetime) -> Verdict:
        acct = self.account(a.loan_id, strategy)
        if acct is None:
            return Verdict(a.action_id, "cancel", "dispatch.loan_gone")
        if acct.stage is None:
            rule = "dispatch.paid" if acct.s.total_due == 0 else "dispatch.left_collection"
            return Verdict(a.action_id, "cancel", rule)
        for sup in strategy.suppressions:
            if a.channel in sup.channels and truthy(evaluate(sup.when, acct.env)):
                return Verdict(a.action_id, "cancel", f"suppression.{sup.name}")
        step = _step(strategy, a.step_id, a.channel)
        found = acct.refusals(step, now)
        if not found:
            return Verdict(a.action_id, "send")
        later = gate.earliest(acct.request(step, now), acct.book, found)
        if later is not None and later < as_utc(a.window_end):
            return Verdict(a.action_id, "move", found[0].rule, later)
        return Verdict(a.action_id, "cancel", found[0].rule)


def _step(strategy: Strategy, step_id: str, channel: str) -> Step:
    for s in strategy.steps:
        if s.id == step_id:
            return s
    # the strategy changed since the plan was made: judge the action as a bare step
    return Step(id=step_id, stage="", segment="all", order=0, channel=channel, template=None,
                queue=None, pool=None, priority=Lit(0), when=None, on_days=(), every=None,
                from_day=None, to_day=None, experiment=None, arm=None, collectors=None)  # fmt: skip


def _strategies(app: App, conn: Connection, run_ids: set[int]) -> dict[int, Strategy]:
    cr = t.cycle_run
    rows = conn.execute(select(cr.c.run_id, cr.c.strategy).where(cr.c.run_id.in_(run_ids))).all()
    names = {r.run_id: r.strategy for r in rows}
    out = {}
    for run_id in run_ids:
        name = names.get(run_id) or app.settings.strategy
        try:
            out[run_id] = _strategy(name)
        except Exception:  # the run's strategy is gone: the settings' one judges
            out[run_id] = _strategy(app.settings.strategy)
    return out


@functools.lru_cache(maxsize=16)
def _strategy(name: str) -> Strategy:
    return load_strategy(name)


def recheck(app: App, actions: Sequence[Any], now: datetime) -> list[Verdict]:
    """The second look at ``actions`` (plan_action rows) at ``now``."""
    if not actions:
        return []
    return list(judge_actions(app, actions, now)[0].values())


def apply_verdicts(app: App, conn: Connection, verdicts: Sequence[Verdict], worker: str | None,
                   report: Report, note: str | None = None) -> None:  # fmt: skip
    """Cancel or move actions still planned (leased by ``worker`` when given); ``note`` says
    what prompted it (a payment's reversal restores what the payment cancelled)."""
    pa_ = t.plan_action
    for v in verdicts:
        if v.outcome == "send":
            continue
        cond = [pa_.c.action_id == v.action_id, pa_.c.status == "planned"]
        if worker is not None:
            cond.append(pa_.c.lease_owner == worker)
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if v.outcome == "cancel":
            values |= {"status": CANCELLED, "rule": v.rule, "last_error": note}
        else:
            assert v.move_to is not None
            # in UTC: SQLite would keep the wall-clock time of any other offset
            values |= {"window_start": as_utc(v.move_to), "last_error": f"moved by {v.rule}"}
        done = conn.execute(update(pa_).where(and_(*cond)).values(**values)).rowcount
        if not done:
            report.fenced += 1
            continue
        if v.outcome == "cancel":
            report.cancelled += 1
            report.cancelled_ids[v.action_id] = v.rule or ""
        else:
            report.moved += 1
        report.by_rule[v.rule or ""] += 1


def second_look(app: App, note: str, *, loan_id: str | None = None,
                borrower_id: str | None = None, since: date | None = None) -> Report:  # fmt: skip
    """Judge a loan's (or a borrower's) pending actions of ``since`` (today) and later again
    now, after an event (a payment, a promise, a hold): those it makes pointless or forbidden
    are cancelled, noting ``note``. ``claimed`` in the report: how many were judged."""
    pa_ = t.plan_action
    cond = [pa_.c.status == "planned", pa_.c.business_date >= (since or app.today())]
    if loan_id is not None:
        cond.append(pa_.c.loan_id == loan_id)
    if borrower_id is not None:
        cond.append(pa_.c.borrower_id == borrower_id)
    with app.engine.connect() as conn:
        pending = conn.execute(select(pa_).where(*cond)).all()
    report = Report(claimed=len(pending))
    verdicts = recheck(app, pending, app.clock())
    with app.engine.begin() as conn:
        apply_verdicts(app, conn, verdicts, None, report, note=note)
    return report


# ------------------------------------------------------------------------------------------
# prepare, send, record


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


def _destinations(app: App, conn: Connection, borrowers: set[str]) -> dict[tuple[str, str], str]:
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


class _Templates:
    def __init__(self, app: App) -> None:
        self.app = app
        self.cache: dict[tuple[str, str], Template] = {}

    def get(self, name: str, locale: str) -> Template:
        key = (name, locale)
        if key not in self.cache:
            self.cache[key] = current(self.app, name, locale)
        return self.cache[key]


def _render_all(
    app: App,
    todo: Sequence[Any],
    judge_statements: dict[str, dict[str, Any]],
    templates: _Templates,
) -> tuple[list[tuple[Any, Template, templating.Rendered, str, str]], list[tuple[Any, str]]]:
    """Each action's message rendered with a new code, or the reason it cannot be."""
    prepared: list[tuple[Any, Template, templating.Rendered, str, str]] = []
    parked: list[tuple[Any, str]] = []
    with app.engine.connect() as conn:
        facts = loan_facts(conn, sorted({a.loan_id for a in todo}))
        dest = _destinations(app, conn, {a.borrower_id for a in todo})
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
            ctx = context_from(app, judge_statements[a.loan_id], facts[a.loan_id],
                               locale=tpl.locale, code=codes.shown(code))  # fmt: skip
            rendered = templating.render(tpl, ctx)
        except (ServiceError, templating.TemplateError, KeyError) as exc:
            parked.append((a, f"cannot render {a.template}: {exc}"))
            continue
        prepared.append((a, tpl, rendered, code, to))
    return prepared, parked


def _prepare(
    app: App,
    rows: Sequence[Any],
    verdicts: dict[str, Verdict],
    judge_statements: dict[str, dict[str, Any]],
    now: datetime,
    worker: str,
    report: Report,
    templates: _Templates,
) -> list[Outgoing]:
    """Render and write the messages of the actions to send, in one transaction."""
    todo = [a for a in rows if verdicts[a.action_id].outcome == "send"]
    if not todo:
        return []
    prepared, parked = _render_all(app, todo, judge_statements, templates)
    out: list[Outgoing] = []
    with app.engine.begin() as conn:
        for a, reason in parked:
            if _release(conn, a.action_id, worker, status=PARKED, last_error=reason):
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
                )  # fmt: skip
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
                    message=_message(
                        a.action_id,
                        a.channel,
                        to,
                        rendered.subject,
                        content,
                        html,
                        tpl.locale,
                        a.business_date,
                    ),  # fmt: skip
                    attach=attach,
                    tries=0,
                    window_end=as_utc(a.window_end),
                )
            )
        if keyed:
            conn.execute(
                update(pa_).where(pa_.c.action_id == bindparam("k"))
                .values(attempt_id=bindparam("att")),
                keyed,
            )  # fmt: skip
            conn.execute(insert(t.contact_attempt), attempts)
            conn.execute(insert(t.verification_code), issued)
            conn.execute(insert(t.outbox_message), messages)
    return out


def _message(key: str, channel: str, to: str, subject: str | None, body: str,
             html: str | None, locale: str, day: date) -> Message:  # fmt: skip
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


def _stored(app: App, rows: Sequence[Any], now: datetime, worker: str,
            report: Report) -> list[Outgoing]:  # fmt: skip
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
                message=_message(
                    a.action_id,
                    a.channel,
                    to,
                    m.subject,
                    app.cipher.open_text(BODY, m.body) or "",
                    app.cipher.open_text(HTML, m.html),
                    m.locale,
                    a.business_date,
                ),  # fmt: skip
                attach=m.attach,
                tries=int(a.tries or 0),
                window_end=as_utc(a.window_end),
            )
        )
    if late:
        with app.engine.begin() as conn:
            for a, _m in late:
                reason = "the window closed before the send was confirmed"
                if _release(conn, a.action_id, worker, status=PARKED, last_error=reason):
                    _end_message(conn, a.action_id, a.attempt_id, "parked", "unconfirmed", reason)
                    report.parked += 1
                    report.by_rule["parked: window closed"] += 1
    return out


def _attachments(app: App, o: Outgoing) -> tuple[Attachment, ...]:
    if o.attach != "statement":
        return ()
    from arrears.service.statements import statement_for_loan

    st = statement_for_loan(app, o.loan_id, o.business_date)
    with app.engine.connect() as conn:
        f = loan_facts(conn, [o.loan_id])[o.loan_id]
    zh = o.message.locale.startswith("zh")
    name = app.cipher.decrypt("borrower.name", f.name_enc) or ""
    page = documents.statement_html(st, name=name, loan_id=o.loan_id, creditor=f.creditor,
                                    currency=f.currency, locale=o.message.locale)  # fmt: skip
    filename = f"{'对账单' if zh else 'statement'}-{o.loan_id}-{o.business_date}.pdf"
    return (Attachment(filename, "application/pdf", documents.to_pdf(page)),)


def _send_one(app: App, channels: dict[str, Channel], o: Outgoing) -> Outgoing:
    try:
        m = o.message
        extra = _attachments(app, o)
        if extra:
            m = replace(m, attachments=extra)
        o.receipt = channels[o.channel].send(m)
    except SendFailed as exc:
        o.failure = exc
    except Exception as exc:  # an adapter's own fault: worth another try, with the reason
        o.failure = SendFailed(f"{type(exc).__name__}: {exc}", retry=True)
    return o


def _end_message(conn: Connection, action_id: str, attempt_id: str | None, status: str,
                 result: str, detail: str) -> None:  # fmt: skip
    ob = t.outbox_message
    conn.execute(update(ob).where(ob.c.action_id == action_id).values(status=status, detail=detail))
    if attempt_id:
        ca = t.contact_attempt
        conn.execute(update(ca).where(ca.c.attempt_id == attempt_id).values(result=result))


def _backoff(opts: Options, tries: int) -> timedelta:
    return timedelta(seconds=min(opts.backoff_seconds * 2 ** max(tries - 1, 0), 3600.0))


def _record(app: App, done: Sequence[Outgoing], now: datetime, worker: str, opts: Options,
            report: Report) -> None:  # fmt: skip
    pa_, ob, ca = t.plan_action, t.outbox_message, t.contact_attempt
    evidence: list[audit.Entry] = []
    with app.engine.begin() as conn:
        ok = [o for o in done if o.receipt is not None]
        took: set[str] = set()
        if ok:
            took = set(
                conn.execute(  # recorded once, by whichever dispatcher sent it first
                    update(pa_)
                    .where(
                        pa_.c.action_id.in_([o.action_id for o in ok]), pa_.c.status == SENDING
                    )  # fmt: skip
                    .values(
                        status=SENT,
                        sent_at=now,
                        lease_owner=None,
                        lease_until=None,
                        tries=func.coalesce(pa_.c.tries, 0) + 1,
                        last_error=None,
                    )  # fmt: skip
                    .returning(pa_.c.action_id)
                ).scalars()
            )
        report.fenced += len(ok) - len(took)
        mine = [o for o in ok if o.action_id in took]
        if mine:
            rows = [
                {"k": o.action_id, "att": o.attempt_id, "p": o.receipt.provider,
                 "ref": o.receipt.provider_ref, "st": o.receipt.status}
                for o in mine if o.receipt is not None
            ]  # fmt: skip
            conn.execute(
                update(ob).where(ob.c.action_id == bindparam("k"))
                .values(status="sent", provider=bindparam("p"), provider_ref=bindparam("ref"),
                        sent_at=now),
                rows,
            )  # fmt: skip
            conn.execute(
                update(ca).where(ca.c.attempt_id == bindparam("att"))
                .values(provider=bindparam("p"), provider_ref=bindparam("ref"),
                        result=bindparam("st")),
                rows,
            )  # fmt: skip
        for o in mine:
            r = o.receipt
            assert r is not None
            evidence.append(
                audit.Entry(
                    kind="contact_attempt",
                    subject=o.loan_id,
                    rulebook="",
                    payload={
                        "attempt_id": o.attempt_id,
                        "action_id": o.action_id,
                        "channel": o.channel,
                        "provider": r.provider,
                        "provider_ref": r.provider_ref,
                        "content_sha256": hashlib.sha256(o.message.body.encode()).hexdigest(),
                    },
                    at=now,
                )
            )
            report.sent += 1
            report.by_channel[o.channel] += 1
        for o in done:
            if o.receipt is not None:
                continue
            failure = o.failure
            assert failure is not None
            tries = o.tries + 1
            if failure.retry and tries < opts.max_tries:
                if _release(conn, o.action_id, worker, tries=tries, last_error=failure.reason,
                            next_try_at=now + _backoff(opts, tries)):  # fmt: skip
                    report.retried += 1
                else:
                    report.fenced += 1
                continue
            reason = failure.reason if not failure.retry else f"{tries} tries: {failure.reason}"
            if _release(conn, o.action_id, worker, status=PARKED, tries=tries, last_error=reason):
                result = "bounced" if o.channel == "email" and not failure.retry else "failed"
                _end_message(conn, o.action_id, o.attempt_id, "parked", result, reason)
                report.parked += 1
                report.by_rule["parked: " + ("refused" if not failure.retry else "failing")] += 1
            else:
                report.fenced += 1
        if evidence:
            audit.append(conn, evidence)


# ------------------------------------------------------------------------------------------
# the loop


def dispatch(
    app: App,
    channels: dict[str, Channel],
    opts: Options | None = None,
    progress: Callable[[Report], None] | None = None,
) -> Report:
    """Work the plan until nothing is ready (or forever with ``follow``)."""
    require_current(app)
    opts = opts or Options()
    missing = [c for c in opts.channels if c not in channels]
    if missing:
        raise ServiceError(f"no adapter for {', '.join(missing)}")
    ensure_loaded(app)
    report = Report()
    templates = _Templates(app)
    in_flight: list[Future[Outgoing]] = []

    def finish() -> bool:
        """Wait for the batch in flight and record it; False if there was none."""
        if not in_flight:
            return False
        done = [f.result() for f in in_flight]
        in_flight.clear()
        _record(app, done, app.clock(), opts.worker, opts, report)
        if progress is not None:
            progress(report)
        return True

    lost = 0  # database errors in a row
    # while one batch is with the providers, the next is claimed, judged and prepared
    with single_sqlite(app), ThreadPoolExecutor(max(1, opts.senders)) as pool:
        while opts.limit is None or report.handled < opts.limit:
            try:
                now = app.clock()
                rows = _claim(app, opts.worker, now, opts)
                if not rows:
                    if finish():
                        continue  # what it recorded may have made more ready (retries)
                    if not opts.follow:
                        break
                    time.sleep(opts.poll_seconds)
                    continue
                report.claimed += len(rows)
                outgoing = _ready(app, rows, now, opts, report, templates)
                finish()
                in_flight.extend(pool.submit(_send_one, app, channels, o) for o in outgoing)
                lost = 0
            except DB_GONE:
                lost = _wait_for_database(app, lost + 1)
        finish()
    return report


def _ready(app: App, rows: Sequence[Any], now: datetime, opts: Options, report: Report,
           templates: Any) -> list[Outgoing]:  # fmt: skip
    """The claimed actions' messages: those prepared before (sent again under their key) and
    the fresh ones, judged again and prepared now."""
    fresh = [a for a in rows if a.status == "planned"]
    again = [a for a in rows if a.status == SENDING]
    outgoing = _stored(app, again, now, opts.worker, report)
    if fresh:
        verdicts = judge_actions(app, fresh, now)
        with app.engine.begin() as conn:
            apply_verdicts(app, conn, list(verdicts[0].values()), opts.worker, report)
        outgoing += _prepare(app, fresh, verdicts[0], verdicts[1], now, opts.worker,
                             report, templates)  # fmt: skip
    return outgoing


def _wait_for_database(app: App, lost: int) -> int:
    """The database went away (a restart, a failover): wait and reconnect. What was claimed
    stays leased and is taken up again when the lease ends; a message handed over before is
    sent again only under its own key. Gives up after :data:`RECONNECT_TRIES` in a row."""
    if lost > RECONNECT_TRIES:
        raise ServiceError(f"the database has been unreachable {lost - 1} times in a row")
    app.engine.dispose()
    time.sleep(min(2.0 * lost, 10.0))
    return lost


def judge_actions(
    app: App, rows: Sequence[Any], now: datetime
) -> tuple[dict[str, Verdict], dict[str, dict[str, Any]]]:
    """Verdicts by action id, and the statements the judge computed (for rendering)."""
    with app.engine.connect() as conn:
        strategies = _strategies(app, conn, {a.run_id for a in rows})
    verdicts: dict[str, Verdict] = {}
    statements: dict[str, dict[str, Any]] = {}
    by_day: dict[date, list[Any]] = {}
    for a in rows:
        by_day.setdefault(a.business_date, []).append(a)
    for day, group in by_day.items():
        judge = _Judge(app, day, [a.loan_id for a in group])
        for a in group:
            verdicts[a.action_id] = judge.judge(a, strategies[a.run_id], now)
        statements |= judge.statements
    return verdicts, statements


# ------------------------------------------------------------------------------------------
# what went out


def outbox_rows(app: App, day: date | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest messages of the outbox table (what went out), destinations masked."""
    ob = t.outbox_message
    q = select(ob).order_by(ob.c.created_at.desc(), ob.c.action_id).limit(limit)
    if day is not None:
        q = q.where(ob.c.business_date == day)
    with app.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [{**{k: v for k, v in r.items() if k != "destination_enc"},
             "body": app.cipher.open_text(BODY, r["body"]),
             "html": app.cipher.open_text(HTML, r["html"])} for r in rows]  # fmt: skip


def letter_batch(app: App, day: date, folder: Path) -> Any:
    """The day's letters that went out, as one PDF and a CSV manifest for the print vendor."""
    from arrears.channels import letter

    ob = t.outbox_message
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(
                ob.c.action_id,
                ob.c.loan_id,
                ob.c.destination_enc,
                ob.c.html,
                ob.c.body,
                ob.c.locale,
            )  # fmt: skip
            .where(ob.c.channel == "letter", ob.c.business_date == day, ob.c.status == "sent")
            .order_by(ob.c.action_id)
        ).all()
        facts = loan_facts(conn, sorted({r.loan_id for r in rows}))
    s = app.settings
    letters = []
    for r in rows:
        f = facts[r.loan_id]
        letters.append(
            letter.Letter(
                key=r.action_id,
                recipient=app.cipher.decrypt("borrower.name", f.name_enc) or "",
                address=app.cipher.decrypt("outbox.destination", r.destination_enc) or "",
                sender=f"{f.creditor} · {s.org_address}",
                body_html=app.cipher.open_text(HTML, r.html)
                or app.cipher.open_text(BODY, r.body)
                or "",
                locale=r.locale,
            )
        )
    return letter.write_batch(letters, folder, f"letters-{day.isoformat()}")
