"""The borrower's side, once signed in: the borrower's own loans and their history, the contacts
made, the borrower's preferences (channels refused, a contact window, the language, a
preferred channel) within what the rulebook lets a borrower choose, the statement as a PDF and
the borrower's complaints. Sign-in is :mod:`.signin`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update

from arrears.bootstrap import App
from arrears.compliance.rulebook import load as load_rulebook
from arrears.service.errors import Invalid
from arrears.service.outreach.pending import PreferencesChanged, after_commit
from arrears.service.outreach.verify import CONTENT, STAFF_NOTE_CHANNELS
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc

#: the channels a borrower may choose among (the rulebook says which may be refused)
CHANNELS = ("sms", "push", "email", "letter", "robocall", "agent_call", "visit")


LANGUAGES = ("zh-CN", "en")


#: the channels a borrower may prefer (the strategy sends the first reminder by it)
PREFERABLE = ("sms", "push", "email")


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def loans_of(app: App, borrower_id: str) -> list[dict[str, Any]]:
    ln, pf = t.loan, t.portfolio
    with app.engine.connect() as conn:
        rows = (
            conn.execute(
                select(
                    ln.c.loan_id,
                    ln.c.currency,
                    ln.c.principal,
                    ln.c.portfolio_id,
                    pf.c.creditor,
                    pf.c.product,
                )
                .join(pf, pf.c.portfolio_id == ln.c.portfolio_id)
                .where(ln.c.borrower_id == borrower_id)
                .order_by(ln.c.loan_id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def owns(app: App, borrower_id: str, loan_id: str) -> bool:
    with app.engine.connect() as conn:
        owner = conn.execute(select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id))
        return owner.scalar() == borrower_id


def history(app: App, borrower_id: str, loan_id: str) -> dict[str, list[dict[str, Any]]]:
    """The loan's payments and the contacts made with the borrower (what was sent, when)."""
    p, ca = t.payment, t.contact_attempt
    with app.engine.connect() as conn:
        pays = (
            conn.execute(
                select(p.c.payment_id, p.c.paid_on, p.c.amount, p.c.status, p.c.source)
                .where(p.c.loan_id == loan_id)
                .order_by(p.c.paid_on.desc(), p.c.payment_id)
            )
            .mappings()
            .all()
        )
        contacts = (
            conn.execute(
                select(
                    ca.c.attempt_id,
                    ca.c.at,
                    ca.c.channel,
                    ca.c.direction,
                    ca.c.collector_id,
                    ca.c.subject,
                    ca.c.content,
                    ca.c.result,
                )
                .where(
                    ca.c.borrower_id == borrower_id,
                    ca.c.role == "debtor",
                    or_(ca.c.loan_id.is_(None), ca.c.loan_id == loan_id),
                )
                .order_by(ca.c.at.desc())
                .limit(200)
            )
            .mappings()
            .all()
        )
    return {
        "payments": [dict(r) for r in pays],
        "contacts": [
            {**r, "at": as_utc(r["at"]), "content": _shown(app, r["channel"], r["content"])}
            for r in contacts
        ],
    }


@dataclass(frozen=True)
class Preferences:
    channels: tuple[str, ...]  # the channels the borrower agrees to
    refusable: tuple[str, ...]  # those the rulebook lets the borrower refuse
    window: tuple[str, str] | None  # "HH:MM" local, within the rulebook's hours
    hours: tuple[str, str]  # the rulebook's calling hours
    language: str
    preferred: str  # sms, push, email or "" (none)
    #: the rule that decides which channels the borrower may refuse here, e.g.
    #: ``cn.consent.borrower_may_refuse`` (shown beside those that cannot be)
    rule: str = ""


def _book(app: App, conn: Any, borrower_id: str) -> Any:
    rb = conn.execute(
        select(t.portfolio.c.rulebook)
        .join(t.loan, t.loan.c.portfolio_id == t.portfolio.c.portfolio_id)
        .where(t.loan.c.borrower_id == borrower_id)
        .limit(1)
    ).scalar()
    return load_rulebook(rb or "cn")


def preferences(app: App, borrower_id: str) -> Preferences:
    with app.engine.connect() as conn:
        b = conn.execute(select(t.borrower).where(t.borrower.c.borrower_id == borrower_id)).one()
        book = _book(app, conn, borrower_id)
    agreed = tuple(
        CHANNELS if b.consents is None else [c for c in CHANNELS if c in b.consents.split(",")]
    )
    window = None
    if b.contact_window:
        start, _, end = b.contact_window.partition("-")
        window = (start, end)
    hours = (f"{book.hours.start:%H:%M}", f"{book.hours.end:%H:%M}")
    return Preferences(
        agreed,
        tuple(book.consent.borrower_may_refuse),
        window,
        hours,
        "en" if b.locale.startswith("en") else "zh-CN",
        b.preferred_channel or "",
        f"{book.id}.consent.borrower_may_refuse",
    )


def _check_window(start: str, end: str, hours: tuple[str, str]) -> str | None:
    if not start and not end:
        return None
    for field, value in (("window_start", start), ("window_end", end)):
        if not _WINDOW.match(value):
            raise Invalid(f"{field}: expected HH:MM, got {value!r}", field=str(field))
    if not hours[0] <= start < end <= hours[1]:
        raise Invalid(
            f"window_start: {start}-{end} must lie within the permitted hours "
            f"{hours[0]}-{hours[1]} and end after it starts",
            field="window_start",
        )
    return f"{start}-{end}"


def set_preferences(
    app: App,
    borrower_id: str,
    *,
    channels: list[str],
    window_start: str,
    window_end: str,
    language: str,
    preferred: str = "",
) -> Preferences:
    """Record the borrower's choices; the pending actions they forbid are cancelled at once,
    and the next cycle plans with them."""
    require_current(app)
    before = preferences(app, borrower_id)
    unknown = sorted(set(channels) - set(CHANNELS))
    if unknown:
        raise Invalid(f"channels: unknown channel {unknown[0]!r}", field="channels")
    if language not in LANGUAGES:
        raise Invalid(
            f"language: expected one of {', '.join(LANGUAGES)}, got {language!r}", field="language"
        )
    # the channels the rulebook lets the borrower refuse are as chosen; the others stay as the
    # lender's records have them
    kept = [
        c for c in CHANNELS if (c in channels if c in before.refusable else c in before.channels)
    ]
    window = _check_window(window_start.strip(), window_end.strip(), before.hours)
    if preferred and (preferred not in PREFERABLE or preferred not in kept):
        raise Invalid(
            f"preferred: {preferred!r} is not one of the message channels you "
            "agree to (SMS, push, email)",
            field="preferred",
        )
    now = app.clock()
    with app.engine.begin() as conn:
        conn.execute(
            update(t.borrower)
            .where(t.borrower.c.borrower_id == borrower_id)
            .values(
                consents=",".join(kept),
                contact_window=window,
                locale=language,
                preferred_channel=preferred or None,
            )
        )
        audit.record(
            conn,
            "preferences",
            borrower_id,
            now,
            {
                "channels": kept,
                "window": window,
                "language": language,
                "preferred": preferred,
                "source": "portal",
            },
        )
    after_commit(app, PreferencesChanged(borrower_id))
    return preferences(app, borrower_id)


def local_time(app: App, at: datetime) -> str:
    return (
        as_utc(at).astimezone(ZoneInfo(app.settings.business_timezone)).strftime("%Y-%m-%d %H:%M")
    )


def statement_pdf(app: App, borrower_id: str, loan_id: str) -> tuple[bytes, str]:
    """The PDF statement of a loan as of today, in the borrower's language; its file name."""
    from arrears.channels import documents
    from arrears.service.books.statements import statement_for_loan

    today = app.today()
    st = statement_for_loan(app, loan_id, today)
    seen = history(app, borrower_id, loan_id)
    with app.engine.connect() as conn:
        f = conn.execute(
            select(
                t.borrower.c.name_enc,
                t.borrower.c.locale,
                t.loan.c.currency,
                t.portfolio.c.creditor,
            )
            .join(t.loan, t.loan.c.borrower_id == t.borrower.c.borrower_id)
            .join(t.portfolio, t.portfolio.c.portfolio_id == t.loan.c.portfolio_id)
            .where(t.loan.c.loan_id == loan_id)
        ).one()
    contacts = [{**c, "at": local_time(app, c["at"])} for c in seen["contacts"]]
    page = documents.borrower_statement_html(
        st,
        name=app.cipher.decrypt("borrower.name", f.name_enc) or "",
        loan_id=loan_id,
        creditor=f.creditor,
        currency=f.currency,
        locale=f.locale,
        payments=seen["payments"],
        contacts=contacts,
    )
    return documents.to_pdf(page), f"statement-{loan_id}-{today}.pdf"


def complaints_of(app: App, borrower_id: str) -> list[dict[str, Any]]:
    """The borrower's complaints, newest first, with their status, finding and files."""
    from arrears.service.cases.evidence import evidence_of

    cp = t.complaint
    with app.engine.connect() as conn:
        rows = (
            conn.execute(
                select(cp).where(cp.c.borrower_id == borrower_id).order_by(cp.c.received_at.desc())
            )
            .mappings()
            .all()
        )
    return [
        {
            **r,
            "received": local_time(app, r["received_at"]),
            "due": local_time(app, r["sla_due_at"]),
            "files": evidence_of(app, r["complaint_id"]),
        }
        for r in rows
    ]


def _shown(app: App, channel: str, sealed: str | None) -> str | None:
    """What the borrower may read of a contact: the words of a message they were sent; never
    a staff note (what a collector wrote after a call or visit)."""
    if channel in STAFF_NOTE_CHANNELS:
        return None
    return app.cipher.open_text(CONTENT, sealed)


def recent_contacts(app: App, borrower_id: str, days: int = 60) -> list[dict[str, Any]]:
    """The contacts of the last ``days`` a complaint may be about (any role: a call to a
    relative concerns the borrower too)."""
    ca = t.contact_attempt
    since = app.clock() - timedelta(days=days)
    with app.engine.connect() as conn:
        rows = (
            conn.execute(
                select(
                    ca.c.attempt_id,
                    ca.c.at,
                    ca.c.channel,
                    ca.c.collector_id,
                    ca.c.role,
                    ca.c.content,
                )
                .where(ca.c.borrower_id == borrower_id, ca.c.at >= since)
                .order_by(ca.c.at.desc())
                .limit(50)
            )
            .mappings()
            .all()
        )
    return [
        {
            **r,
            "when": local_time(app, r["at"]),
            "content": _shown(app, r["channel"], r["content"]),
        }
        for r in rows
    ]
