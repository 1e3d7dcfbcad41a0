"""Exploration stays among the compliant candidates, explores the share it names, logs the
probability of what it took, and draws the same on a re-run."""

from __future__ import annotations

import numpy as np
import pytest

from arrears.learn.explore import explore
from arrears.learn.ope import Log, estimate

N = 20_000


def _book() -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    cand = rng.random((N, 4)) < 0.6
    cand[:, 0] = True  # "nothing" is always possible
    policy = np.array([np.flatnonzero(row)[-1] for row in cand])  # the last candidate
    keys = [f"LN{i:07d}|2026-11-23" for i in range(N)]
    return cand, policy, keys


def test_off_by_default_it_is_the_policy_with_probability_one() -> None:
    cand, policy, keys = _book()
    got = explore(cand, policy, 0.0, salt="s", keys=keys)
    assert (got.taken == policy).all() and (got.probability == 1.0).all()
    assert not got.explored.any()


def test_it_explores_its_share_among_candidates_and_logs_the_probability() -> None:
    cand, policy, keys = _book()
    got = explore(cand, policy, 0.1, salt="s", keys=keys)
    assert float(np.mean(got.explored)) == pytest.approx(0.1, abs=0.01)
    assert cand[np.arange(N), got.taken].all()  # never outside the candidates (the gate's)
    size = cand.sum(axis=1)
    want = 0.9 * (got.taken == policy) + 0.1 / size
    assert np.allclose(got.probability, want)
    # a re-run of the day draws the same; another salt (another experiment) draws otherwise
    again = explore(cand, policy, 0.1, salt="s", keys=keys)
    assert (again.taken == got.taken).all()
    other = explore(cand, policy, 0.1, salt="t", keys=keys)
    assert (other.explored != got.explored).any()


def test_logged_probabilities_let_another_policy_be_judged() -> None:
    """Rewards that favour column 1: the always-1 policy's value is recovered from the log of
    a policy that never chose it, through exploration alone."""
    cand, policy, keys = _book()
    cand[:, 1] = True
    got = explore(cand, policy, 0.2, salt="s", keys=keys)
    rng = np.random.default_rng(1)
    reward = np.where(got.taken == 1, 10.0, 2.0) + rng.normal(0, 1, N)
    target = np.zeros((N, 4))
    target[:, 1] = 1.0
    e = estimate(Log.of(got.taken, got.probability, reward), target, "snips", draws=200)
    assert e.covers(10.0) and e.low > 9.0


def test_bad_input_is_named() -> None:
    cand, policy, keys = _book()
    with pytest.raises(ValueError, match="epsilon: expected a share"):
        explore(cand, policy, 1.5, salt="s", keys=keys)
    bad = policy.copy()
    row = int(np.flatnonzero(~cand[:, 1])[0])
    bad[row] = 1
    with pytest.raises(ValueError, match=rf"policy\[{row}\]: the policy chose a treatment"):
        explore(cand, bad, 0.1, salt="s", keys=keys)
