"""Exploration with its probabilities logged: without the probability each logged decision had,
no new policy can be judged from the logs (:mod:`arrears.learn.ope`).

A share ``epsilon`` of decisions is drawn at random, uniformly among the treatments that were
compliant and possible for the account that day (the gate has already ruled out the rest:
exploration never leaves it); the others take the policy's own choice. The probability of the
treatment taken is then ``(1 - epsilon) * [taken == policy's] + epsilon / |candidates|``.

The draw is keyed by (salt, account, day), so a re-run of the day draws the same, and a
second process agrees with the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from arrears.cycle.draws import draws


@dataclass(frozen=True)
class Explored:
    #: the treatment taken for each account (its column)
    taken: NDArray[np.int64]
    #: its probability under the exploring policy
    probability: NDArray[np.float64]
    #: whether the draw explored (for the log; the probability is what judging needs)
    explored: NDArray[np.bool_]


def explore(
    candidates: ArrayLike,
    policy: ArrayLike,
    epsilon: float,
    *,
    salt: str,
    keys: list[str],
) -> Explored:
    """Exploration over ``candidates`` (n x K: compliant and possible) around the policy's
    choice ``policy`` (n column indices, each a candidate); ``keys`` name the decisions
    (``loan|day``) for the keyed draw."""
    cand = np.asarray(candidates, dtype=bool)
    chosen = np.asarray(policy, dtype=np.int64)
    n = cand.shape[0]
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon: expected a share between 0 and 1, got {epsilon}")
    if chosen.shape != (n,) or len(keys) != n:
        raise ValueError(f"policy, keys: expected {n} of each, one per decision")
    if n and not np.all(cand[np.arange(n), chosen]):
        bad = int(np.argmax(~cand[np.arange(n), chosen]))
        raise ValueError(f"policy[{bad}]: the policy chose a treatment that is not a candidate")
    size = cand.sum(axis=1)
    u = draws(salt, keys)
    explored = u[:, 0] < epsilon
    # the k-th candidate of each row, k drawn uniformly from its candidates
    pick = np.minimum((u[:, 1] * size).astype(np.int64), size - 1)
    ranks = np.cumsum(cand, axis=1) - 1
    drawn = np.argmax(cand & (ranks == pick[:, None]), axis=1)
    taken = np.where(explored, drawn, chosen)
    probability = (1 - epsilon) * (taken == chosen) + epsilon / size
    return Explored(taken.astype(np.int64), probability.astype(np.float64), explored)
