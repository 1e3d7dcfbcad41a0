"""The statistical layer of the conduct screen: character n-grams of two forms of the text, a
linear model over them.

* the written form: :func:`arrears.compliance.lint.normalise` (NFKC, so full-width letters are
  ASCII; lower case; traditional to simplified; only letters and digits, so "报 * 警" is
  "报警"), n-grams of 1 to 4 characters;
* the spoken form: the written form with every Chinese character replaced by its pinyin
  (pypinyin), so "报警", "bao jing" and "baojing" read the same; n-grams of 3 to 6.

Both weighted by TF-IDF (sublinear), then a multinomial logistic regression over the labels
(the eight categories and "allowed"), classes balanced. Training is deterministic: the same
corpus gives the same model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from arrears.compliance.conduct import ALLOWED, LABELS
from arrears.compliance.conduct.corpus import Line, read
from arrears.compliance.lint import normalise


def written(text: str) -> str:
    return normalise(text)


def spoken(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(normalise(text)))


@dataclass(frozen=True)
class Verdict:
    """``category``: the most likely category when the text is flagged, else None;
    ``risk``: the probability it is not allowed; ``scores``: every label's probability."""

    category: str | None
    risk: float
    scores: dict[str, float]


#: the risk from which a text is flagged
THRESHOLD = 0.5


@dataclass(frozen=True)
class Classifier:
    pipeline: Any
    threshold: float = THRESHOLD

    def verdicts(self, texts: Sequence[str]) -> list[Verdict]:
        labels = list(self.pipeline.classes_)
        allowed = labels.index(ALLOWED)
        out = []
        for row in self.pipeline.predict_proba(list(texts)):
            scores = {label: float(p) for label, p in zip(labels, row, strict=True)}
            risk = 1.0 - float(row[allowed])
            best = max((s, label) for label, s in scores.items() if label != ALLOWED)[1]
            out.append(Verdict(best if risk >= self.threshold else None, risk, scores))
        return out

    def verdict(self, text: str) -> Verdict:
        return self.verdicts([text])[0]


def train(lines: Sequence[Line], *, threshold: float = THRESHOLD, c: float = 8.0) -> Classifier:
    """A classifier trained on ``lines`` (every label must be among them)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    missing = set(LABELS) - {x.label for x in lines}
    if missing:
        raise ValueError(f"training lines lack the labels {sorted(missing)}")
    features = FeatureUnion(
        [
            (
                "written",
                TfidfVectorizer(
                    analyzer="char",
                    ngram_range=(1, 4),
                    preprocessor=written,
                    lowercase=False,
                    sublinear_tf=True,
                    min_df=2,
                    dtype=np.float64,
                ),
            ),
            (
                "spoken",
                TfidfVectorizer(
                    analyzer="char",
                    ngram_range=(3, 6),
                    preprocessor=spoken,
                    lowercase=False,
                    sublinear_tf=True,
                    min_df=2,
                    dtype=np.float64,
                ),
            ),
        ]
    )
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    pipeline = make_pipeline(features, model)
    pipeline.fit([x.text for x in lines], [x.label for x in lines])
    return Classifier(pipeline, threshold)


@lru_cache(maxsize=1)
def default() -> Classifier:
    """The classifier trained on the corpus shipped with arrears (trained once a process)."""
    return train(read())
