"""The conduct classifier: the same corpus gives the same model; its scorer for one text at a
time computes what the scikit-learn pipeline does; the pinyin form reads
pinyin-written Chinese as the characters; every verdict carries its category and risk; a
training set without a label is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.compliance.conduct import ALLOWED, CATEGORIES, LABELS
from arrears.compliance.conduct.classifier import Scorer, default, spoken, train, written
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


def test_a_saved_scorer_reads_back_the_same(tmp_path: Path) -> None:
    c = train(_few(6))
    path = tmp_path / "m.npz"
    c.scorer.save(path)
    back = Scorer.load(path)
    texts = [x.text for x in read()[::53]] + ["", "bao jing"]
    for text in texts:
        assert max(abs(back.probabilities(text) - c.scorer.probabilities(text))) < 1e-15, text
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, then moved into place


def test_the_default_model_is_cached_and_a_damaged_cache_is_trained_around(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_CACHE_DIR", str(tmp_path))
    default.cache_clear()
    try:
        first = default()
        (saved,) = tmp_path.glob("conduct-*.npz")
        default.cache_clear()
        again = default()
        assert again.pipeline is None  # read from the cache, not trained
        text = "你再不还钱我们就通知你单位领导"
        assert again.verdict(text).risk == pytest.approx(first.verdict(text).risk, abs=1e-12)
        saved.write_bytes(b"not a model")
        default.cache_clear()
        retrained = default()
        assert retrained.pipeline is not None
        assert Scorer.load(saved).labels == retrained.scorer.labels  # rewritten whole
    finally:
        default.cache_clear()
