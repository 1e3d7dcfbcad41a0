"""Conduct screening of what people write and say to borrowers: the labelled corpus
(``corpus.jsonl``), the statistical classifier trained on it (:mod:`.classifier`) and its honest
measurement (:mod:`.measure`: grouped by paraphrase family, with bootstrap intervals, on the
held-out sets under ``tests/heldout/conduct`` that whoever tunes the screen never reads).

Imports the compliance layer's normalisation only; nothing here touches the store."""

#: what the screen must catch (docs/COMPLIANCE.md, "Conduct"); "allowed" is everything else
CATEGORIES = (
    "threat",
    "third_party",
    "exposure",
    "impersonation",
    "false_consequence",
    "insult",
    "new_borrowing",
    "harassment",
)
ALLOWED = "allowed"
LABELS = (*CATEGORIES, ALLOWED)
