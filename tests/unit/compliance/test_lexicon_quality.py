"""Precision and recall of the prohibited-language linter on a labelled set of sentences
(tests/data/lexicon_labelled.tsv: 150 written sentences, zh and en, and one evasion of each:
inserted spaces or dots, traditional characters, full-width forms, look-alike digits, capitals).
Label 1 = must be flagged; 0 = ordinary, lawful collection language that must pass."""

from __future__ import annotations

import csv
from pathlib import Path

from arrears.compliance.lint import load

DATA = Path(__file__).parents[2] / "data" / "lexicon_labelled.tsv"
PRECISION_FLOOR = 0.95
RECALL_FLOOR = 0.90


def scores() -> tuple[float, float, int, list[str], list[str]]:
    lx = load()
    with DATA.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    tp = fp = fn = 0
    missed: list[str] = []
    false_alarms: list[str] = []
    for row in rows:
        flagged = bool(lx.prohibited(row["sentence"]))
        if row["label"] == "1":
            tp += flagged
            if not flagged:
                fn += 1
                missed.append(row["sentence"])
        elif flagged:
            fp += 1
            false_alarms.append(row["sentence"])
    return tp / (tp + fp), tp / (tp + fn), len(rows), missed, false_alarms


def test_the_labelled_set_is_large_enough() -> None:
    assert scores()[2] >= 300


def test_precision_and_recall() -> None:
    precision, recall, n, missed, false_alarms = scores()
    assert precision >= PRECISION_FLOOR, false_alarms
    assert recall >= RECALL_FLOOR, missed
