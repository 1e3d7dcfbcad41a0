"""Off-policy evaluation: what a new policy would have earned, judged from decisions another
policy made, with bootstrap intervals and the effective sample size.

The log: for each decision ``i`` (an account on a day), the action taken ``a[i]`` (an index in
``0..K-1``), the probability the logging policy gave it ``p[i]`` (> 0: without it no policy can
be judged), and the reward ``r[i]`` (say, the amount paid within 30 days net of the contact's
cost). The policy judged gives ``pi[i, k]``, its probability of action ``k`` in decision
``i``'s context. Estimators:

* **IPS** (inverse propensity scoring): ``mean(w * r)`` with ``w = pi[i, a[i]] / p[i]``;
  unbiased when ``p`` is right and positive wherever ``pi`` is.
* **SNIPS** (self-normalised): ``sum(w * r) / sum(w)``; a little biased, far steadier.
* **DR** (doubly robust): ``mean(sum_k pi[i, k] * q[i, k] + w * (r - q[i, a[i]]))`` with a
  reward model ``q``; unbiased when either the propensities or the model is right.
* **Multi-logger** (balanced IPS, for logs drawn by several arms at once): each decision is
  weighted by ``pi / sum_j share_j * p_j`` over every arm's probability of the logged action,
  not only the arm that drew it (Agarwal et al., 2017): lower variance than per-arm IPS.

The effective sample size ``(sum w)^2 / sum w^2`` says how many of the logged decisions the
estimate really rests on. Intervals are percentile bootstraps over decisions (a seeded
generator: the same log gives the same interval). A policy is promoted only when its interval's
lower bound beats the champion's estimate (:func:`beats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Estimator = Literal["ips", "snips", "dr", "balanced"]
ESTIMATORS: tuple[Estimator, ...] = ("ips", "snips", "dr", "balanced")


class LogError(ValueError):
    """A log that cannot be judged from: names the field and what is wrong."""


@dataclass(frozen=True)
class Estimate:
    estimator: str
    value: float
    low: float  # the bootstrap interval's bounds (``level``, two-sided)
    high: float
    ess: float  # effective sample size of the importance weights
    n: int

    def covers(self, truth: float) -> bool:
        return self.low <= truth <= self.high


@dataclass(frozen=True)
class Log:
    """Logged decisions, checked: ``a`` actions (ints in 0..K-1), ``p`` the logging policy's
    probability of each, ``r`` rewards; ``loggers`` (optional, n x L) every arm's probability
    of the logged action and ``shares`` (L) the share of decisions each arm drew, for the
    multi-logger estimator."""

    a: NDArray[np.int64]
    p: NDArray[np.float64]
    r: NDArray[np.float64]
    loggers: NDArray[np.float64] | None = None
    shares: NDArray[np.float64] | None = None

    @classmethod
    def of(
        cls,
        a: ArrayLike,
        p: ArrayLike,
        r: ArrayLike,
        loggers: ArrayLike | None = None,
        shares: ArrayLike | None = None,
    ) -> Log:
        aa = np.asarray(a, dtype=np.int64)
        pp = np.asarray(p, dtype=np.float64)
        rr = np.asarray(r, dtype=np.float64)
        n = aa.shape[0]
        if aa.ndim != 1 or pp.shape != (n,) or rr.shape != (n,):
            raise LogError(f"a, p, r: expected three arrays of one length, got {aa.shape}, "
                           f"{pp.shape}, {rr.shape}")  # fmt: skip
        if n == 0:
            raise LogError("a: the log is empty")
        if not np.all((pp > 0) & (pp <= 1)):
            bad = int(np.argmax(~((pp > 0) & (pp <= 1))))
            raise LogError(f"p[{bad}]: a logged probability must be in (0, 1], got {pp[bad]}")
        if not np.all(np.isfinite(rr)):
            raise LogError(f"r[{int(np.argmax(~np.isfinite(rr)))}]: a reward must be finite")
        lg = sh = None
        if loggers is not None:
            lg = np.asarray(loggers, dtype=np.float64)
            sh = np.asarray(shares, dtype=np.float64)
            if lg.ndim != 2 or lg.shape[0] != n or sh.shape != (lg.shape[1],):
                raise LogError("loggers, shares: expected n x L probabilities and L shares")
            if not np.isclose(sh.sum(), 1.0) or np.any(sh < 0):
                raise LogError(f"shares: must be >= 0 and add up to 1, got {sh.tolist()}")
        return cls(aa, pp, rr, lg, sh)

    @property
    def n(self) -> int:
        return int(self.a.shape[0])


def _target(log: Log, pi: ArrayLike) -> NDArray[np.float64]:
    probs = np.asarray(pi, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != log.n:
        raise LogError(f"pi: expected {log.n} x K probabilities, got {probs.shape}")
    if np.any(log.a >= probs.shape[1]) or np.any(log.a < 0):
        raise LogError(f"a: an action outside 0..{probs.shape[1] - 1}")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-6) or np.any(probs < 0):
        raise LogError("pi: each row must be probabilities adding up to 1")
    return probs


def weights(log: Log, pi: ArrayLike, *, balanced: bool = False) -> NDArray[np.float64]:
    """The importance weights: ``pi(a|x) / p`` (or, ``balanced``, over the arms' mixture)."""
    probs = _target(log, pi)
    chosen = probs[np.arange(log.n), log.a]
    if not balanced:
        return chosen / log.p
    if log.loggers is None or log.shares is None:
        raise LogError("loggers: the multi-logger estimator needs every arm's probabilities")
    mixture = log.loggers @ log.shares
    if np.any(mixture <= 0):
        raise LogError("loggers: a logged action no arm could have taken")
    return chosen / mixture


def _point(
    kind: Estimator,
    r: NDArray[np.float64],
    w: NDArray[np.float64],
    direct: NDArray[np.float64] | None,
    q_taken: NDArray[np.float64] | None,
) -> float:
    if kind in ("ips", "balanced"):
        return float(np.mean(w * r))
    if kind == "snips":
        total = float(np.sum(w))
        return float(np.sum(w * r) / total) if total > 0 else 0.0
    assert direct is not None and q_taken is not None
    return float(np.mean(direct + w * (r - q_taken)))


def estimate(
    log: Log,
    pi: ArrayLike,
    kind: Estimator = "snips",
    *,
    q: ArrayLike | None = None,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """The value of the policy ``pi`` on ``log`` by ``kind``, with a bootstrap interval over
    decisions (``draws`` resamples) and the effective sample size. ``q`` (n x K): the reward
    model the doubly robust estimator needs."""
    if kind not in ESTIMATORS:
        raise LogError(f"kind: expected one of {', '.join(ESTIMATORS)}, got {kind!r}")
    probs = _target(log, pi)
    w = weights(log, probs, balanced=kind == "balanced")
    direct = q_taken = None
    if kind == "dr":
        if q is None:
            raise LogError("q: the doubly robust estimator needs a reward model")
        qq = np.asarray(q, dtype=np.float64)
        if qq.shape != probs.shape:
            raise LogError(f"q: expected {probs.shape}, got {qq.shape}")
        direct = np.sum(probs * qq, axis=1)
        q_taken = qq[np.arange(log.n), log.a]
    value = _point(kind, log.r, w, direct, q_taken)
    rng = np.random.default_rng(seed)
    boot = np.empty(draws)
    for b in range(draws):
        idx = rng.integers(0, log.n, log.n)
        boot[b] = _point(
            kind,
            log.r[idx],
            w[idx],
            None if direct is None else direct[idx],
            None if q_taken is None else q_taken[idx],
        )
    tail = (1 - level) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    return Estimate(kind, value, float(low), float(high), ess(w), log.n)


def ess(w: ArrayLike) -> float:
    """The effective sample size of importance weights: ``(sum w)^2 / sum w^2``."""
    ww = np.asarray(w, dtype=np.float64)
    squares = float(np.sum(ww * ww))
    return float(np.sum(ww)) ** 2 / squares if squares > 0 else 0.0


def beats(challenger: Estimate, champion: Estimate) -> bool:
    """Promote only on evidence: the challenger's lower bound above the champion's value."""
    return challenger.low > champion.value
