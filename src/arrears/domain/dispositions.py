"""What a worked call or visit came to, in the words collections uses, and why the borrower fell
behind. The dial result (connected, no answer ...) says whether someone answered; the
disposition says who it was and what they said. The pages' words for each code are in
:mod:`arrears.web.labels`."""

from __future__ import annotations

#: what a contact came to, once someone answered
DISPOSITIONS = (
    "right_party",  # spoke with the borrower
    "promise",  # a promise to pay taken
    "refused",  # refused to pay
    "dispute",  # disputes the debt
    "hardship",  # cannot pay: hardship
    "deceased",
    "bankrupt",
    "third_party",  # someone else answered (no disclosure of the debt)
    "wrong_party",  # the number is not the borrower's
)

#: dispositions where the collector spoke with the borrower: right-party contacts
RIGHT_PARTY = frozenset({"right_party", "promise", "refused", "dispute", "hardship"})

#: dispositions that start a hold at once (collection stops until someone reviews it), by the
#: hold's kind
HOLDS = {"dispute": "dispute", "deceased": "deceased", "bankrupt": "bankruptcy"}

#: the borrower's reason for falling behind, kept on the account for strategies
REASONS = (
    "job_loss",
    "income_drop",
    "illness",
    "business_failure",
    "family",
    "over_indebted",
    "forgot",
    "dispute",
    "fraud",
    "other",
)
