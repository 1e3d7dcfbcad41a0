"""The conduct corpus reads strictly (the file, the line and the field at fault), and the
measures are honest: folds never split a paraphrase family, shares are counted as defined, and
the bootstrap interval holds the share and narrows as families are added."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from arrears.compliance.conduct import CATEGORIES, LABELS
from arrears.compliance.conduct.corpus import CORPUS, CorpusError, Line, read
from arrears.compliance.conduct.measure import (
    Scored,
    figure,
    folds,
    grouped_cv,
    named,
    precision,
    recall,
)


def _line(i: int, label: str, family: str | None = None) -> Line:
    return Line(f"x{i}", family or f"f{i}", label, "en", "sms", f"text {i}")


def test_the_shipped_corpus_reads_and_holds_every_label_in_families() -> None:
    lines = read(CORPUS)
    assert len(lines) >= 4000
    by_label = {label: {x.family for x in lines if x.label == label} for label in LABELS}
    assert all(len(fams) >= 30 for fams in by_label.values()), {
        k: len(v) for k, v in by_label.items()
    }
    sizes: dict[str, int] = {}
    for x in lines:
        sizes[x.family] = sizes.get(x.family, 0) + 1
    assert min(sizes.values()) >= 3  # paraphrase families, not single lines


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ("{not json", "bad.jsonl, line 2: not JSON"),
        ('["a"]', "bad.jsonl, line 2: an object is needed"),
        (
            '{"id": "b", "family": "g", "label": "rude", "lang": "en", "channel": "sms", '
            '"text": "t"}',
            "bad.jsonl, line 2, field label: 'rude' is not one of",
        ),
        (
            '{"id": "a", "family": "g", "label": "insult", "lang": "en", "channel": "sms", '
            '"text": "t"}',
            "bad.jsonl, line 2, field id: a again",
        ),
        (
            '{"id": "b", "family": "f", "label": "insult", "lang": "en", "channel": "sms", '
            '"text": "t"}',
            "bad.jsonl, line 2, field label: family f is threat, not insult",
        ),
        (
            '{"id": "b", "family": "g", "label": "insult", "lang": "en", "channel": "sms", '
            '"text": " "}',
            "bad.jsonl, line 2, field text: a non-empty string is needed",
        ),
    ],
)
def test_a_bad_corpus_line_is_named(tmp_path: Path, row: str, said: str) -> None:
    good = {"id": "a", "family": "f", "label": "threat", "lang": "en", "channel": "sms"}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**good, "text": "t"}) + "\n" + row + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as raised:
        read(path)
    assert said in str(raised.value)


def test_folds_keep_families_whole_and_cover_every_line() -> None:
    lines = [_line(i, "threat", f"f{i % 13}") for i in range(100)]
    parts = folds(lines, 4)
    assert sorted(x.id for p in parts for x in p) == sorted(x.id for x in lines)
    homes = {x.family: k for k, p in enumerate(parts) for x in p}
    assert all(homes[x.family] == k for k, p in enumerate(parts) for x in p)
    assert all(parts)


def test_folds_deal_every_labels_families_round_them() -> None:
    lines = [_line(i, LABELS[i % 9], f"f{i % 45}") for i in range(450)]  # 5 families a label
    for k in (2, 3, 5):
        for part in folds(lines, k, seed=k):
            assert {x.label for x in part} == set(LABELS)


def test_shares_are_counted_as_defined() -> None:
    rows = [
        Scored(_line(1, "threat"), "threat"),  # caught, named
        Scored(_line(2, "threat"), "insult"),  # caught, misnamed
        Scored(_line(3, "threat"), None),  # missed
        Scored(_line(4, "allowed"), "insult"),  # a false alarm
        Scored(_line(5, "allowed"), None),
        Scored(_line(6, "insult"), "insult"),
    ]
    assert precision(rows) == (3, 4)
    assert recall(rows) == (3, 4)
    assert recall(rows, "threat") == (2, 3)
    assert named(rows, "threat") == (1, 3)
    assert recall(rows, "harassment") == (0, 0)


def test_the_interval_holds_the_share_and_narrows_with_more_families() -> None:
    def rows(families: int) -> list[Scored]:
        return [
            Scored(_line(f * 10 + k, "threat", f"f{f}"), "threat" if (f + k) % 4 else None)
            for f in range(families)
            for k in range(3)
        ]

    small, big = figure(rows(12), recall, draws=400), figure(rows(120), recall, draws=400)
    for f in (small, big):
        assert f.low is not None and f.high is not None and f.value is not None
        assert f.low <= f.value <= f.high
    assert (big.high or 0) - (big.low or 0) < (small.high or 0) - (small.low or 0)
    assert figure([], recall).value is None


def test_grouped_cv_never_scores_a_line_with_its_own_family_in_training() -> None:
    lines = [_line(i, CATEGORIES[i % 3], f"f{i // 3}") for i in range(60)]
    trained_on: list[set[str]] = []

    def train(seen: Sequence[Line]):  # type: ignore[no-untyped-def]
        trained_on.append({x.family for x in seen})
        return lambda texts: [None for _ in texts]

    rows = grouped_cv(train, lines, k=5)
    assert len(rows) == len(lines) and len(trained_on) == 5
    # each fold's model saw none of the families it then scored
    parts = folds(lines, 5)
    for seen, held in zip(trained_on, parts, strict=True):
        assert not seen & {x.family for x in held}
