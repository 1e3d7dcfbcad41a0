"""Do the off-policy estimates cover the truth? (``arrears learn coverage``)

Off-policy evaluation (:mod:`arrears.learn.ope`) judges a policy from decisions another one
made. On simulated logs the truth is known, so it can be checked: the exploring learned
strategy lives training worlds through the real cycle (half of its choices drawn at random
among the compliant options, the probability logged), and the simulator records, for each
account in arrears each day, what each option of its choice would truly have brought in that
day (its chance of paying after the day's other contacts and that option, times what was due:
:func:`arrears.learn.respond.chance`).

On each world's log, each target policy (doing nothing, the first contact listed, an agent
call, and the model's choice when a model is given) is estimated by IPS, self-normalised IPS
and doubly robust, each with its bootstrap interval; the reward of a decision is what the
account paid of its arrears on the decision's day (``paid_1d``). The policy's true value on
the same decisions is the mean of the truth of the option it takes. The report says how often
each estimator's interval held the truth (with a Wilson interval on that share) and its
effective sample size.

The decisions judged are those of a choice with two or more compliant options, carried out
(not cut by capacity, not stopped by the second look), on a day with no other contact: the
truth of an option is its day's alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from arrears.learn.models import Model, made
from arrears.learn.ope import ESTIMATORS, Estimator, Log, estimate
from arrears.learn.simulator import Lived
from arrears.learn.train import TRAINING_BOOK_SEED, Job, book_for, explorer, run_all
from arrears.learn.tune import _positions, choices
from arrears.learn.worlds import World
from arrears.strategy.attributes import SCORED_CHANNELS
from arrears.strategy.model import NONE
from arrears.strategy.model import load as load_strategy

#: the estimators checked (the multi-logger form needs several arms' logs)
CHECKED: tuple[Estimator, ...] = tuple(e for e in ESTIMATORS if e != "balanced")
LEVEL = 0.95
DRAWS = 400
#: the strategy whose choices are logged and judged
_STRATEGY = explorer(load_strategy("learned"))


def judged(log: pa.Table, truth: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The decisions judged (see the module's note) and each one's truth row, aligned."""
    # the choices among contacts (the simulator's truth has no agency placement)
    known = {NONE, *SCORED_CHANNELS}
    steps = [s for s in _STRATEGY.steps if s.group is not None]
    odd = {s.group for s in steps if s.channel not in known}
    groups = pa.array(sorted({s.group for s in steps if s.group and s.group not in odd}))
    rows = log.filter(pc.is_in(log["decision"], value_set=groups))
    rows = made(rows.filter(pc.greater_equal(pc.fill_null(rows["n_ok"], 0), 2)))
    rows = rows.filter(pc.greater(pc.fill_null(rows["propensity"], 0.0), 0.0))
    keyed = truth.append_column(
        "_k",
        pc.binary_join_element_wise(
            truth["loan_id"], pc.cast(truth["business_date"], pa.string()), "|"
        ),
    )
    key = pc.binary_join_element_wise(
        rows["loan_id"], pc.cast(rows["business_date"], pa.string()), "|"
    )
    at = pc.index_in(key, keyed["_k"])
    found = pc.is_valid(at)
    rows, at = rows.filter(found), at.filter(found)
    mine = keyed.take(at)
    alone = pc.and_(pc.equal(mine["others"], 0), pc.invert(mine["stopped"]))
    return rows.filter(alone), mine.filter(alone)


def _key(table: pa.Table) -> pa.ChunkedArray:
    day = pc.cast(table["business_date"], pa.string())
    return pc.binary_join_element_wise(table["loan_id"], day, "|")


def _policies(
    places: list[NDArray[np.object_]], rows: pa.Table, model: Model | None
) -> dict[str, NDArray[np.int64]]:
    """Each target policy's position in each decision's candidates."""
    n = rows.num_rows
    nothing = np.zeros(n, np.int64)
    first = np.full(n, -1, np.int64)
    call = np.full(n, -1, np.int64)
    for k in range(len(places) - 1, -1, -1):
        col = places[k]
        nothing = np.where(col == NONE, k, nothing)
        is_contact = np.array([c is not None and c != NONE for c in col], dtype=bool)
        first = np.where(is_contact, k, first)
        call = np.where(col == "agent_call", k, call)
    out = {
        "nothing": nothing,
        "first contact listed": np.where(first >= 0, first, nothing),
        "agent call": np.where(call >= 0, call, nothing),
    }
    if model is not None:
        out["the model's choice"] = choices(model.score(rows, prefix="x_"), places)
    return out


def _q(
    logged: NDArray[np.int64], reward: NDArray[np.float64], options: NDArray[np.object_]
) -> NDArray[np.float64]:
    """A plain reward model for the doubly robust estimate: each option's mean logged reward
    (the estimate stays unbiased with any model when the propensities are right)."""
    taken = options[np.arange(len(logged)), logged]
    mean = {str(k): float(reward[taken == k].mean()) for k in set(taken.tolist())}
    overall = float(reward.mean())
    got = np.vectorize(lambda o: mean.get(str(o), overall), otypes=[float])(options)
    return np.asarray(got, dtype=np.float64)


def check(
    log: pa.Table, truth: pa.Table, *, model: Model | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Each target policy's estimates on one world's ``log`` beside its true value."""
    rows, mine = judged(log, truth)
    if rows.num_rows == 0:
        return []
    places, logged = _positions(rows)
    keep = logged >= 0
    rows, mine = rows.filter(pa.array(keep)), mine.filter(pa.array(keep))
    places, logged = [c[keep] for c in places], logged[keep]
    owed = np.maximum(pc.fill_null(pc.cast(rows["x_total_due"], pa.float64()), 0.0).to_numpy(), 0)
    paid = pc.fill_null(pc.cast(rows["paid_1d"], pa.float64()), 0.0).to_numpy()
    reward = np.minimum(paid, owed)
    p = pc.cast(rows["propensity"], pa.float64()).to_numpy()
    data = Log.of(logged, p, reward)
    options = np.column_stack(places)
    q = _q(logged, reward, options)
    out = []
    for name, choice in _policies(places, rows, model).items():
        chosen = options[np.arange(data.n), choice]
        true = np.array(
            [mine[f"truth_{c}"][i].as_py() for i, c in enumerate(chosen.tolist())], np.float64
        )
        value = float(true.mean())
        pi = np.zeros(options.shape)
        pi[np.arange(data.n), choice] = 1.0
        for kind in CHECKED:
            est = estimate(data, pi, kind, q=q if kind == "dr" else None, draws=DRAWS,
                           level=LEVEL, seed=seed)  # fmt: skip
            out.append(
                {
                    "policy": name,
                    "estimator": kind,
                    "truth": value,
                    "value": est.value,
                    "low": est.low,
                    "high": est.high,
                    "ess": est.ess,
                    "n": est.n,
                    "covers": est.covers(value),
                }
            )
    return out


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a share ``hits / n``."""
    if n == 0:
        return 0.0, 1.0
    share = hits / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def summarise(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By estimator: how often its interval held the truth, and its mean effective sample
    size."""
    out = []
    for kind in CHECKED:
        mine = [c for c in checks if c["estimator"] == kind]
        hits = sum(bool(c["covers"]) for c in mine)
        low, high = wilson(hits, len(mine))
        out.append(
            {
                "estimator": kind,
                "intervals": len(mine),
                "covered": hits,
                "share": hits / len(mine) if mine else 0.0,
                "share_low": low,
                "share_high": high,
                "mean_ess": float(np.mean([c["ess"] for c in mine])) if mine else 0.0,
                "mean_n": float(np.mean([c["n"] for c in mine])) if mine else 0.0,
            }
        )
    return out


def coverage(
    worlds: list[World],
    *,
    loans: int = 2000,
    days: int = 30,
    workers: int = 2,
    model: Model | None = None,
    work: Path | None = None,
    done: Callable[[Lived], None] | None = None,
) -> dict[str, Any]:
    """The exploring learned strategy in each of ``worlds``; every target policy judged on
    each world's log and held to the truth."""
    import tempfile

    strategy = _STRATEGY
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        book = book_for(Path(tmp), loans, TRAINING_BOOK_SEED)
        jobs = [
            Job(w, strategy.source, "learned-explorer.yaml", str(book), days, keep_log=True,
                truth=True)
            for w in worlds
        ]  # fmt: skip
        lived = run_all(jobs, workers, done)
    checks = []
    for k, x in enumerate(lived):
        if x.log is None or x.truth is None or x.log.num_rows == 0:
            continue
        for row in check(x.log, x.truth, model=model, seed=k):
            checks.append({"world": x.world, **row})
    return {"checks": checks, "summary": summarise(checks), "level": LEVEL}
