"""holds: facts that stop collection contact: cease communication, attorney representation,
bankruptcy, death, a dispute awaiting verification, a complaint or legal hold."""

from __future__ import annotations

from datetime import datetime, timedelta

from arrears.compliance.calendar import add_business_days
from arrears.compliance.facts import Event, Request, Violation
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules.helpers import about, index

TEXT = {
    "cease_request": ("the person asked us to cease communication", "当事人已要求停止联系"),
    "attorney_represented": ("the person is represented by an attorney", "当事人已委托律师代理"),
    "bankruptcy": ("the person is in bankruptcy", "当事人处于破产程序中"),
    "deceased": ("the person is deceased", "当事人已故"),
    "complaint": ("a complaint is under investigation", "投诉调查期间暂停催收"),
    "legal": ("the account is under legal action", "账户已进入法律程序"),
    "hardship": ("a hardship hold is in force", "困难帮扶期间暂停催收"),
}


def _hold_active(events: list[Event], hold: str, at: datetime, debts: tuple[str, ...]) -> bool:
    started = [
        e
        for e in events
        if e.kind == "hold"
        and e.hold == hold
        and about(e, debts)
        and (e.until is None or at < e.until)
    ]
    released = [e for e in events if e.kind == "hold_released" and e.hold == hold]
    return any(not any(r.at >= s.at for r in released) for s in started)


def _dispute_pending(req: Request, book: Rulebook, events: list[Event], debt: str) -> Event | None:
    rule = book.holds.dispute
    disputes = [e for e in events if e.kind == "dispute" and about(e, (debt,) if debt else ())]
    if rule.written_only:
        disputes = [e for e in disputes if e.written]
    if rule.within_validation_period:
        notices = [e for e in events if e.kind == "validation_notice_sent" and about(e, (debt,))]
        if notices:
            sent = min(n.at for n in notices).date()
            receipt = add_business_days(sent, rule.receipt_business_days)
            period_end = receipt + timedelta(days=rule.validation_days)
            disputes = [e for e in disputes if e.at.date() <= period_end]
    for d in sorted(disputes, key=lambda e: e.at):
        verified = any(
            e.kind == "verification_sent" and e.at >= d.at and about(e, (debt,) if debt else ())
            for e in events
        )
        if not verified:
            return d
    return None


def check(req: Request, book: Rulebook) -> list[Violation]:
    a = req.attempt
    ix = index(req)
    events = ix.past
    kinds = book.holds.kinds
    out = []
    for kind in ("cease_request", "attorney_represented", "bankruptcy", "deceased"):
        if kind not in kinds or not ix.of(kind):
            continue
        if kind == "cease_request" and a.purpose in book.holds.cease_allowed_purposes:
            continue
        en, zh = TEXT[kind]
        out.append(Violation(f"{book.id}.holds.{kind}", en, zh, None))
    holds = ix.of("hold") + ix.of("hold_released")
    for kind in ("complaint", "legal", "hardship"):
        if holds and kind in kinds and _hold_active(holds, kind, a.at, a.debt_ids):
            en, zh = TEXT[kind]
            out.append(Violation(f"{book.id}.holds.{kind}", en, zh, None))
    if "dispute" in kinds and ix.of("dispute"):
        for debt in a.debt_ids or ("",):
            d = _dispute_pending(req, book, events, debt)
            if d is not None:
                out.append(
                    Violation(
                        f"{book.id}.holds.dispute",
                        f"debt {debt} is disputed ({d.at.date()}) "
                        "and verification has not been sent",
                        f"债务 {debt} 已于 {d.at.date()} 提出异议，核实材料寄出前暂停催收",
                        None,
                    )
                )
    return out
