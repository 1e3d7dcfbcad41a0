"""Choosing the margin on held-out accounts by off-policy evaluation (arrears.learn.tune)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from arrears.learn.models import Model
from arrears.learn.tune import MARGINS, choices, held_out, rewards, tune


def test_held_out_splits_by_account_the_same_way_every_time() -> None:
    loans = pa.array([f"LN{i % 500:06d}" for i in range(5000)])
    first = held_out(loans)
    assert np.array_equal(first, held_out(loans))
    side: dict[str, bool] = {}
    for loan, h in zip(loans.to_pylist(), first, strict=True):
        assert side.setdefault(loan, bool(h)) == bool(h)  # an account is on one side only
    share = sum(side.values()) / len(side)
    assert 0.14 < share < 0.26


def test_choices_follow_the_cycles_rule() -> None:
    places = [
        np.array(["none", "none", "sms", "none", "letter", "letter"], dtype=object),
        np.array(["sms", "sms", "none", "agent_call", "none", "robocall"], dtype=object),
        np.array(["agent_call", None, None, None, None, None], dtype=object),
    ]
    scores = {
        "uplift_sms": np.array([5.0, -1.0, 0.0, 3.0, 0.0, 0.0]),
        "uplift_agent_call": np.array([10.0, 99.0, 99.0, np.nan, 0.0, 0.0]),
    }
    # highest wins; doing nothing is 0; a tie goes to the first listed; an option without a
    # score (letter, robocall here) ranks last, and two of them tie to the first listed
    assert choices(scores, places).tolist() == [2, 0, 0, 0, 1, 0]


def _log(effect: float, n: int = 6000, seed: int = 3) -> pa.Table:
    """Two options each day, none or sms, drawn half and half; sms adds ``effect`` of the
    arrears to the chance of paying within 30 days (the reward's window), for accounts with a
    score above 0.5."""
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    sms = rng.random(n) < 0.5
    due = np.full(n, 10_000)
    chance = 0.2 + np.where(sms & (score > 0.5), effect, 0.0)
    paid = np.where(rng.random(n) < chance, due, 0)
    return pa.table(
        {
            "loan_id": [f"LN{i:06d}" for i in range(n)],
            "n_ok": np.full(n, 2),
            "candidates": ["none,sms"] * n,
            "taken": np.where(sms, "sms", "none").tolist(),
            "propensity": np.full(n, 0.5),
            "x_total_due": due,
            "x_score": score,
            "paid_30d": paid,
            "complaints_7d": np.zeros(n, np.int64),
        }
    )


class _Truth(Model):
    """A model whose uplift is the true one: sms adds ``effect`` x 10,000 above score 0.5."""

    def __init__(self, effect: float) -> None:
        super().__init__(vocab={}, boosters={}, calibration={}, complaint_rate={})
        self.effect = effect

    def score(
        self,
        features: pa.Table,
        prefix: str = "",
        *,
        margin: float | None = None,
        wanted: Any = None,
    ) -> dict[str, Any]:
        s = features[prefix + "score"].to_numpy()
        gain = np.where(s > 0.5, self.effect * 10_000, 0.0)
        return {"uplift_sms": gain - 5 - (margin or 0.0)}

    def expected(self, features: pa.Table, prefix: str = "") -> dict[str, Any]:
        s = features[prefix + "score"].to_numpy()
        return {"none": np.full(len(s), 2000.0), "sms": 1995.0 + (s > 0.5) * self.effect * 1e4}


def test_a_real_effect_is_promoted_and_its_margin_contacts_only_those_it_helps() -> None:
    model = _Truth(0.3)
    got = tune(model, _log(0.3))
    assert got["promoted"]
    assert got["margin"] == model.margin
    best = next(r for r in got["table"] if r["margin"] == got["margin"])
    # contacting the half it helps is worth about 0.3 x 10,000 x 1/2 more a decision
    assert best["value"] - got["nothing"]["value"] == pytest.approx(1500, abs=400)
    assert 0.4 < best["contact_share"] < 0.6
    assert best["low"] <= best["value"] <= best["high"]
    # every margin below the gain (30 yuan) contacts the same half; the largest is kept, and
    # one above it, which contacts nobody, is not
    assert got["margin"] == 1600.0


def test_no_effect_is_not_promoted() -> None:
    got = tune(_Truth(0.0), _log(0.0))
    assert not got["promoted"]
    assert len(got["table"]) == len(MARGINS)


def test_rewards_are_paid_less_cost_and_complaints() -> None:
    log = pa.table(
        {
            "x_total_due": [1000, 1000, None],
            "paid_30d": [5000, 200, 0],
            "taken": ["sms", "agent_call", "none"],
            "complaints_7d": [0, 1, 0],
        }
    )
    assert rewards(log).tolist() == [995.0, 200 - 400 - 50_000, 0.0]


def test_a_cut_call_is_not_judged_as_a_call() -> None:
    """Decisions whose call the queue cut never made the call: they are left out."""
    log = _log(0.3)
    status = np.where(np.arange(log.num_rows) % 4 == 0, "cut", "planned")
    got = tune(_Truth(0.3), log.append_column("status", pa.array(status.tolist())))
    assert got["judged"] == log.num_rows - int((status == "cut").sum())
