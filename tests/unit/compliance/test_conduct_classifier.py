"""The conduct classifier: the same corpus gives the same model; its scorer for one text at a
time computes what the scikit-learn pipeline does; the pinyin form reads
pinyin-written Chinese as the characters; every verdict carries its category and risk; a
training set without a label is refused."""

from __future__ import annotations

import pytest

from arrears.compliance.conduct import ALLOWED, CATEGORIES, LABELS
from arrears.compliance.conduct.classifier import spoken, train, written
from arrears.compliance.conduct.corpus import Line, read


def _few(families: int) -> list[Line]:
    keep: dict[str, list[str]] = {}
    for x in read():
        fams = keep.setdefault(x.label, [])
        if x.family not in fams and len(fams) < families:
            fams.append(x.family)
    chosen = {f for fams in keep.values() for f in fams}
    return [x for x in read() if x.family in chosen]


def test_the_forms_see_through_spacing_width_script_and_pinyin() -> None:
    assert written("報 * 警，ＣＡＬＬ") == written("报警call")
    assert spoken("报警") == spoken("bao jing") == spoken("Bao-Jing") == "baojing"


def test_the_same_lines_train_the_same_model_and_verdicts_are_whole() -> None:
    lines = _few(6)
    texts = [x.text for x in lines[:40]]
    a, b = train(lines), train(lines)
    va, vb = a.verdicts(texts), b.verdicts(texts)
    assert [v.scores for v in va] == [v.scores for v in vb]
    for v in va:
        assert set(v.scores) == set(LABELS)
        assert abs(sum(v.scores.values()) - 1) < 1e-9
        assert v.risk == pytest.approx(1 - v.scores[ALLOWED])
        assert (v.category is None) == (v.risk < a.threshold)
        assert v.category is None or v.category in CATEGORIES


def test_the_fast_scorer_computes_what_the_pipeline_does() -> None:
    lines = _few(8)
    c = train(lines)
    texts = [x.text for x in read()[::37]] + ["", "!!!", "ＡＢＣ", "还钱"]
    expected = c.pipeline.predict_proba(texts)
    for text, row in zip(texts, expected, strict=True):
        got = c.scorer.probabilities(text)
        assert list(c.scorer.labels) == list(c.pipeline.classes_)
        assert max(abs(got - row)) < 1e-12, text


def test_training_without_every_label_is_refused() -> None:
    lines = [x for x in _few(3) if x.label != "insult"]
    with pytest.raises(ValueError, match="insult"):
        train(lines)
