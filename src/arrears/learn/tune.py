"""Choosing the policy's margin by off-policy evaluation on held-out accounts, and the figures
that say whether the learned policy should be trusted (docs/LEARNING.md, "Tuning").

The training log is split by account (every decision of an account on one side, in every
world: the held-out accounts' decisions were never seen by the models). On the held-out
decisions that had a choice (two or more compliant options), each candidate margin gives a
deterministic policy: the compliant option with the highest uplift net of the margin, doing
nothing at zero, ties to the first listed (the cycle's own rule, :func:`arrears.cycle.plan`'s
``_choose``). Its value is estimated by the doubly robust estimator from the logged
propensities, with the models' own expected reward of each option as the reward model (an
option without a model of its own counts as doing nothing, less its cost), with a bootstrap
interval and the effective sample size (:mod:`arrears.learn.ope`): IPS alone is unbiased
too, but a day's payments vary so much that its intervals say little. The reward of a
decision: what the account paid of its arrears within 30 days (the models' reward,
:data:`arrears.learn.models.REWARD_DAYS`; decisions whose window the log has not seen to its
end are left out), less the treatment's cost and
its complaints at what a complaint costs.

The margin kept is the largest whose estimate is inside the best estimate's interval: when
the evidence cannot tell margins apart, the policy makes fewer contacts (a contact the estimate
cannot show is worth making is not made). The model is *promoted* only when the kept margin's
lower bound beats the estimate of doing nothing, on decisions the models never saw;
``arrears learn train`` says so, and says plainly when it is not.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from arrears.learn.models import REWARD_DAYS, Model, complete, made
from arrears.learn.ope import Estimate, Log, estimate
from arrears.learn.simulator import COMPLAINT_COST, COST
from arrears.strategy.model import NONE

#: the margins tried (minor units: 0 to 128 yuan)
MARGINS = (0.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 12800.0)
#: the share of accounts held out
HOLD_OUT = 0.2
#: at most this many held-out decisions are judged on (a random sample beyond)
MAX_JUDGED = 300_000
#: bootstrap resamples for each interval
DRAWS = 200


def held_out(loans: pa.ChunkedArray | pa.Array, share: float = HOLD_OUT) -> NDArray[np.bool_]:
    """Whether each row's account is held out: a SHA-256 of the account, so every decision of
    an account falls on the same side in every world and every run."""
    unique = [str(x) for x in pc.unique(loans).to_pylist()]
    out = [
        x
        for x in unique
        if int.from_bytes(hashlib.sha256(x.encode()).digest()[:8], "big") / 2**64 < share
    ]
    return np.asarray(pc.is_in(loans, pa.array(out, pa.string())).to_numpy(zero_copy_only=False))


def rewards(log: pa.Table) -> NDArray[np.float64]:
    """Each decision's reward: paid of the arrears within ``REWARD_DAYS``, less the
    treatment's cost and its complaints."""
    owed = np.maximum(pc.fill_null(pc.cast(log["x_total_due"], pa.float64()), 0.0).to_numpy(), 0)
    paid = pc.fill_null(pc.cast(log[f"paid_{REWARD_DAYS}d"], pa.float64()), 0.0).to_numpy()
    cost = np.array([COST.get(str(k), 0) for k in log["taken"].to_pylist()], np.float64)
    complaints = pc.fill_null(pc.cast(log["complaints_7d"], pa.float64()), 0.0).to_numpy()
    return np.asarray(np.minimum(paid, owed) - cost - complaints * COMPLAINT_COST)


def _positions(log: pa.Table) -> tuple[list[NDArray[np.object_]], NDArray[np.int64]]:
    """Each decision's candidates by position (an array per position, None past the end) and
    the position of the one taken."""
    split = pc.split_pattern(log["candidates"], ",")
    width = int(pc.max(pc.list_value_length(split)).as_py() or 0)
    rows = split.to_pylist()
    places = [
        np.array([r[k] if r is not None and k < len(r) else None for r in rows], dtype=object)
        for k in range(width)
    ]
    taken = np.array(log["taken"].to_pylist(), dtype=object)
    logged = np.full(log.num_rows, -1, np.int64)
    for k, place in enumerate(places):
        logged = np.where((logged < 0) & (place == taken), k, logged)
    return places, logged


def choices(
    scores: dict[str, NDArray[np.float64]], places: list[NDArray[np.object_]]
) -> NDArray[np.int64]:
    """The position each decision's policy takes: the highest uplift, doing nothing at zero, an
    unscored option last, ties to the first listed."""
    n = places[0].shape[0] if places else 0
    table = np.full((n, len(places)), -np.inf)
    for k, col in enumerate(places):
        value = np.full(n, -1e18)  # unscored: last, ties to the first listed, as the cycle
        value[col == NONE] = 0.0
        for name, uplift in scores.items():
            if name.startswith("uplift_"):
                here = col == name.removeprefix("uplift_")
                value[here] = np.where(np.isnan(uplift[here]), -1e18, uplift[here])
        value[np.array([c is None for c in col], dtype=bool)] = -np.inf
        table[:, k] = value
    return np.asarray(np.argmax(table, axis=1), dtype=np.int64)


def _reward_model(
    expected: dict[str, NDArray[np.float64]], places: list[NDArray[np.object_]]
) -> NDArray[np.float64]:
    """The expected reward of each decision's option at each position (n x K)."""
    n = places[0].shape[0] if places else 0
    fallback = expected.get(NONE, np.zeros(n))
    q = np.zeros((n, len(places)))
    for k, col in enumerate(places):
        for name in {str(c) for c in col if c is not None}:
            here = col == name
            value = expected.get(name, fallback - COST.get(name, 0))
            q[here, k] = value[here]
    return q


def _row(margin: float | None, est: Estimate, contacts: float) -> dict[str, Any]:
    return {
        "margin": margin,
        "value": est.value,
        "low": est.low,
        "high": est.high,
        "ess": est.ess,
        "n": est.n,
        "contact_share": contacts,
    }


def tune(model: Model, log: pa.Table, *, seed: int = 7) -> dict[str, Any]:
    """Choose ``model``'s margin on the held-out ``log`` (decisions with their outcomes), set
    it, and return what was measured: each margin's estimate, doing nothing's, the chosen
    margin and whether it was promoted."""
    judged = log.filter(pc.greater_equal(log["n_ok"], 2))
    judged = made(judged)
    if judged.num_rows:
        judged = judged.filter(pa.array(complete(judged, REWARD_DAYS)))
    if judged.num_rows > MAX_JUDGED:
        pick = np.sort(np.random.default_rng(seed).choice(judged.num_rows, MAX_JUDGED, False))
        judged = judged.take(pa.array(pick))
    if judged.num_rows == 0:
        return {"judged": 0, "margin": model.margin, "promoted": False, "table": []}
    places, logged = _positions(judged)
    p = pc.fill_null(pc.cast(judged["propensity"], pa.float64()), 0.0).to_numpy()
    keep = (logged >= 0) & (p > 0)
    places = [col[keep] for col in places]
    sub = judged.filter(pa.array(keep))
    data = Log(a=logged[keep], p=p[keep], r=rewards(sub))
    k = len(places)
    q = _reward_model(model.expected(sub, prefix="x_"), places)

    def judge(choice: NDArray[np.int64]) -> Estimate:
        pi = np.zeros((data.n, k))
        pi[np.arange(data.n), choice] = 1.0
        return estimate(data, pi, "dr", q=q, draws=DRAWS, seed=seed)

    # doing nothing (where it was an option; the first listed otherwise)
    nothing = np.zeros(data.n, np.int64)
    for j in range(k - 1, -1, -1):
        nothing = np.where(places[j] == NONE, j, nothing)
    base = judge(nothing)
    table = []
    for margin in MARGINS:
        choice = choices(model.score(sub, prefix="x_", margin=margin), places)
        taken = np.array([places[c][i] for i, c in enumerate(choice)], dtype=object)
        table.append(_row(margin, judge(choice), float(np.mean(taken != NONE))))
    # the largest margin (the fewest contacts) the held-out evidence cannot tell from the best:
    # a contact the estimate cannot show is worth making is not made
    best = max(table, key=lambda r: r["value"])
    chosen = max((r for r in table if r["value"] >= best["low"]), key=lambda r: r["margin"])
    model.margin = float(chosen["margin"])
    return {
        "judged": data.n,
        "margin": model.margin,
        "promoted": bool(chosen["low"] > base.value),
        "nothing": _row(None, base, 0.0),
        "table": table,
    }
