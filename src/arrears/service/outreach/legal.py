"""Legal referral: the plan's ``legal_referral`` actions carried out. A package per account as a
PDF: the statement of account, the instalments and payments, and the contact history with
each contact's evidence hash (the SHA-256 of its recorded fields, which the audit log's chain
also covers)."""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from arrears.bootstrap import App
from arrears.channels import documents
from arrears.service.errors import Invalid
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


#: what an evidence package is put together for; its title says so
PURPOSES = ("litigation", "complaint", "regulator", "audit", "borrower_request")


def legal_package(app: App, loan_id: str, as_of: date) -> tuple[bytes, dict[str, Any]]:
    """The PDF of ``loan_id``'s legal package, and what it contains (for an index)."""
    return evidence_package(app, loan_id, as_of, purpose="litigation")


def evidence_package(
    app: App, loan_id: str, as_of: date, *, purpose: str, locale: str = "zh-CN"
) -> tuple[bytes, dict[str, Any]]:
    """``loan_id``'s evidence as a PDF titled by its ``purpose``: the statement, payments,
    promises (who took each), every contact (in the business timezone, with the collector and
    what was noted or sent, and its evidence hash), holds and complaints; and an index."""
    from arrears.service.queries.evidence_search import account_evidence

    if purpose not in PURPOSES:
        raise Invalid(f"purpose: expected one of {', '.join(PURPOSES)}, got {purpose!r}")
    require_current(app)
    found = account_evidence(app, loan_id, as_of)
    zone = ZoneInfo(app.settings.business_timezone)

    def local(at: Any) -> str:
        return "" if at is None else as_utc(at).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    with app.engine.connect() as conn:
        f = loan_facts(conn, [loan_id])[loan_id]
    contacts = [
        {
            "at": local(r["at"]),
            "channel": r["channel"],
            "role": r["role"],
            "result": r["disposition"] or r["result"],
            "collector": r["collector_id"] or "",
            "said": app.cipher.open_text(CONTENT, r["content"]) or r["subject"] or "",
            "hash": evidence_hash(app, SimpleNamespace(**r)),
        }
        for r in found.contacts
    ]
    promises = [
        {
            "made_at": local(p["made_at"]),
            "due_on": p["due_on"].isoformat(),
            "amount": p["amount"],
            "status": p["status"],
            "by": p["made_by"] or p["source"] or "",
        }
        for p in sorted(found.promises, key=lambda p: (p["made_at"], p["promise_id"]))
    ]
    payments = [
        {"paid_on": p["paid_on"].isoformat(), "amount": p["amount"], "status": p["status"]}
        for p in sorted(found.payments, key=lambda p: (p["paid_on"], p["payment_id"]))
    ]
    holds = [
        {"kind": h["kind"], "from": local(h["starts_at"]), "to": local(h["ends_at"])}
        for h in found.holds
    ]
    complaints = [
        {"at": local(c["received_at"]), "category": c["category"], "status": c["status"]}
        for c in found.complaints
    ]
    page = documents.evidence_html(
        found.statement,
        purpose=purpose,
        name=app.cipher.decrypt("borrower.name", f.name_enc) or "",
        loan_id=loan_id,
        creditor=f.creditor,
        currency=f.currency,
        locale=locale,
        zone=app.settings.business_timezone,
        payments=payments,
        promises=promises,
        contacts=contacts,
        holds=holds,
        complaints=complaints,
    )
    return documents.to_pdf(page), {
        "loan_id": loan_id,
        "purpose": purpose,
        "as_of": as_of.isoformat(),
        "payments": len(payments),
        "promises": len(promises),
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
