"""content: nothing the conduct screen flags (threats, third-party disclosure, exposure,
impersonation, false consequences, insults, new borrowing, harassment); no threat of suit on a
time-barred debt."""

from __future__ import annotations

from arrears.compliance.conduct.screen import check as screen
from arrears.compliance.facts import Request, Violation
from arrears.compliance.lint import load as lexicon
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules.third import THIRD


def check(req: Request, book: Rulebook) -> list[Violation]:
    text = req.attempt.content
    if not text:
        return []
    decision = screen(text)
    out: list[Violation] = []
    # to a third party, what may be said about the debt is third_party's to judge
    # (reveals_debt); the screen's third_party category is about telling the borrower so
    to_third = req.attempt.role in THIRD
    for category in dict.fromkeys(f.category for f in decision.findings):
        if to_third and category == "third_party":
            continue
        mine = [f for f in decision.findings if f.category == category]
        out.append(
            Violation(
                f"{book.id}.content.{category}",
                "prohibited language, " + "; ".join(f.reason_en for f in mine),
                "含有禁止用语，" + "；".join(f.reason_zh for f in mine),
                None,
            )
        )
    lx = lexicon(tuple(book.content.lexicon))
    barred = {d.debt_id for d in req.debts if d.time_barred}
    if book.content.no_suit_threat_on_time_barred_debt and barred & set(req.attempt.debt_ids):
        hits = lx.threatens_suit(text)
        if hits:
            out.append(
                Violation(
                    f"{book.id}.content.time_barred_suit",
                    f"threatens suit ({hits[0].term!r}) on a time-barred debt",
                    f"对已过诉讼时效的债务威胁起诉（{hits[0].term}）",
                    None,
                )
            )
    return out
