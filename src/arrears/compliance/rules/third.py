"""third_party: contacting someone other than the debtor (an emergency contact, a relative).

Only when the borrower is unreachable (cn: at least N consecutive failed attempts on every
known borrower number, or every number out of service), never revealing the debt, and never
again after that person refused contact."""

from __future__ import annotations

from arrears.compliance.facts import CALLS, CONNECTED, FAILED, Request, Violation
from arrears.compliance.lint import load as lexicon
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules.helpers import index

THIRD = frozenset({"emergency_contact", "third_party"})


def _unreachable(req: Request, needed: int) -> bool:
    calls = sorted(
        (
            e
            for e in index(req).past
            if e.kind in CALLS
            and e.role in (None, "debtor")
            and e.direction == "outbound"
            and e.destination
        ),
        key=lambda e: e.at,
    )
    numbers: dict[str, list[str | None]] = {}
    for e in calls:
        numbers.setdefault(str(e.destination), []).append(e.result)
    if not numbers:
        return False
    for results in numbers.values():
        if results[-1] == "not_in_service":
            continue
        tail = results[-needed:]
        if len(tail) < needed or any(r not in FAILED or r in CONNECTED for r in tail):
            return False
    return True


def check(req: Request, book: Rulebook) -> list[Violation]:
    a = req.attempt
    if a.role not in THIRD:
        return []
    rules = book.third_party
    out = []
    refused = [
        e for e in index(req).past if e.kind == "refused_contact" and e.person_id == a.person_id
    ]
    if rules.stop_after_refusal and refused:
        out.append(
            Violation(
                f"{book.id}.third_party.refused",
                f"this person refused contact on {refused[0].at.date()}",
                f"该联系人已于 {refused[0].at.date()} 拒绝再被联系",
                None,
            )
        )
    if rules.require_borrower_unreachable and not _unreachable(
        req, rules.failed_attempts_per_number
    ):
        out.append(
            Violation(
                f"{book.id}.third_party.borrower_reachable",
                f"the borrower is not shown unreachable ({rules.failed_attempts_per_number} "
                "consecutive failed attempts on every known number, or all numbers invalid)",
                f"未证明借款人失联（每个已知号码连续 {rules.failed_attempts_per_number} 次未接通，"
                "或全部号码无效），不得联系第三方",
                None,
            )
        )
    if rules.no_debt_content and a.content:
        hits = lexicon(tuple(book.content.lexicon)).reveals_debt(a.content)
        if hits:
            words = ", ".join(h.term for h in hits)
            out.append(
                Violation(
                    f"{book.id}.third_party.reveals_debt",
                    f"the message to a third party reveals the debt ({words})",
                    f"发给第三方的内容透露了债务信息（{words}）",
                    None,
                )
            )
    return out
