"""consent: no contact on a medium the person opted out of (for one destination or all)."""

from __future__ import annotations

from arrears.compliance.facts import MEDIUM, Request, Violation
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules.helpers import index


def check(req: Request, book: Rulebook) -> list[Violation]:
    if not book.consent.honour_opt_outs:
        return []
    a = req.attempt
    medium = MEDIUM[a.channel]
    for e in index(req).of("opt_out"):
        if e.medium != medium:
            continue
        if e.person_id not in (None, a.person_id):
            continue
        if e.destination is None or e.destination == a.destination:
            target = e.destination or "every destination"
            return [
                Violation(
                    f"{book.id}.consent.opt_out",
                    f"the person opted out of {medium} ({target}) on {e.at.date()}",
                    f"当事人已于 {e.at.date()} 退订{medium}渠道"
                    f"（{e.destination or '全部号码/地址'}）",
                    None,
                )
            ]
    return []
