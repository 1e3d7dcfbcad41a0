"""Judging a learned policy against the champion (``arrears learn evaluate``): both live the
same worlds on the same book with the same random numbers, through the real cycle; the goals
table compares them (docs/LEARNING.md, "Goals").

The worlds are the sealed ones (:mod:`arrears.learn.sealed`, read here and nowhere else in
the learner) unless a file gives others (``--worlds FILE``)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arrears.learn.sealed import sealed_worlds
from arrears.learn.simulator import FOLLOW, Lived
from arrears.learn.train import JUDGING_BOOK_SEED, Job, book_for, run_all, summary
from arrears.learn.worlds import World
from arrears.strategy.model import load as load_strategy

CHAMPION = "default"
CHALLENGER = "learned"

#: the days each policy lives each world: the accounts entering collection in the first 30
#: are each followed for 90 (:func:`arrears.learn.simulator.follow_days`)
DAYS = 120
#: the goals (issue 20): relative change against the champion, pooled over the worlds, on the
#: accounts entering collection, each over its first 90 days in it
GOALS = {
    "recovery": 0.03,  # 90-day recovery +3% relative (stretch +6%)
    "contacts_per_account": -0.25,  # -25% (stretch -40%)
    "complaints_per_10k": -0.30,  # -30%
    "rule_breaks": 0,
    "worlds_beaten": 0.90,
    "worst_loss_points": -0.5,
}


@dataclass
class Judged:
    worlds: list[str]
    runs: list[dict[str, Any]] = field(default_factory=list)
    goals: list[dict[str, Any]] = field(default_factory=list)
    by_world: list[dict[str, Any]] = field(default_factory=list)


def judge(
    model: Path,
    *,
    worlds: list[World] | None = None,
    loans: int = 2000,
    days: int = DAYS,
    workers: int = 2,
    work: Path | None = None,
    done: Callable[[Lived], None] | None = None,
    oracle: bool = False,
) -> Judged:
    """The champion and the learned strategy with ``model`` in each world; with ``oracle``,
    the learned strategy scored by the hidden types' true effects instead of a model (the
    ceiling of its choices: :mod:`arrears.learn.oracle`)."""
    chosen = worlds if worlds is not None else sealed_worlds()
    champion = load_strategy(CHAMPION)
    challenger = load_strategy(CHALLENGER)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        book = book_for(Path(tmp), loans, JUDGING_BOOK_SEED)
        jobs = []
        for w in chosen:
            jobs.append(Job(w, champion.source, "default.yaml", str(book), days, policy="champion"))
            jobs.append(
                Job(
                    w,
                    challenger.source,
                    "learned.yaml",
                    str(book),
                    days,
                    model=None if oracle else str(model),
                    policy="learned",
                    oracle=oracle,
                )
            )
        lived = run_all(jobs, workers, done)
    out = Judged([w.name for w in chosen], runs=[summary(x) for x in lived])
    out.by_world, out.goals = goals_table(out.runs)
    return out


def _pooled(runs: list[dict[str, Any]]) -> dict[str, float]:
    owed = sum(r["owed"] for r in runs)
    accounts = sum(r["accounts"] for r in runs)
    contacts = sum(r["contacts"] for r in runs)
    recovered = sum(r["recovered"] for r in runs)
    return {
        "recovery": recovered / owed if owed else 0.0,
        "contacts_per_account": contacts / accounts if accounts else 0.0,
        "complaints_per_10k": (
            10_000 * sum(r["complaints"] for r in runs) / contacts if contacts else 0.0
        ),
        "rule_breaks": float(sum(r["rule_breaks"] for r in runs)),
        "cost_per_yuan": sum(r["cost"] for r in runs) / recovered if recovered else 0.0,
    }


def _change(new: float, old: float) -> float:
    return (new - old) / old if old else 0.0


def goals_table(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(each world's comparison, the goals with what was measured and whether each is met)."""
    by: dict[str, dict[str, dict[str, Any]]] = {}
    for r in runs:
        by.setdefault(r["world"], {})[r["policy"]] = r
    worlds = []
    for name, pair in by.items():
        c, ch = pair.get("champion"), pair.get("learned")
        if c is None or ch is None:
            continue
        worlds.append(
            {
                "world": name,
                "champion_recovery": c["recovery"],
                "learned_recovery": ch["recovery"],
                "points": 100 * (ch["recovery"] - c["recovery"]),
                "contacts_change": _change(ch["contacts_per_account"], c["contacts_per_account"]),
                "complaints_change": _change(ch["complaints_per_10k"], c["complaints_per_10k"]),
                "rule_breaks": ch["rule_breaks"],
                "beats": ch["recovery"] > c["recovery"],
            }
        )
    champ = _pooled([r for r in runs if r["policy"] == "champion"])
    learned = _pooled([r for r in runs if r["policy"] == "learned"])
    beaten = sum(w["beats"] for w in worlds) / len(worlds) if worlds else 0.0
    follow = min((int(r.get("follow") or FOLLOW) for r in runs), default=FOLLOW)
    worst = min((w["points"] for w in worlds), default=0.0)
    rows: list[tuple[str, str, float, Callable[[float], bool]]] = [
        (f"{follow}-day recovery of accounts entering collection, relative", "+3% (stretch +6%)",
         _change(learned["recovery"], champ["recovery"]), lambda v: v >= GOALS["recovery"]),
        ("contacts per account", "-25% (stretch -40%)",
         _change(learned["contacts_per_account"], champ["contacts_per_account"]),
         lambda v: v <= GOALS["contacts_per_account"]),
        ("complaints per 10,000 contacts", "-30%",
         _change(learned["complaints_per_10k"], champ["complaints_per_10k"]),
         lambda v: v <= GOALS["complaints_per_10k"]),
        ("rule breaks", "0", learned["rule_breaks"], lambda v: v == 0),
        ("worlds where it beats the champion", ">= 90%", beaten, lambda v: v >= 0.9),
        ("worst world, recovery points", ">= -0.5", worst, lambda v: v >= -0.5),
    ]  # fmt: skip
    goals = [
        {"goal": g, "target": target, "measured": value, "met": bool(ok(value))}
        for g, target, value, ok in rows
    ]
    goals.append(
        {
            "goal": "champion vs learned (pooled)",
            "target": "",
            "measured": {"champion": champ, "learned": learned},
            "met": None,
        }
    )
    return worlds, goals
