"""content: no prohibited language; no threat of suit on a time-barred debt."""

from __future__ import annotations

from arrears.compliance.facts import Request, Violation
from arrears.compliance.lint import load as lexicon
from arrears.compliance.rulebook import Rulebook

CATEGORY_ZH = {
    "threat": "威胁恐吓",
    "insult": "侮辱谩骂",
    "impersonation": "冒充公检法",
    "fake_blacklist": "虚假黑名单",
    "exaggerated_legal": "夸大法律后果",
    "new_borrowing": "诱导借新还旧",
    "third_party_disclosure": "向第三方披露债务",
}


def check(req: Request, book: Rulebook) -> list[Violation]:
    text = req.attempt.content
    if not text:
        return []
    lx = lexicon(tuple(book.content.lexicon))
    out = [
        Violation(
            f"{book.id}.content.{hit.category}",
            f"prohibited language ({hit.category.replace('_', ' ')}): {hit.term!r}",
            f"含有禁止用语（{CATEGORY_ZH[hit.category]}）：{hit.term}",
            None,
        )
        for hit in lx.prohibited(text)
    ]
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
