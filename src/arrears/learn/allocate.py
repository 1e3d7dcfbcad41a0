"""Next best action under capacity: each account gets at most one treatment today, the one
worth most net of its cost and complaint risk, while the people's treatments fit their lanes
(agent minutes per queue and time slot, visits per field team, agency pool places). Compliance
is not decided here: a treatment the gate refuses is never offered (``allowed`` false).

This module holds the greedy baseline the optimiser is reported beside ("uplift per minute"):
each account's best treatment that uses no capacity (SMS, push, email, letters, automated
calls) is its fallback; a lane's treatment is taken, best first by what it adds over the
fallback per unit of capacity, while the lane has room; the rest keep their fallback (if it is
worth anything).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

NONE = -1  # an account left untreated today


@dataclass(frozen=True)
class Allocation:
    #: the treatment (column) chosen for each account, or :data:`NONE`
    chosen: NDArray[np.int64]
    #: the expected value of the day's choice, added up
    value: float
    #: the capacity each lane has left
    left: NDArray[np.float64]


def greedy(
    value: ArrayLike,
    allowed: ArrayLike,
    lane: ArrayLike,
    use: ArrayLike,
    capacity: ArrayLike,
) -> Allocation:
    """The greedy allocation. ``value`` (n x K): each account's expected net value of each
    treatment over doing nothing; ``allowed`` (n x K): what the gate and the strategy allow;
    ``lane`` (K): the lane each treatment uses (-1: none); ``use`` (K): how much of it (agent
    minutes, a visit, a place); ``capacity`` (L): each lane's size today."""
    v = np.asarray(value, dtype=np.float64)
    ok = np.asarray(allowed, dtype=bool)
    lanes = np.asarray(lane, dtype=np.int64)
    cost = np.asarray(use, dtype=np.float64)
    left = np.asarray(capacity, dtype=np.float64).copy()
    n, k = v.shape
    if ok.shape != (n, k) or lanes.shape != (k,) or cost.shape != (k,):
        raise ValueError(
            f"allowed, lane, use: expected {n} x {k}, {k} and {k} values, got {ok.shape}, "
            f"{lanes.shape} and {cost.shape}"
        )
    if np.any(lanes >= left.shape[0]) or np.any((lanes >= 0) & (cost <= 0)):
        raise ValueError("lane, use: a treatment's lane must exist and use some of it")
    chosen = np.full(n, NONE, dtype=np.int64)
    worth = np.where(ok, v, -np.inf)
    free = lanes < 0
    # each account's best treatment that uses no capacity (its fallback)
    fallback = np.full(n, NONE, dtype=np.int64)
    gain = np.zeros(n)
    if free.any():
        cols_free = np.nonzero(free)[0]
        best = cols_free[np.argmax(worth[:, cols_free], axis=1)]
        top = worth[np.arange(n), best]
        fallback = np.where(top > 0, best, NONE)
        gain = np.where(top > 0, top, 0.0)
    # a lane's treatment where it adds most over the fallback per unit of capacity, best first
    rows, cols = np.nonzero(ok & ~free[None, :] & (v > gain[:, None]))
    extra = v[rows, cols] - gain[rows]
    order = np.lexsort((rows, -extra / cost[cols]))
    for idx in order:
        i, j = rows[idx], cols[idx]
        if chosen[i] != NONE or left[lanes[j]] < cost[j]:
            continue
        left[lanes[j]] -= cost[j]
        chosen[i] = j
    chosen = np.where(chosen == NONE, fallback, chosen)
    picked = chosen != NONE
    total = float(np.sum(v[np.nonzero(picked)[0], chosen[picked]]))
    return Allocation(chosen, total, left)
