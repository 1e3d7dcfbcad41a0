"""The off-policy estimators held to answers worked out by hand on a four-decision log, and to
the truth of a simulated bandit: their intervals cover the target policy's true value about as
often as they claim."""

from __future__ import annotations

import numpy as np
import pytest

from arrears.learn.ope import ESTIMATORS, Log, LogError, beats, ess, estimate, weights

# four decisions, two actions: taken, its logged probability, the reward
A = [0, 1, 1, 0]
P = [0.5, 0.25, 0.5, 0.8]
R = [10.0, 0.0, 4.0, 2.0]
PI = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]]
Q = [[8.0, 1.0], [3.0, 1.0], [2.0, 5.0], [2.0, 0.0]]
LOGGERS = [[0.5, 0.9], [0.25, 0.5], [0.5, 0.5], [0.8, 0.6]]


def test_known_answers_on_four_decisions() -> None:
    log = Log.of(A, P, R, loggers=LOGGERS, shares=[0.5, 0.5])
    # w = pi(a|x) / p = 1/0.5, 1/0.25, 0.5/0.5, 0.2/0.8 = 2, 4, 1, 0.25
    assert weights(log, PI).tolist() == [2.0, 4.0, 1.0, 0.25]
    # IPS: (20 + 0 + 4 + 0.5) / 4
    assert estimate(log, PI, "ips", draws=10).value == pytest.approx(6.125)
    # SNIPS: 24.5 / (2 + 4 + 1 + 0.25)
    assert estimate(log, PI, "snips", draws=10).value == pytest.approx(24.5 / 7.25)
    # DR: direct terms 8, 1, 3.5, 0.4; corrections 2*2, 4*-1, 1*-1, 0.25*0 -> 11.9 / 4
    assert estimate(log, PI, "dr", q=Q, draws=10).value == pytest.approx(2.975)
    # balanced: the arms' mixture of the logged action 0.7, 0.375, 0.5, 0.7
    bal = estimate(log, PI, "balanced", draws=10)
    assert bal.value == pytest.approx((1 / 0.7 * 10 + 0 + 1 * 4 + 0.2 / 0.7 * 2) / 4)
    # ESS: 7.25^2 / (4 + 16 + 1 + 0.0625)
    assert ess(weights(log, PI)) == pytest.approx(52.5625 / 21.0625)
    # the same log, the same interval; the interval holds the estimate
    e1, e2 = estimate(log, PI, "snips", seed=3), estimate(log, PI, "snips", seed=3)
    assert (e1.low, e1.high) == (e2.low, e2.high) and e1.low <= e1.value <= e1.high


def test_the_logging_policy_judged_on_its_own_log_is_the_mean_reward() -> None:
    log = Log.of(A, P, R)
    own = np.zeros((4, 2))
    own[np.arange(4), A] = 1.0  # a policy that always does what was done, each weight 1/p
    assert estimate(log, own, "snips", draws=10).value == pytest.approx(
        sum(r / p for r, p in zip(R, P, strict=True)) / sum(1 / p for p in P)
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (([0, 1], [0.5, 0.0], [1.0, 1.0]), r"p\[1\]: a logged probability must be in \(0, 1\]"),
        (([0, 1], [0.5, 1.5], [1.0, 1.0]), r"p\[1\]"),
        (([0, 1], [0.5, 0.5], [1.0, float("nan")]), r"r\[1\]: a reward must be finite"),
        (([], [], []), "the log is empty"),
        (([0, 1], [0.5], [1.0, 1.0]), "three arrays of one length"),
    ],
)
def test_a_log_that_cannot_be_judged_says_why(args: tuple[list[float], ...], said: str) -> None:
    with pytest.raises(LogError, match=said):
        Log.of(*args)


def test_a_policy_or_model_of_the_wrong_shape_is_refused() -> None:
    log = Log.of(A, P, R)
    with pytest.raises(LogError, match="pi: expected 4 x K"):
        estimate(log, [[1.0, 0.0]], "ips")
    with pytest.raises(LogError, match="adding up to 1"):
        estimate(log, [[0.6, 0.6]] * 4, "ips")
    with pytest.raises(LogError, match="q: the doubly robust estimator needs a reward model"):
        estimate(log, PI, "dr")
    with pytest.raises(LogError, match="every arm's probabilities"):
        estimate(log, PI, "balanced")


# ------------------------------------------------------------------------------------------
# a simulated bandit whose true values are known

MU = np.array([[1.0, 2.0, 0.5], [3.0, 0.0, 1.5]])  # mean reward by context (2) and action (3)


def _bandit(seed: int, n: int) -> tuple[Log, np.ndarray, np.ndarray, float]:
    """Logged by a policy that favours action 0 (0.5, 0.3, 0.2); judged: the best action for
    each context (true value 0.5 * 2 + 0.5 * 3 = 2.5)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    logging = np.array([0.5, 0.3, 0.2])
    a = rng.choice(3, size=n, p=logging)
    r = MU[x, a] + rng.normal(0.0, 1.0, n)
    pi = np.zeros((n, 3))
    pi[np.arange(n), MU.argmax(axis=1)[x]] = 1.0
    q = np.zeros((n, 3))  # a useless reward model: DR stays unbiased through the propensities
    return Log.of(a, logging[a], r), pi, q, 2.5


@pytest.mark.parametrize("kind", ["ips", "snips", "dr"])
def test_intervals_cover_the_true_value_nearly_as_often_as_they_claim(kind: str) -> None:
    """95% percentile-bootstrap intervals; measured over 200 logs of this size they cover the
    truth 91.5% (IPS, DR) and 92.5% (SNIPS) of the time: a little under what they claim, as
    percentile intervals of heavy-tailed weights do. Fewer than 85 of 100 would be a defect."""
    covered = 0
    runs = 100
    for seed in range(runs):
        log, pi, q, truth = _bandit(seed, 1500)
        e = estimate(log, pi, kind, q=q if kind == "dr" else None, draws=200, seed=seed)  # type: ignore[arg-type]
        covered += e.covers(truth)
        assert 0 < e.ess < e.n
    assert covered >= 85, covered


def test_the_multi_logger_estimate_uses_every_arms_probability() -> None:
    rng = np.random.default_rng(7)
    n = 4000
    x = rng.integers(0, 2, n)
    arms = np.array([[0.6, 0.2, 0.2], [0.1, 0.1, 0.8]])  # two arms, drawn half and half
    arm = rng.integers(0, 2, n)
    a = np.array([rng.choice(3, p=arms[k]) for k in arm])
    r = MU[x, a] + rng.normal(0.0, 1.0, n)
    pi = np.zeros((n, 3))
    pi[np.arange(n), MU.argmax(axis=1)[x]] = 1.0
    log = Log.of(a, arms[arm, a], r, loggers=arms[:, a].T, shares=[0.5, 0.5])
    bal, ips = estimate(log, pi, "balanced", seed=1), estimate(log, pi, "ips", seed=1)
    assert bal.covers(2.5) and ips.covers(2.5)
    assert bal.high - bal.low < ips.high - ips.low  # steadier than each arm on its own
    assert set(ESTIMATORS) == {"ips", "snips", "dr", "balanced"}


def test_promotion_needs_the_lower_bound_above_the_champion() -> None:
    log, pi, q, _ = _bandit(1, 3000)
    logging_own = np.tile([0.5, 0.3, 0.2], (log.n, 1))  # the champion: the logging policy
    champion = estimate(log, logging_own, "snips", seed=2)
    challenger = estimate(log, pi, "snips", seed=2)
    assert beats(challenger, champion) and not beats(champion, challenger)
