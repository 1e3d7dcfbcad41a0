"""An account in one screen, as staff see it: the borrower (personal data masked by role), the
loans with their statements, the timeline of contacts, payments, promises, holds, complaints
and arrangements, the live compliance state, and who may see it at all.

Who sees what:

* an agency user sees only accounts with a live placement at their agency, a collector those
  in their queues, their own work or opened by break-glass (:func:`can_see`, :mod:`.scope`);
* names, phone numbers, emails, addresses and national ids are masked for every role except
  compliance and admin (:data:`UNMASKED_ROLES`); a collector sees the last four digits of a
  number, enough to confirm it with the borrower;
* every view of a borrower's personal data is logged (``access_log``): who, when, masked or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from arrears.bootstrap import App
from arrears.service.books.statements import statement_for_loan
from arrears.service.errors import NotFound
from arrears.service.outreach.call_state import call_state
from arrears.service.outreach.verify import CONTENT
from arrears.service.staff.masking import Known, mask, mask_text
from arrears.service.staff.users import Staff, log_access
from arrears.store import tables as t
from arrears.store.db import as_utc

UNMASKED_ROLES = frozenset({"compliance", "admin"})
#: the holds' names in the Chinese account state (arrears.compliance.rulebook.HOLD_KINDS)
_HOLD_ZH = {
    "cease_request": "要求停止联系",
    "attorney_represented": "已委托律师",
    "bankruptcy": "破产",
    "deceased": "已身故",
    "dispute": "债务异议",
    "complaint": "投诉",
    "legal": "法律程序",
    "hardship": "困难申请",
}


def can_see(app: App, user: Staff, loan_id: str) -> bool:
    """Whether ``user`` may open ``loan_id`` now (:mod:`.scope`: an agency user only while it
    is placed with them; a collector within their queues, their own work or a break-glass)."""
    from arrears.service.staff.scope import in_scope

    return in_scope(app, user, loan_id)


@dataclass
class Account:
    loan_id: str
    borrower: dict[str, Any]
    loans: list[dict[str, Any]]
    statement: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    compliance: list[str] = field(default_factory=list)
    compliance_zh: list[str] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    arrangements: list[dict[str, Any]] = field(default_factory=list)
    stage: str | None = None
    creditor: str = ""


def account(app: App, user: Staff, loan_id: str) -> Account:
    """The account of ``loan_id`` as ``user`` may see it; logs the view of personal data."""
    if not can_see(app, user, loan_id):
        raise NotFound(
            f"loan_id: {loan_id} is not in the store", field="loan_id"
        )  # no hint it exists
    st = statement_for_loan(app, loan_id, app.today())
    with app.engine.connect() as conn:
        loan = conn.execute(select(t.loan).where(t.loan.c.loan_id == loan_id)).mappings().one()
        bid = loan["borrower_id"]
        unmasked = user.role in UNMASKED_ROLES
        who, known = _borrower(app, conn, bid, unmasked)
        loans = [
            dict(r)
            for r in conn.execute(
                select(
                    t.loan.c.loan_id, t.loan.c.principal, t.loan.c.currency, t.loan.c.portfolio_id
                )
                .where(t.loan.c.borrower_id == bid)
                .order_by(t.loan.c.loan_id)
            ).mappings()
        ]
        stage = conn.execute(
            select(t.account_stage.c.stage).where(t.account_stage.c.loan_id == loan_id)
        ).scalar()
        holds = _holds(app, conn, bid, loan_id)
        timeline = _timeline(app, conn, bid, loan_id)
        if not unmasked:  # what people wrote and heard, not only the fields
            for e in timeline:
                e["detail"] = mask_text(str(e.get("detail") or ""), known)
        out = Account(loan_id, who, loans, st, timeline, holds=holds, stage=stage)
        out.arrangements = [
            _masked_reason(dict(r), known, unmasked)
            for r in conn.execute(
                select(t.arrangement)
                .where(t.arrangement.c.loan_id == loan_id)
                .order_by(t.arrangement.c.proposed_at)
            ).mappings()
        ]
        out.creditor = str(
            conn.execute(
                select(t.portfolio.c.creditor).where(
                    t.portfolio.c.portfolio_id == loan["portfolio_id"]
                )
            ).scalar()
            or ""
        )
    out.compliance, out.compliance_zh = _live_state(app, loan_id, holds)
    log_access(app, user, bid, "account", user.role in UNMASKED_ROLES)
    return out


def known_of(app: App, borrower_id: str) -> Known:
    """What is personal about a borrower, to mask inside what was written or said."""
    with app.engine.connect() as conn:
        return _borrower(app, conn, borrower_id, False)[1]


def _borrower(app: App, conn: Any, bid: str, unmasked: bool) -> tuple[dict[str, Any], Known]:
    """The borrower as ``unmasked`` or not may see them, and what is personal about them (to
    mask inside free text too)."""
    b = conn.execute(select(t.borrower).where(t.borrower.c.borrower_id == bid)).mappings().one()
    dec = app.cipher.decrypt
    name = dec("borrower.name", b["name_enc"])
    nid = dec("borrower.national_id", b["national_id_enc"])
    known = Known()
    known.add("name", name)
    known.add("national_id", nid)
    points = []
    for p in conn.execute(
        select(t.contact_point)
        .where(t.contact_point.c.borrower_id == bid)
        .order_by(t.contact_point.c.contact_id)
    ).mappings():
        value = dec("contact_point.value", p["value_enc"])
        known.add(p["kind"], value)
        points.append(
            {
                "kind": p["kind"],
                "owner_role": p["owner_role"],
                "relation": p["relation"],
                "valid": p["is_valid"],
                "primary": p["is_primary"],
                "opt_outs": p["opt_outs"],
                "value": value if unmasked else mask(value, p["kind"]),
            }
        )
    return {
        "borrower_id": bid,
        "name": name if unmasked else mask(name, "name"),
        "national_id": nid if unmasked else mask(nid, "national_id"),
        "locale": b["locale"],
        "timezone": b["timezone"],
        "consents": b["consents"],
        "contact_window": b["contact_window"],
        "preferred_channel": b["preferred_channel"],
        "points": points,
        "masked": not unmasked,
    }, known


def _masked_reason(row: dict[str, Any], known: Known, unmasked: bool) -> dict[str, Any]:
    if not unmasked and row.get("reason"):
        row["reason"] = mask_text(str(row["reason"]), known)
    return row


def _timeline(app: App, conn: Any, bid: str, loan_id: str) -> list[dict[str, Any]]:
    """Contacts, payments, promises, holds, complaints and arrangements, newest first (an
    ended hold's end too; a hold set to expire shows its end before it comes). Each event says
    ``what`` in English and, for a page to word in its reader's language, the codes it is made
    of (``status``, ``result``, ``hold`` and ``edge``, ``category``, ``arrangement``...)."""
    events: list[dict[str, Any]] = []
    ca = t.contact_attempt
    for c in conn.execute(
        select(ca).where(ca.c.borrower_id == bid).order_by(ca.c.at.desc()).limit(100)
    ).mappings():
        events.append(
            {
                "at": as_utc(c["at"]),
                "kind": "contact",
                "channel": c["channel"],
                "what": c["template"] or c["result"] or "",
                "template": c["template"],
                "result": c["result"],
                "who": c["collector_id"],
                "detail": (app.cipher.open_text(CONTENT, c["content"]) or "")[:200],
                "direction": c["direction"],
            }
        )
    for p in conn.execute(select(t.payment).where(t.payment.c.loan_id == loan_id)).mappings():
        at = p["posted_at"] or datetime.combine(p["paid_on"], time(12), ZoneInfo("UTC"))
        events.append(
            {
                "at": as_utc(at),
                "kind": "payment",
                "what": p["status"],
                "status": p["status"],
                "amount": p["amount"],
                "detail": p["payment_id"],
                "who": p["source"],
            }
        )
    for p in conn.execute(select(t.promise).where(t.promise.c.loan_id == loan_id)).mappings():
        events.append(
            {
                "at": as_utc(p["made_at"]),
                "kind": "promise",
                "what": p["status"],
                "status": p["status"],
                "amount": p["amount"],
                "detail": f"by {p['due_on']}",
                "due_on": p["due_on"],
                "who": p["made_by"],
            }
        )
    h = t.hold
    for x in conn.execute(
        select(h).where(h.c.borrower_id == bid, or_(h.c.loan_id.is_(None), h.c.loan_id == loan_id))
    ).mappings():
        events.append(
            {
                "at": as_utc(x["starts_at"]),
                "kind": "hold",
                "what": f"{x['kind']} starts",
                "hold": x["kind"],
                "edge": "starts",
                "detail": x["reason"] or "",
                "who": x["created_by"],
            }
        )
        if x["ends_at"] is not None:
            events.append(
                {
                    "at": as_utc(x["ends_at"]),
                    "kind": "hold",
                    "what": f"{x['kind']} ends",
                    "hold": x["kind"],
                    "edge": "ends",
                    "detail": x["end_reason"] or "",
                    "who": x["ended_by"],
                }
            )
    for c in conn.execute(select(t.complaint).where(t.complaint.c.borrower_id == bid)).mappings():
        events.append(
            {
                "at": as_utc(c["received_at"]),
                "kind": "complaint",
                "what": f"{c['category']} ({c['status']})",
                "category": c["category"],
                "status": c["status"],
                "detail": (c["description"] or "")[:200],
                "who": c["source"],
            }
        )
    for a in conn.execute(
        select(t.arrangement).where(t.arrangement.c.loan_id == loan_id)
    ).mappings():
        events.append(
            {
                "at": as_utc(a["proposed_at"]) if a["proposed_at"] else None,
                "kind": "arrangement",
                "what": f"{a['kind']} ({a['status']})",
                "arrangement": a["kind"],
                "status": a["status"],
                "detail": a["reason"] or "",
                "who": a["proposed_by"],
            }
        )
    return sorted((e for e in events if e["at"] is not None), key=lambda e: e["at"], reverse=True)


def _holds(app: App, conn: Any, bid: str, loan_id: str) -> list[dict[str, Any]]:
    h = t.hold
    now = app.clock()
    rows = conn.execute(
        select(h).where(
            h.c.borrower_id == bid,
            or_(h.c.loan_id.is_(None), h.c.loan_id == loan_id),
            or_(h.c.ends_at.is_(None), h.c.ends_at > now),
        )
    ).mappings()
    return [dict(r) for r in rows if as_utc(r["starts_at"]) <= now]


def _live_state(app: App, loan_id: str, holds: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """What the gate allows now, in words (en, zh-CN): asked of the gate itself
    (:func:`arrears.service.outreach.call_state.call_state`), never worked out here."""
    state = call_state(app, loan_id)
    en: list[str] = []
    zh: list[str] = []
    if state is None:
        return en, zh
    if holds:
        kinds = sorted({h["kind"] for h in holds})
        en.append(f"on hold ({', '.join(kinds)}): no collection contact")
        named = "、".join(_HOLD_ZH.get(k, k) for k in kinds)
        zh.append(f"暂停催收（{named}）：不得联系")
    tz = ZoneInfo(state.timezone)
    if state.allowed and state.until is not None:
        until = state.until.astimezone(tz)
        en.append(f"may call until {until:%H:%M} ({state.timezone})")
        zh.append(f"可致电至 {until:%H:%M}（{state.timezone}）")
    elif state.refusals:
        first = state.refusals[0]
        when = state.earliest.astimezone(tz) if state.earliest else None
        en.append(
            f"no calls now: {first.reason}"
            + (f"; next allowed {when:%m-%d %H:%M} ({state.timezone})" if when else "")
        )
        zh.append(
            f"当前不可致电：{first.reason_zh}"
            + (f"；最早 {when:%m-%d %H:%M}（{state.timezone}）" if when else "")
        )
    if state.limit is not None:
        en.append(f"{state.connected} of {state.limit} connected calls used today")
        zh.append(f"今日已接通 {state.connected}/{state.limit} 次")
    if state.rulebook.third_party.require_borrower_unreachable:
        en.append("emergency contacts not allowed while the borrower can be reached")
        zh.append("可联系到借款人时不得联系紧急联系人")
    return en, zh
