"""The learning loop's benchmark (issue 20): scoring speed, training speed, and the goals table.

* ``scoring``: what scoring adds to the cycle: the acting accounts' model scores and keyed
  draws (:func:`arrears.cycle.run.decision_inputs`) for 1,000,000 accounts (goal: <= 5 s).
* ``training``: training the models on the log of a 1M-loan book over 90 days: every account in
  collection (a fifth of the book) decides every day, 18,000,000 decisions (goal: <= 10 min on
  2 cores). The log is synthetic, shaped like the cycle's.
* ``goals``: ``arrears learn train`` then ``arrears learn evaluate`` on the sealed worlds, the
  goals table as the judge prints it (issue 20's goals against the default strategy).

    scripts/bench learn
    BENCH_LEARN_ACCOUNTS=N BENCH_LEARN_DECISIONS=M scripts/bench learn   # other sizes
    BENCH_LEARN_WORLDS=n BENCH_LEARN_DAYS=d BENCH_LEARN_LOANS=l ...      # a smaller judge run

Each step runs in a child process; one that fails stops the benchmark (exit 1, nothing
written).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from common import OUT_ROOT, StepFailed, guard, machine, prepend, run_step

ROOT = Path(__file__).resolve().parents[1]
OUT = OUT_ROOT / "learn"
PY = str(ROOT / ".venv" / "bin" / "python")
ARREARS = str(ROOT / ".venv" / "bin" / "arrears")
ACCOUNTS = int(os.environ.get("BENCH_LEARN_ACCOUNTS", "1000000"))
DECISIONS = int(os.environ.get("BENCH_LEARN_DECISIONS", "18000000"))
WORLDS = int(os.environ.get("BENCH_LEARN_WORLDS", "0"))  # 0: the sealed worlds
DAYS = int(os.environ.get("BENCH_LEARN_DAYS", "90"))
LOANS = int(os.environ.get("BENCH_LEARN_LOANS", "2000"))
TRAIN_WORLDS = int(os.environ.get("BENCH_LEARN_TRAIN_WORLDS", "4"))

CHILD = r"""
import json, sys, time
from datetime import date
import numpy as np, pyarrow as pa
from arrears.cycle.plan import DECIDED_ON
from arrears.cycle.run import decision_inputs
from arrears.learn.models import train
from arrears.strategy.model import load

what, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def log(n, seed=1):
    rng = np.random.default_rng(seed)
    cols = {}
    for name in DECIDED_ON:
        if name in ("last_contact_result", "delinquency_reason", "last_disposition", "product"):
            cols["x_" + name] = pa.array(rng.choice(["a", "b", "c"], n))
        elif name in ("promise_active", "plan_active", "consent_sms", "consent_call"):
            cols["x_" + name] = pa.array(rng.random(n) < 0.5)
        else:
            cols["x_" + name] = pa.array(rng.integers(0, 100_000, n))
    due = cols["x_total_due"].to_numpy()
    taken = rng.choice(["none", "sms", "robocall", "agent_call", "letter", "visit"], n)
    paid = np.where(rng.random(n) < 0.2, due, 0)
    cols |= {"stage": pa.array(rng.choice(["early", "mid", "late"], n)), "taken": pa.array(taken),
             "paid_7d": pa.array(paid), "paid_30d": pa.array(paid),
             "complaints_7d": pa.array((rng.random(n) < 0.002).astype(np.int64))}
    return pa.table(cols)

if what == "training":
    t = log(n)
    start = time.perf_counter()
    train(t)
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": n}))
else:
    model = train(log(20_000))
    t = log(n, seed=2)
    feats = t.rename_columns([c[2:] if c.startswith("x_") else c for c in t.column_names])
    feats = feats.append_column("loan_id", pa.array([f"LN{i:010d}" for i in range(n)]))
    start = time.perf_counter()
    got = decision_inputs(feats, load("learned"), date(2026, 12, 1), model)
    seconds = time.perf_counter() - start
    assert got.num_rows == n and got["uplift_sms"].null_count == 0
    print(json.dumps({"seconds": seconds, "rows": n}))
"""


def child(what: str, n: int) -> dict[str, float]:
    out = OUT / f"{what}.json"
    script = OUT / "child.py"
    script.write_text(CHILD)
    cmd = ["sh", "-c", f'"{PY}" "{script}" {what} {n} {out} > "{out}"']
    run_step(what, cmd)
    try:
        return dict(json.loads(out.read_text().strip().splitlines()[-1]))
    except (OSError, ValueError, IndexError) as exc:
        raise StepFailed(what, " ".join(cmd), f"no figures: {exc}") from exc


def goals() -> tuple[dict[str, object], float, float]:
    model = OUT / "model.json"
    figures = OUT / "evaluation.json"
    train_s, _ = run_step(
        "train",
        [ARREARS, "learn", "train", "--out", str(model), "--worlds", str(TRAIN_WORLDS),
         "--loans", str(LOANS), "--days", str(DAYS)],
    )  # fmt: skip
    cmd = [ARREARS, "learn", "evaluate", "--model", str(model), "--out", str(figures),
           "--loans", str(LOANS), "--days", str(DAYS)]  # fmt: skip
    if WORLDS:
        worlds = OUT / "worlds.json"
        from arrears.learn.worlds import training_worlds

        picked = [w.model_dump() for w in training_worlds(WORLDS, seed=99)]
        worlds.write_text(json.dumps({"worlds": picked}))
        cmd += ["--worlds", str(worlds)]
    judge_s, _ = run_step("evaluate", cmd)
    try:
        return json.loads(figures.read_text()), train_s, judge_s
    except (OSError, ValueError) as exc:
        raise StepFailed("evaluate", " ".join(cmd), f"no figures: {exc}") from exc


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    scoring = child("scoring", ACCOUNTS)
    training = child("training", DECISIONS)
    judged, train_s, judge_s = goals()
    rows = [g for g in judged["goals"] if g.get("met") is not None]  # type: ignore[attr-defined]
    lines = [
        f"## {now}: learning: scoring, training and the goals against the default strategy",
        "",
        f"Machine: {machine()}. Command: `scripts/bench learn`"
        + (f" (BENCH_LEARN_ACCOUNTS={ACCOUNTS})" if ACCOUNTS != 1_000_000 else "")
        + (f" (BENCH_LEARN_DECISIONS={DECISIONS})" if DECISIONS != 18_000_000 else "")
        + (f" (BENCH_LEARN_WORLDS={WORLDS})" if WORLDS else "")
        + (
            f" (BENCH_LEARN_DAYS={DAYS}, BENCH_LEARN_LOANS={LOANS})"
            if (DAYS, LOANS) != (90, 2000)
            else ""
        )
        + ".",
        "",
        "| measure | figure | goal |",
        "|---|---:|---|",
        f"| scoring {ACCOUNTS:,} accounts (scores and draws) | {scoring['seconds']:.2f} s | "
        f"<= 5 s on 1M: {'met' if scoring['seconds'] <= 5 or ACCOUNTS < 1_000_000 else 'NOT met'} |",
        f"| training on {DECISIONS:,} decisions | {training['seconds']:.1f} s | <= 600 s on "
        f"18M: {'met' if training['seconds'] <= 600 or DECISIONS < 18_000_000 else 'NOT met'} |",
        f"| `arrears learn train` ({TRAIN_WORLDS} worlds x {DAYS} days x {LOANS:,} loans) | "
        f"{train_s:.0f} s | |",
        f"| `arrears learn evaluate` ({len(judged['worlds'])} worlds x 2 policies) | "  # type: ignore[arg-type]
        f"{judge_s:.0f} s | |",
        "",
        "Goals (pooled over the worlds; `arrears learn evaluate`):",
        "",
        "| goal | target | measured | met |",
        "|---|---|---:|---|",
    ]
    for g in rows:
        v = g["measured"]
        shown = (
            f"{v:+.2f}" if "points" in g["goal"] else f"{int(v)}" if g["goal"] == "rule breaks"
            else f"{v:.0%}" if "worlds" in g["goal"] else f"{v:+.1%}"
        )  # fmt: skip
        lines.append(
            f"| {g['goal']} | {g['target']} | {shown} | {'met' if g['met'] else 'NOT met'} |"
        )
    prepend([*lines, "", ""])


if __name__ == "__main__":
    sys.exit(guard(main))
