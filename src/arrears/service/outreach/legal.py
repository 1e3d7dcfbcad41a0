"""Legal referral: the plan's ``legal_referral`` actions carried out. A package per account as a
PDF: the statement of account, the instalments and payments, and the contact history with
each contact's evidence hash (the SHA-256 of its recorded fields, which the audit log's chain
also covers)."""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from arrears.bootstrap import App
from arrears.channels import documents
from arrears.service.books.statements import statement_for_loan
from arrears.service.outreach.pending import apply_verdicts, judge_actions
from arrears.service.outreach.state import Report
from arrears.service.outreach.templates import loan_facts
from arrears.service.outreach.verify import CONTENT
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc


def evidence_hash(app: App, row: Any) -> str:
    """The SHA-256 of a contact attempt's recorded fields, in a canonical form (the words as
    said, opened: sealing them again under a new key does not change the hash)."""
    fields = (
        "attempt_id",
        "borrower_id",
        "loan_id",
        "channel",
        "at",
        "direction",
        "role",
        "result",
        "template",
        "template_version",
        "collector_id",
        "subject",
        "content",
        "provider",
        "provider_ref",
    )
    values = {f: getattr(row, f) for f in fields}
    values["content"] = app.cipher.open_text(CONTENT, values["content"])
    values["at"] = as_utc(values["at"]).isoformat()
    return hashlib.sha256(audit.canonical(values).encode("utf-8")).hexdigest()


def legal_package(app: App, loan_id: str, as_of: date) -> tuple[bytes, dict[str, Any]]:
    """The PDF of ``loan_id``'s legal package, and what it contains (for an index)."""
    require_current(app)
    st = statement_for_loan(app, loan_id, as_of)
    ca, pay = t.contact_attempt, t.payment
    with app.engine.connect() as conn:
        f = loan_facts(conn, [loan_id])[loan_id]
        borrower = conn.execute(
            select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)
        ).scalar_one()
        payments = [
            {"paid_on": r.paid_on.isoformat(), "amount": r.amount, "status": r.status}
            for r in conn.execute(
                select(pay).where(pay.c.loan_id == loan_id).order_by(pay.c.paid_on)
            )
        ]
        contacts = [
            {
                "at": as_utc(r.at).strftime("%Y-%m-%d %H:%M UTC"),
                "channel": r.channel,
                "role": r.role,
                "result": r.result,
                "hash": evidence_hash(app, r),
            }
            for r in conn.execute(
                select(ca)
                .where(
                    ca.c.borrower_id == borrower, (ca.c.loan_id == loan_id) | ca.c.loan_id.is_(None)
                )
                .order_by(ca.c.at, ca.c.attempt_id)
            )
        ]
    locale = "zh-CN"
    page = documents.legal_package_html(
        st,
        name=app.cipher.decrypt("borrower.name", f.name_enc) or "",
        loan_id=loan_id,
        creditor=f.creditor,
        currency=f.currency,
        locale=locale,
        payments=payments,
        contacts=contacts,
    )
    return documents.to_pdf(page), {
        "loan_id": loan_id,
        "as_of": as_of.isoformat(),
        "payments": len(payments),
        "contacts": contacts,
    }


def refer(app: App, day: date, folder: Path | None = None) -> dict[str, Path]:
    """Carry out ``day``'s planned legal referrals: a package per account, in ``folder``."""
    require_current(app)
    folder = (folder or app.settings.legal_dir) / day.isoformat()
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        actions = conn.execute(
            select(pa_).where(
                pa_.c.business_date == day,
                pa_.c.channel == "legal_referral",
                pa_.c.status == "planned",
            )
        ).all()
    stopped = Report()
    verdicts, _ = judge_actions(app, actions, app.clock()) if actions else ({}, {})
    with app.engine.begin() as conn:
        apply_verdicts(app, conn, list(verdicts.values()), None, stopped)
    out: dict[str, Path] = {}
    for a in actions:
        if verdicts[a.action_id].outcome != "send":
            continue
        pdf, index = legal_package(app, a.loan_id, day)
        path = folder / f"legal-{a.loan_id}.pdf"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(pdf)
        os.replace(tmp, path)
        digest = hashlib.sha256(pdf).hexdigest()
        with app.engine.begin() as conn:
            conn.execute(
                update(pa_)
                .where(pa_.c.action_id == a.action_id)
                .values(status="referred", sent_at=app.clock())
            )
            audit.record(
                conn,
                "legal_referral",
                a.loan_id,
                app.clock(),
                {
                    "file": path.name,
                    "sha256": digest,
                    "contacts": len(index["contacts"]),
                    "payments": index["payments"],
                },
            )
        out[a.loan_id] = path
    return out
