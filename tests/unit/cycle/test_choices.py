"""Choices in the plan (``best_of``) and exploration per stage, with the decision log: the
option taken is always compliant, its logged probability is the exploring policy's, the draw
is keyed (a re-run takes the same), and model scores steer the policy."""

from __future__ import annotations

from collections import Counter
from datetime import date
from importlib import resources
from typing import Any

import pyarrow as pa
import pytest

from arrears.cycle.decisions import log_rows
from arrears.cycle.engines import DuckDB
from arrears.cycle.run import DayPlan, make_plan
from arrears.cycle.scalar_engine import reference_plan
from arrears.domain.delinquency import DEFAULT_BUCKETS
from arrears.strategy.model import Strategy, StrategyError, loads
from tests.unit.cycle.random_portfolio import snapshot

AS_OF = date(2026, 11, 23)
FIXED = "      - {every: 7, from_day: 31, channel: sms, template: late_sms}\n"
CHOICE = (
    "      - {id: nba, every: 1, from_day: 31, to_day: 90, best_of: [none, sms, robocall,"
    " agent_call],\n         template: {sms: late_sms, robocall: early_robocall},"
    " queue: late_calls}\n"
)


def _text(explore: str = "", choice: str = CHOICE) -> str:
    text = (resources.files("arrears.strategy") / "strategies" / "default.yaml").read_text()
    assert FIXED in text
    text = text.replace(FIXED, choice)
    return text.replace("\ntreatments:\n", f"\n{explore}\ntreatments:\n")


def _plan(strategy: Strategy, scorer: Any = None, seed: int = 5, loans: int = 3000) -> DayPlan:
    engine = DuckDB()
    try:
        return make_plan(
            snapshot(seed, loans, AS_OF), strategy, engine, buckets=DEFAULT_BUCKETS, scorer=scorer
        )
    finally:
        engine.close()


def _log(strategy: Strategy, day: DayPlan) -> list[dict[str, Any]]:
    assert day.decisions is not None
    return log_rows(day.decisions, strategy).to_pylist()


def test_a_choice_takes_one_compliant_option_with_its_probability() -> None:
    strategy = loads(_text("explore: {late: 0.3}"), "nba.yaml")
    day = _plan(strategy)
    log = _log(strategy, day)
    ids = [r["decision_id"] for r in log]
    assert len(ids) == len(set(ids)), "one row per account, day and decision"
    choices = [r for r in log if r["decision"] == "nba"]
    assert len(choices) > 100
    listed = ["none", "sms", "robocall", "agent_call"]
    for r in choices:
        options = r["candidates"].split(",")
        assert options == [c for c in listed if c in options], "in listed order"
        assert "none" in options, "doing nothing is always allowed"
        assert r["taken"] in options
        policy = options[0]  # no scores: the first compliant option listed
        want = 0.7 * (r["taken"] == policy) + 0.3 / len(options)
        assert r["propensity"] == pytest.approx(want)
    explored = sum(r["explored"] for r in choices) / len(choices)
    assert 0.2 < explored < 0.4
    # doing nothing never reaches the plan; every option taken that did is compliant
    plan = day.plan.to_pylist()
    assert not [a for a in plan if a["channel"] == "none"]
    acted = {(a["loan_id"], a["step_id"]): a for a in plan if a["step_id"].startswith("nba.")}
    for r in choices:
        if r["taken"] not in (None, "none"):
            action = acted.pop((r["loan_id"], f"nba.{r['taken']}"))
            assert action["status"] in ("planned", "cut"), action
    assert not acted, "no option of a choice reaches the plan untaken"
    # the explored stage's fixed steps can be skipped too, and are logged as such
    fixed = [r for r in log if r["stage"] == "late" and r["decision"] != "nba"]
    assert fixed and {r["taken"] for r in fixed} >= {"none"}
    assert all(r["candidates"].endswith("none") for r in fixed if r["n_ok"])


def test_the_scalar_reference_makes_the_same_choices() -> None:
    strategy = loads(_text("explore: {late: 0.3, early: 0.2}"), "nba.yaml")
    snap = snapshot(6, 1500, AS_OF)
    engine = DuckDB()
    try:
        got = make_plan(snap, strategy, engine, buckets=DEFAULT_BUCKETS).plan.to_pylist()
    finally:
        engine.close()
    want = reference_plan(snapshot(6, 1500, AS_OF), strategy, buckets=DEFAULT_BUCKETS)
    assert sorted(map(str, got)) == sorted(map(str, want.to_pylist()))
    assert any(a["step_id"].startswith("nba.") for a in got)


def test_the_draw_is_keyed_so_a_rerun_takes_the_same() -> None:
    strategy = loads(_text("explore: {late: 0.3}"), "nba.yaml")
    first, again = _log(strategy, _plan(strategy)), _log(strategy, _plan(strategy))
    assert [(r["decision_id"], r["taken"]) for r in first] == [
        (r["decision_id"], r["taken"]) for r in again
    ]


def test_without_exploration_the_policy_is_taken_with_probability_one() -> None:
    strategy = loads(_text(), "nba.yaml")
    log = _log(strategy, _plan(strategy))
    choices = [r for r in log if r["decision"] == "nba"]
    assert choices and all(r["taken"] == "none" and r["propensity"] == 1.0 for r in choices)
    assert not any(r["explored"] for r in log)


class _Scorer:
    """Robocall is worth most to accounts with an even dpd, SMS to the rest."""

    def score(self, features: pa.Table, *, wanted: Any = None) -> dict[str, Any]:
        dpd = features["dpd"].to_pylist()
        return {
            "uplift_robocall": [500.0 if d % 2 == 0 else 10.0 for d in dpd],
            "uplift_sms": [100.0] * len(dpd),
            "uplift_agent_call": [-50.0] * len(dpd),
        }


def test_model_scores_steer_the_policy() -> None:
    strategy = loads(_text(), "nba.yaml")
    log = _log(strategy, _plan(strategy, _Scorer()))
    choices = [r for r in log if r["decision"] == "nba"]
    taken = Counter((r["x_dpd"] % 2, r["taken"]) for r in choices)
    for r in choices:
        options = r["candidates"].split(",")
        best = "robocall" if r["x_dpd"] % 2 == 0 and "robocall" in options else "sms"
        if best not in options:
            best = "none"  # agent_call is worth less than nothing
        assert r["taken"] == best, r
    assert taken[(0, "robocall")] and taken[(1, "sms")]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (_text("explore: {nowhere: 0.1}"), "explore.nowhere"),
        (_text("explore: {late: 0.9}"), "explore.late"),
        (_text(choice=CHOICE.replace("best_of: [none,", "best_of: [none, none,")), "best_of"),
        (_text(choice=CHOICE.replace("best_of", "channel: sms, best_of")), "treatments"),
        (_text(choice=CHOICE.replace("template: {sms: late_sms, ", "template: {")), "template"),
    ],
)
def test_bad_choices_and_exploration_are_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(StrategyError) as err:
        loads(text, "nba.yaml")
    assert any(field in p.field for p in err.value.problems), err.value.problems


class _Callers:
    """A call is worth more the more is owed; an SMS is worth a little to everyone."""

    def score(self, features: pa.Table, *, wanted: Any = None) -> dict[str, Any]:
        due = features["total_due"].to_pylist()
        return {
            "uplift_agent_call": [200.0 + d / 100 for d in due],
            "uplift_sms": [100.0] * len(due),
            "uplift_robocall": [-1.0] * len(due),
        }


def _five_places(allocation: str) -> str:
    """The choice's calls in a queue of their own with five places."""
    text = _text(allocation, choice=CHOICE.replace("queue: late_calls", "queue: nba_calls"))
    return text.replace(
        "\nqueues:", "\nqueues:\n  nba_calls: {capacity: 5, label: {zh-CN: 测试, en: Test}}", 1
    )


@pytest.mark.parametrize("allocation", ["optimal", "greedy"])
def test_the_queue_places_go_where_they_add_most(allocation: str) -> None:
    """Five places in the calls queue: the optimiser gives them to the five accounts a call
    adds most for over their SMS; the others send their SMS instead of waiting to be cut."""
    strategy = loads(_five_places(f"allocation: {allocation}"), "nba.yaml")
    day = _plan(strategy, _Callers(), loans=1000)
    choices = [r for r in _log(strategy, day) if r["decision"] == "nba"]
    called = {r["loan_id"] for r in choices if r["taken"] == "agent_call"}

    def gain(r: dict[str, Any]) -> float:  # a call over the account's best other option
        return 200 + r["x_total_due"] / 100 - (100 if "sms" in r["candidates"] else 0)

    could = [r for r in choices if "agent_call" in r["candidates"].split(",")]
    assert len(could) > 5, "more accounts could be called than there are places"
    top = sorted(could, key=gain, reverse=True)[:5]
    assert called == {r["loan_id"] for r in top}
    rest = [r for r in choices if r["taken"] != "agent_call" and "sms" in r["candidates"]]
    assert rest and all(r["taken"] == "sms" for r in rest)


def test_without_reservation_the_queue_cuts_by_priority() -> None:
    strategy = loads(_five_places("allocation: priority"), "nba.yaml")
    day = _plan(strategy, _Callers(), loans=1000)
    choices = [r for r in _log(strategy, day) if r["decision"] == "nba"]
    # every account that could be called chose the call; the queue kept five, cut the rest
    assert len([r for r in choices if r["taken"] == "agent_call"]) > 5
    calls = [a for a in day.plan.to_pylist() if a["step_id"] == "nba.agent_call"]
    assert sum(a["status"] == "cut" for a in calls) == len(calls) - 5


def test_explored_decisions_keep_their_draw_and_their_places_count() -> None:
    """With exploration, an explored decision keeps what it drew (its logged probability
    stays right), and the calls it drew take their places before the policy's."""
    five = _five_places("allocation: optimal\nexplore: {late: 0.3}")
    plain = _five_places("allocation: priority\nexplore: {late: 0.3}")
    got = {}
    for name, text in (("optimal", five), ("priority", plain)):
        strategy = loads(text, "nba.yaml")
        day = _plan(strategy, _Callers(), loans=1000)
        got[name] = (day, [r for r in _log(strategy, day) if r["decision"] == "nba"])
    day, choices = got["optimal"]
    explored = {r["loan_id"]: r["taken"] for r in choices if r["explored"]}
    assert explored == {r["loan_id"]: r["taken"] for r in got["priority"][1] if r["explored"]}
    drawn = sum(t == "agent_call" for t in explored.values())
    policy = [r for r in choices if not r["explored"] and r["taken"] == "agent_call"]
    assert drawn and len(policy) == max(0, 5 - drawn)
    calls = [a for a in day.plan.to_pylist() if a["step_id"] == "nba.agent_call"]
    assert sum(a["status"] == "cut" for a in calls) == max(0, drawn - 5)


def test_places_a_fixed_step_takes_are_not_given_twice() -> None:
    """The choice's calls share the late calls queue with the default's fixed calls: the
    places the fixed calls take come off first, and no call the policy chose is cut."""
    text = _text("allocation: optimal").replace(
        "late_calls: {capacity: 1000", "late_calls: {capacity: 40"
    )
    strategy = loads(text, "nba.yaml")
    day = _plan(strategy, _Callers(), loans=1000)
    plan = day.plan.to_pylist()
    fixed = [a for a in plan if a.get("queue") == "late_calls" and a["step_id"] != "nba.agent_call"]
    taking = sum(a["status"] in ("planned", "cut") for a in fixed)
    assert 0 < taking < 40, "the test needs the fixed calls to leave some places"
    chose = [a for a in plan if a["step_id"] == "nba.agent_call"]
    could = [
        r
        for r in _log(strategy, day)
        if r["decision"] == "nba" and "agent_call" in r["candidates"].split(",")
    ]
    assert len(chose) == min(40 - taking, len(could))
    assert not [a for a in chose if a["status"] == "cut"]
