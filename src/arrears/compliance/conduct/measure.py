"""How well the conduct screen does, measured honestly.

* **Grouped cross-validation** on the corpus: the folds split by paraphrase family, so a line is
  never scored by a model trained on its own paraphrases.
* **Held-out sets**: text written apart, by people who read only the category definitions, that
  whoever tunes the screen never reads (``tests/heldout/conduct``).
* **Intervals**: 95 % bootstrap intervals, resampling whole families (lines of a family are not
  independent draws).

A line is *caught* when the screen flags it (any category); precision is the share of flagged
lines that should be flagged; a category's recall is the share of its lines caught, and
``named`` the share also given the right category."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from arrears.compliance.conduct import CATEGORIES
from arrears.compliance.conduct.corpus import Line

#: a screen as measured: the category each text is flagged for, None when it is allowed
Screen = Callable[[Sequence[str]], list[str | None]]


@dataclass(frozen=True)
class Scored:
    line: Line
    said: str | None  # the category flagged, or None

    @property
    def caught(self) -> bool:
        return self.said is not None


@dataclass(frozen=True)
class Figure:
    """A share with its 95 % interval, and the count it rests on."""

    value: float | None
    low: float | None
    high: float | None
    n: int

    def text(self) -> str:
        if self.value is None or self.low is None or self.high is None:
            return f"– (n={self.n})"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}] (n={self.n})"


def _share(hits: int, n: int) -> float | None:
    return None if n == 0 else hits / n


def precision(rows: Sequence[Scored]) -> tuple[int, int]:
    flagged = [r for r in rows if r.caught]
    return sum(r.line.flagged for r in flagged), len(flagged)


def recall(rows: Sequence[Scored], category: str | None = None) -> tuple[int, int]:
    mine = [r for r in rows if r.line.flagged and category in (None, r.line.label)]
    return sum(r.caught for r in mine), len(mine)


def named(rows: Sequence[Scored], category: str) -> tuple[int, int]:
    mine = [r for r in rows if r.line.label == category]
    return sum(r.said == category for r in mine), len(mine)


Measure = Callable[[Sequence[Scored]], tuple[int, int]]


def figure(rows: Sequence[Scored], measure: Measure, *, draws: int = 1000, seed: int = 7) -> Figure:
    """``measure`` on ``rows`` with its 95 % interval from ``draws`` resamples of families."""
    hits, n = measure(rows)
    by_family: dict[str, list[Scored]] = defaultdict(list)
    for r in rows:
        by_family[r.line.family].append(r)
    families = list(by_family.values())
    rng = random.Random(seed)
    shares = []
    for _ in range(draws):
        sample = [r for fam in rng.choices(families, k=len(families)) for r in fam]
        h, m = measure(sample)
        if m:
            shares.append(h / m)
    shares.sort()
    if not shares or n == 0:
        return Figure(_share(hits, n), None, None, n)
    low = shares[int(0.025 * (len(shares) - 1))]
    high = shares[int(0.975 * (len(shares) - 1))]
    return Figure(hits / n, low, high, n)


def scored(screen: Screen, lines: Sequence[Line]) -> list[Scored]:
    said = screen([x.text for x in lines])
    return [Scored(x, s) for x, s in zip(lines, said, strict=True)]


def folds(lines: Sequence[Line], k: int, seed: int = 7) -> list[list[Line]]:
    """``lines`` in ``k`` folds, whole families to a fold, each label's families dealt round the
    folds in a random order (by ``seed``): stratified, so every fold trains on every label
    that has at least two families."""
    label_of = {x.family: x.label for x in lines}
    rng = random.Random(seed)
    fold_of: dict[str, int] = {}
    for label in sorted(set(label_of.values())):
        families = sorted(f for f, lab in label_of.items() if lab == label)
        rng.shuffle(families)
        start = rng.randrange(k)
        for i, f in enumerate(families):
            fold_of[f] = (start + i) % k
    out: list[list[Line]] = [[] for _ in range(k)]
    for x in lines:
        out[fold_of[x.family]].append(x)
    return out


def grouped_cv(
    train: Callable[[Sequence[Line]], Screen], lines: Sequence[Line], k: int = 5
) -> list[Scored]:
    """Every line scored by a screen trained on the other folds (families never split)."""
    parts = folds(lines, k)
    rows: list[Scored] = []
    for i, held in enumerate(parts):
        rest = [x for j, p in enumerate(parts) if j != i for x in p]
        rows += scored(train(rest), held)
    return rows


@dataclass(frozen=True)
class Table:
    """Precision, recall and each category's recall (and ``named``), with intervals."""

    precision: Figure
    recall: Figure
    categories: dict[str, tuple[Figure, Figure]]

    def meets(self) -> bool:
        """The goals: precision >= 0.97, recall >= 0.95, every category's recall >= 0.9."""
        worst = min((f.value or 0.0) for f, _ in self.categories.values())
        return (
            (self.precision.value or 0.0) >= 0.97
            and (self.recall.value or 0.0) >= 0.95
            and (worst >= 0.9)
        )


def table(rows: Sequence[Scored], draws: int = 1000) -> Table:
    return Table(
        figure(rows, precision, draws=draws),
        figure(rows, recall, draws=draws),
        {
            c: (
                figure(rows, lambda r, c=c: recall(r, c), draws=draws),  # type: ignore[misc]
                figure(rows, lambda r, c=c: named(r, c), draws=draws),  # type: ignore[misc]
            )
            for c in CATEGORIES
        },
    )
