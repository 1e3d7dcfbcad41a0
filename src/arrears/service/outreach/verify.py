"""Is this contact real? A verification code answers with who contacted whom, when, how and
what was said; any other code answers that the contact did not come from this lender.

Issuing a code is part of recording a contact (:func:`record_contact`), so a code never exists
without the contact it proves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from arrears.bootstrap import App
from arrears.channels import codes
from arrears.service.store import require_current
from arrears.store import tables as t
from arrears.store.db import as_utc


@dataclass(frozen=True)
class Contact:
    """A contact about to be recorded; ``content`` is what the person read or heard."""

    borrower_id: str
    loan_id: str | None
    channel: str
    at: datetime
    role: str = "debtor"
    action_id: str | None = None
    template: str | None = None
    template_version: int | None = None
    collector_id: str | None = None
    subject: str | None = None
    content: str | None = None
    destination_hash: str | None = None
    provider: str | None = None
    provider_ref: str | None = None
    result: str | None = None
    companion_id: str | None = None  # a visit's second collector
    breach: bool | None = None  # recorded outside what the rules allow (the lender's policy)


#: the associated data a contact's words are sealed under
CONTENT = "contact_attempt.content"
#: contacts whose content is a staff note (what the collector wrote after a call or visit),
#: not words the borrower read: borrowers never see it
STAFF_NOTE_CHANNELS = frozenset({"call", "visit"})


def contact_rows(
    app: App, c: Contact, code: str | None, attempt_id: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The contact_attempt row and the verification_code row (None without a code)."""
    attempt = {
        "attempt_id": attempt_id,
        "borrower_id": c.borrower_id,
        "loan_id": c.loan_id,
        "channel": c.channel,
        "at": c.at,
        "direction": "outbound",
        "role": c.role,
        "destination_hash": c.destination_hash,
        "result": c.result,
        "action_id": c.action_id,
        "template": c.template,
        "template_version": c.template_version,
        "collector_id": c.collector_id,
        "subject": c.subject,
        "content": app.cipher.seal_text(CONTENT, c.content),  # sealed at rest
        "provider": c.provider,
        "provider_ref": c.provider_ref,
        "companion_id": c.companion_id,
        "breach": c.breach,
    }
    if code is None:
        return attempt, None
    return attempt, {
        "code_hash": _hash(app, code),
        "attempt_id": attempt_id,
        "issued_at": c.at,
        "expires_at": c.at + timedelta(days=app.settings.verification_days),
    }


def record_contact(
    app: App, conn: Connection, c: Contact, code: str | None = None, attempt_id: str | None = None
) -> str:
    """Write the contact attempt and its verification code (in the caller's transaction);
    returns the attempt id."""
    attempt_id = attempt_id or f"ca-{uuid.uuid4().hex}"
    attempt, issued = contact_rows(app, c, code, attempt_id)
    conn.execute(insert(t.contact_attempt).values(**attempt))
    if issued is not None:
        conn.execute(insert(t.verification_code).values(**issued))
    return attempt_id


def _hash(app: App, code: str) -> str:
    digest = app.cipher.lookup_hash("verification", code)
    assert digest is not None  # a code is never empty
    return digest


@dataclass(frozen=True)
class Verdict:
    genuine: bool
    reason: str  # genuine | unknown | expired | malformed
    details: dict[str, Any] | None = None


def verify(app: App, typed: str) -> Verdict:
    """The answer for a code someone typed (``arrears verify``; the portal's page)."""
    require_current(app)
    code = codes.normalise(typed)
    if code is None:
        return Verdict(False, "malformed")
    ca, vc = t.contact_attempt, t.verification_code
    with app.engine.connect() as conn:
        row = conn.execute(
            select(
                vc.c.issued_at,
                vc.c.expires_at,
                ca.c.channel,
                ca.c.at,
                ca.c.collector_id,
                ca.c.subject,
                ca.c.content,
                ca.c.role,
                ca.c.loan_id,
                ca.c.borrower_id,
                t.portfolio.c.creditor,
            )
            .select_from(
                vc.join(ca, ca.c.attempt_id == vc.c.attempt_id)
                .outerjoin(t.loan, t.loan.c.loan_id == ca.c.loan_id)
                .outerjoin(t.portfolio, t.portfolio.c.portfolio_id == t.loan.c.portfolio_id)
            )
            .where(vc.c.code_hash.in_(app.cipher.lookup_hashes("verification", code)))
        ).first()
    if row is None:
        return Verdict(False, "unknown")
    if as_utc(row.expires_at) <= app.clock():
        return Verdict(False, "expired", {"issued_at": as_utc(row.issued_at).isoformat()})
    return Verdict(
        True,
        "genuine",
        {
            "organisation": row.creditor,
            "collector_id": row.collector_id,
            "channel": row.channel,
            "at": as_utc(row.at).isoformat(),
            "subject": row.subject,
            "content": app.cipher.open_text(CONTENT, row.content),
        },
    )
