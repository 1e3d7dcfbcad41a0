"""Benchmark of the conduct screen (the classifier, the lexicon's phrases and the patterns
together, as the gate uses it): how well it does, measured honestly, and how
fast it decides.

* grouped 5-fold cross-validation on the corpus (src/arrears/compliance/conduct/corpus.jsonl),
  folds by paraphrase family;
* each held-out set under tests/heldout/conduct (written apart, from the definitions only; not
  read by whoever tunes the screen), scored by the classifier trained on the whole corpus;
* speed: one message a call through the whole screen (flagged texts explained), on one core:
  on the corpus's mix (60 % to flag) and on its lawful texts alone (most real traffic).

Goals on held-out text: precision >= 0.97, recall >= 0.95, every category's recall >= 0.9;
speed >= 5,000 messages/s, p99 <= 2 ms. Figures are shares with 95 % bootstrap intervals over
families. Run by `scripts/bench screen`; knobs BENCH_SCREEN_FOLDS (5), BENCH_SCREEN_DRAWS
(1000), BENCH_SCREEN_FAMILIES (families of each label used, 0 for all), BENCH_SCREEN_MESSAGES
(2000 timed calls); BENCH_RESULTS=path writes the section there (bench/common.py).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from common import ROOT, StepFailed, broken, guard, machine, prepend, tail

from arrears.compliance.conduct import CATEGORIES
from arrears.compliance.conduct.classifier import train
from arrears.compliance.conduct.corpus import CORPUS, Line, read
from arrears.compliance.conduct.measure import Screen, Table, grouped_cv, scored, table
from arrears.compliance.conduct.screen import Screen as Layers
from arrears.compliance.conduct.screen import measured, screen_with

FOLDS = int(os.environ.get("BENCH_SCREEN_FOLDS", "5"))
DRAWS = int(os.environ.get("BENCH_SCREEN_DRAWS", "1000"))
FAMILIES = int(os.environ.get("BENCH_SCREEN_FAMILIES", "0"))
MESSAGES = int(os.environ.get("BENCH_SCREEN_MESSAGES", "2000"))
HELDOUT = ROOT / "tests" / "heldout" / "conduct"


def step(name: str, work: Callable[[], Any]) -> Any:
    """Run one step; a failure (or BENCH_BREAK naming it) stops the benchmark, nothing written."""
    print(f"- {name}", flush=True)
    try:
        if broken(name):
            raise RuntimeError(f"{name}: broken on purpose (BENCH_BREAK)")
        return work()
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        raise StepFailed(name, name, why, tail(traceback.format_exc())) from exc


def subset(lines: list[Line]) -> list[Line]:
    """The first FAMILIES families of each label (all when 0), for a quick run."""
    if FAMILIES <= 0:
        return lines
    keep: dict[str, list[str]] = {}
    for x in lines:
        fams = keep.setdefault(x.label, [])
        if x.family not in fams and len(fams) < FAMILIES:
            fams.append(x.family)
    chosen = {f for fams in keep.values() for f in fams}
    return [x for x in lines if x.family in chosen]


def screen_of(lines: Sequence[Line]) -> Screen:
    return measured(screen_with(train(lines)))


def rows(title: str, t: Table) -> list[str]:
    out = [
        f"| {title} | precision | {t.precision.text()} | ≥ 0.97 |",
        f"| {title} | recall | {t.recall.text()} | ≥ 0.95 |",
    ]
    for c in CATEGORIES:
        caught, named = t.categories[c]
        out.append(
            f"| {title} | recall: {c} | {caught.text()} (named {named.value or 0:.3f}) | ≥ 0.9 |"
        )
    out.append(f"| {title} | all goals | {'met' if t.meets() else 'NOT met'} | |")
    return out


def speed(s: Layers, texts: Sequence[str]) -> tuple[float, float]:
    """One text a call through the whole screen (flagged texts explained: phrases, patterns
    and the clause), on one core. Every timed call does the whole work: the screen keeps
    nothing of a text it has checked (only the module's ``check``, which the gate asks, keeps
    its answers; it is not what is timed), and the warm-up reads texts that are not timed, so
    that each timed text is met for the first time (when there are more than MESSAGES)."""
    for t in texts[MESSAGES:][-50:] or texts[:50]:
        s.check(t)
    samples = []
    start = time.perf_counter()
    for k in range(MESSAGES):
        t0 = time.perf_counter()
        s.check(texts[k % len(texts)])
        samples.append(time.perf_counter() - t0)
    rate = MESSAGES / (time.perf_counter() - start)
    samples.sort()
    return rate, samples[int(0.99 * (len(samples) - 1))] * 1000


def main() -> None:
    corpus = subset(read(CORPUS))
    heldout = sorted(HELDOUT.glob("*.jsonl"))
    if not heldout:
        raise SystemExit(f"no held-out set under {HELDOUT}")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cv = step(
        "grouped cv",
        lambda: table(grouped_cv(screen_of, corpus, FOLDS), DRAWS),
    )
    whole = step("train", lambda: screen_with(train(corpus)))
    held: list[tuple[str, Table]] = []
    for path in heldout:
        lines = read(path)
        held.append(
            (
                path.stem,
                step(
                    f"held-out {path.stem}",
                    lambda ls=lines: table(scored(measured(whole), ls), DRAWS),
                ),
            )
        )
    rate, p99 = step("speed", lambda: speed(whole, [x.text for x in corpus]))
    lawful = [x.text for x in corpus if not x.flagged]
    rate_ok, p99_ok = step("speed, lawful texts", lambda: speed(whole, lawful))
    knobs = ", ".join(
        f"{k}={v}"
        for k, v, d in (
            ("BENCH_SCREEN_FOLDS", FOLDS, 5),
            ("BENCH_SCREEN_DRAWS", DRAWS, 1000),
            ("BENCH_SCREEN_FAMILIES", FAMILIES, 0),
            ("BENCH_SCREEN_MESSAGES", MESSAGES, 2000),
        )
        if v != d
    )
    lines = [
        f"## {now}: conduct screen, {len(corpus):,} corpus lines",
        "",
        f"Machine: {machine()}. Command: `scripts/bench screen`"
        + (f" ({knobs})" if knobs else "")
        + ".",
        f"The whole screen as the gate uses it: the classifier (character n-grams of the written and the pinyin form, logistic regression) decides; the lexicon's exact phrases (unless negated or reported) and, in longer texts, a sentence or clause a phrase or pattern marks may also flag. Corpus: grouped {FOLDS}-fold cross-validation by paraphrase family. Held-out: "
        + ", ".join(f"{name} ({t.recall.n} lines to flag)" for name, t in held)
        + ", written apart from the definitions only, scored by the screen with the classifier trained on the whole corpus. Shares with 95 % bootstrap intervals over families; n is the count the share rests on.",
        "",
        "| set | measure | value [95 % interval] (n) | goal |",
        "|---|---|---|---|",
        *rows("corpus (grouped cv)", cv),
        *[r for name, t in held for r in rows(f"held-out {name}", t)],
        f"| speed | messages/s, one core | {rate:,.0f} | ≥ 5,000 ({'met' if rate >= 5000 else 'NOT met'}) |",
        f"| speed | p99 (ms) | {p99:.2f} | ≤ 2 ({'met' if p99 <= 2 else 'NOT met'}) |",
        f"| speed, lawful texts only (most traffic) | messages/s, one core | {rate_ok:,.0f} | ≥ 5,000 ({'met' if rate_ok >= 5000 else 'NOT met'}) |",
        f"| speed, lawful texts only | p99 (ms) | {p99_ok:.2f} | ≤ 2 ({'met' if p99_ok <= 2 else 'NOT met'}) |",
        "",
        "",
    ]
    prepend(lines)


if __name__ == "__main__":
    sys.exit(guard(main))
