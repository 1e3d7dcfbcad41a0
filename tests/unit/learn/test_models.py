"""The models learn a treatment's uplift where it has one, and only there; the scores are what
the cycle reads; a model file round-trips and a wrong one is refused naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from arrears.cycle.plan import DECIDED_ON
from arrears.learn.models import ModelError, load, train
from arrears.learn.simulator import COMPLAINT_COST, COST


def _log(n: int, seed: int = 3) -> pa.Table:
    """Decisions taken at random among none, sms and agent_call: an SMS makes the forgetful
    (score >= 0.5) pay within the week far more often; a call helps nobody and brings
    complaints."""
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    due = rng.integers(50_000, 200_000, n)
    taken = rng.choice(["none", "sms", "agent_call"], n)
    p = np.where(score >= 0.5, 0.15, 0.05)
    p = np.where((taken == "sms") & (score >= 0.5), 0.75, p)
    paid = np.where(rng.random(n) < p, due, 0)
    complaints = ((taken == "agent_call") & (rng.random(n) < 0.05)).astype(np.int64)
    empty = {f"x_{name}" for name in DECIDED_ON} - {"x_score", "x_total_due", "x_dpd", "x_product"}
    cols: dict[str, object] = {name: [None] * n for name in empty}
    cols |= {
        "x_score": score,
        "x_total_due": due,
        "x_dpd": rng.integers(1, 60, n),
        "x_product": ["cash_loan"] * n,
        "stage": ["early"] * n,
        "taken": taken,
        "propensity": [1 / 3] * n,
        "paid_7d": paid,
        "paid_30d": paid,
        "complaints_7d": complaints,
    }
    types = {"x_product": pa.string(), "stage": pa.string(), "taken": pa.string()}
    types |= dict.fromkeys(empty, pa.float64())
    return pa.table({k: pa.array(v, types.get(k)) for k, v in cols.items()})


def test_the_uplift_is_learned_where_it_is_and_nowhere_else(tmp_path: Path) -> None:
    model = train(_log(6000))
    assert set(model.treatments) == {"none", "sms", "agent_call"}
    test = _log(2000, seed=9)
    scores = model.score(test, prefix="x_")
    score = np.asarray(test["x_score"].to_numpy())
    due = np.asarray(test["x_total_due"].to_numpy(), dtype=float)
    sms = scores["uplift_sms"]
    # forgetful: +60 points of the arrears, less 5 fen; the rest: nothing, less 5 fen
    forgetful = score >= 0.6
    assert np.median(sms[forgetful] / due[forgetful]) == pytest.approx(0.6, abs=0.1)
    assert np.median(sms[score < 0.4]) < 0.05 * np.median(due)
    call = scores["uplift_agent_call"]
    # a call adds nothing and costs its price and its complaints
    assert np.median(call) < -COST["agent_call"]
    assert model.complaint_rate["agent_call"] == pytest.approx(0.05, abs=0.015)
    assert np.median(call) == pytest.approx(
        -COST["agent_call"] - model.complaint_rate["agent_call"] * COMPLAINT_COST,
        abs=0.05 * np.median(due),
    )
    # the propensities are probabilities, calibrated: their mean is the rate seen
    p7 = scores["p_pay_7d"]
    assert 0 <= p7.min() and p7.max() <= 1
    seen = (np.asarray(test["paid_7d"].to_numpy()) >= due).mean()
    assert p7.mean() == pytest.approx(seen, abs=0.04)
    # saved and read back, it scores the same
    model.save(tmp_path / "m.json")
    again = load(tmp_path / "m.json").score(test, prefix="x_")
    assert np.allclose(again["uplift_sms"], sms)


def test_a_wrong_model_file_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something/2"}))
    with pytest.raises(ModelError, match=r"bad\.json: format"):
        load(bad)
    with pytest.raises(ModelError, match=r"missing\.json"):
        load(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"margin": "lots"}, "margin"),
        ({"margin": -5}, "margin"),
        ({"vocab": {"stage": "early"}}, "vocab.stage"),
        ({"calibration": {"p_pay_7d": [[0.1, 0.5], [0.2]]}}, "calibration.p_pay_7d"),
        ({"calibration": {"p_pay_7d": "no"}}, "calibration.p_pay_7d"),
        ({"complaint_rate": {"sms": 3}}, "complaint_rate.sms"),
        ({"boosters": {"share_sms": "tree\nversion=v4\n"}}, "boosters.share_sms"),
        ({"boosters": {"share_sms": "hello"}}, "boosters.share_sms"),
    ],
)
def test_a_damaged_model_file_is_refused_at_load_naming_the_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    good = tmp_path / "good.json"
    train(_log(3000)).save(good)
    body = json.loads(good.read_text()) | change
    if "boosters" in change:  # one booster damaged among the good ones
        body["boosters"] = json.loads(good.read_text())["boosters"] | change["boosters"]  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    with pytest.raises(ModelError, match=rf"bad\.json: {field}"):
        load(bad)
    assert load(good).boosters  # the good one loads


def test_too_few_decisions_are_refused() -> None:
    with pytest.raises(ModelError, match="at least"):
        train(_log(50))


def test_doing_nothing_the_gate_imposed_is_not_learned_as_a_choice() -> None:
    """Decisions where only doing nothing was compliant (under a promise about to be kept, say)
    pay far more often than the rest, for reasons the attributes do not show. Learned from as
    if chosen, they would make every contact look harmful; the treatment models learn only
    from decisions that had a choice, weighted by their probabilities."""
    base = _log(8000, seed=5)
    n = base.num_rows
    rng = np.random.default_rng(11)
    forced = rng.random(n) < 0.4
    taken = np.where(forced, "none", np.asarray(base["taken"].to_pylist(), dtype=object))
    due = np.asarray(base["x_total_due"].to_numpy())
    # no treatment helps anyone in the decisions that had a choice; the forced ones all pay
    paid = np.where(forced | (rng.random(n) < 0.1), due, 0)
    chosen = np.asarray(taken, dtype=object)
    log = (
        base.set_column(base.schema.get_field_index("taken"), "taken", pa.array(chosen.tolist()))
        .set_column(base.schema.get_field_index("paid_30d"), "paid_30d", pa.array(paid))
        .append_column("n_ok", pa.array(np.where(forced, 1, 3)))
    )
    log = log.set_column(
        log.schema.get_field_index("propensity"),
        "propensity",
        pa.array(np.where(forced, 1.0, 1 / 3)),
    )
    model = train(log)
    scores = model.score(_log(2000, seed=9), prefix="x_")
    test_due = np.asarray(_log(2000, seed=9)["x_total_due"].to_numpy(), dtype=float)
    # an SMS neither helps nor harms: its uplift is its cost, give or take the noise
    assert abs(float(np.median(scores["uplift_sms"] / test_due))) < 0.05
