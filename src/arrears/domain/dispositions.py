"""What a worked call or visit came to, in the words collections uses, and why the borrower fell
behind. The dial result (connected, no answer ...) says whether someone answered; the
disposition says who it was and what they said. Labels are (en, zh-CN)."""

from __future__ import annotations

#: what a contact came to, once someone answered
DISPOSITIONS: dict[str, tuple[str, str]] = {
    "right_party": ("Right-party contact", "本人接听"),
    "promise": ("Promise to pay", "承诺还款"),
    "refused": ("Refused to pay", "拒绝还款"),
    "dispute": ("Disputes the debt", "对债务有异议"),
    "hardship": ("Hardship", "经济困难"),
    "deceased": ("Deceased", "本人已故"),
    "bankrupt": ("Bankrupt", "已破产"),
    "third_party": ("Third party reached", "第三方接听"),
    "wrong_party": ("Wrong party (not the borrower's number)", "非本人（号码有误）"),
}

#: dispositions where the collector spoke with the borrower: right-party contacts
RIGHT_PARTY = frozenset({"right_party", "promise", "refused", "dispute", "hardship"})

#: dispositions that start a hold at once (collection stops until someone reviews it), by the
#: hold's kind
HOLDS = {"dispute": "dispute", "deceased": "deceased", "bankrupt": "bankruptcy"}

#: the borrower's reason for falling behind, kept on the account for strategies
REASONS: dict[str, tuple[str, str]] = {
    "job_loss": ("Lost their job", "失业"),
    "income_drop": ("Income fell", "收入减少"),
    "illness": ("Illness or injury", "疾病或受伤"),
    "business_failure": ("Business failing", "经营困难"),
    "family": ("Family emergency", "家庭变故"),
    "over_indebted": ("Too many debts", "多头负债"),
    "forgot": ("Forgot", "忘记还款"),
    "dispute": ("Disputes the debt", "对债务有异议"),
    "fraud": ("Says it is fraud or identity theft", "声称被冒用或欺诈"),
    "other": ("Other", "其他"),
}
