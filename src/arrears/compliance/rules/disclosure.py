"""disclosure: what a contact must carry or how it must be made: self-identification, the
opt-out notice in electronic messages, the fields of a collection letter, two collectors on a
home visit."""

from __future__ import annotations

from arrears.compliance.facts import Request, Violation
from arrears.compliance.lint import normalise
from arrears.compliance.rulebook import MarkerRule, Rulebook


def _missing(rule: MarkerRule | None, channel: str, text: str) -> list[str]:
    if rule is None or channel not in rule.channels:
        return []
    plain = normalise(text)
    return [
        group
        for group, markers in rule.groups.items()
        if not any(normalise(m) in plain for m in markers)
    ]


def check(req: Request, book: Rulebook) -> list[Violation]:
    a = req.attempt
    d = book.disclosure
    out = []
    if a.channel == "visit" and d.visit_min_collectors is not None:
        if (a.collectors or 0) < d.visit_min_collectors:
            out.append(
                Violation(
                    f"{book.id}.disclosure.visit_collectors",
                    f"a home visit needs at least {d.visit_min_collectors} collectors "
                    f"(got {a.collectors or 0})",
                    f"上门拜访至少需要 {d.visit_min_collectors} 名催收人员"
                    f"（当前 {a.collectors or 0} 名）",
                    None,
                )
            )
    if not a.content:
        return out
    checks = (
        (
            "identify_self",
            d.identify_self,
            "does not identify the collector and organisation",
            "未表明催收人员及所属机构身份",
        ),
        ("opt_out_notice", d.opt_out_notice, "carries no opt-out notice", "未包含退订方式"),
        ("letter_fields", d.letter_fields, "lacks required letter fields", "催收函缺少必备要素"),
    )
    for name, rule, en, zh in checks:
        missing = _missing(rule, a.channel, a.content)
        if missing:
            out.append(
                Violation(
                    f"{book.id}.disclosure.{name}",
                    f"the {a.channel} {en}: {', '.join(missing)}",
                    f"{zh}：{', '.join(missing)}",
                    None,
                )
            )
    return out
