"""The learning loop on the real decision path, small: a generated book lived a few days by
the champion and by the exploring learned strategy, in one world. The decision log holds one
row per decision with a probability that can be judged from; the outcomes joined are what
the store says; nothing breaks a rule; the same world lived twice gives the same figures."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arrears.learn.simulator import NOTES, live
from arrears.learn.train import BOOK_DAY, START, book_for, explorer
from arrears.learn.worlds import draw
from arrears.strategy.model import load

DAYS = 4


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return book_for(tmp_path_factory.mktemp("book"), 400, 5)


def test_the_champion_lives_a_world_without_breaking_a_rule(book: Path) -> None:
    world = draw("w", 21)
    first = live(world, load("default"), book, START, DAYS)
    again = live(world, load("default"), book, START, DAYS)
    # the accounts in collection on the first day, over the run
    stock = first.stock
    assert stock["accounts"] > 20 and stock["owed"] > 0
    assert 0 < stock["recovered"] <= stock["owed"] and stock["contacts"] > 0
    assert first.rule_breaks == 0
    # the accounts entering collection in the first half, each over its own days
    assert (first.window, first.follow) == (DAYS // 2, DAYS - DAYS // 2)
    assert 0 <= first.recovered <= first.owed and first.accounts <= stock["accounts"] + 40
    assert len(first.curve) == first.follow and first.curve == sorted(first.curve)
    assert sum(v["accounts"] for v in first.by_type.values()) == first.accounts
    # common random numbers: the same world and policy give the same figures
    assert (first.recovered, first.contacts, first.complaints, first.cost, first.stock) == (
        again.recovered,
        again.contacts,
        again.complaints,
        again.cost,
        again.stock,
    )


def test_the_truth_of_each_option_is_the_simulators_own_chance(book: Path) -> None:
    """What off-policy estimates are held to: for an account in arrears, doing nothing truly
    brings its type's hazard times what is due; a reminder, a call and a visit each at least
    that; and the decisions judged find their truth."""
    import numpy as np

    from arrears.learn.coverage import check, judged
    from arrears.learn.respond import Book

    world = draw("w", 23)
    strategy = explorer(load("learned"))
    lived = live(world, strategy, book, START, DAYS, keep_log=True, truth=True)
    truth = lived.truth
    assert truth is not None and truth.num_rows > 50
    engine = create_engine(f"sqlite:///{book}")
    with engine.connect() as conn:
        loans = [r[0] for r in conn.execute(text("SELECT loan_id FROM loan ORDER BY loan_id"))]
    hidden = Book(world, world.types(len(loans)))
    at = {loan: i for i, loan in enumerate(loans)}
    rows = truth.to_pylist()
    due_of = {(r["loan_id"], r["business_date"]): r["x_total_due"]
              for r in lived.log.to_pylist()}  # fmt: skip
    checked = 0
    for r in rows:
        i = at[r["loan_id"]]
        assert r["truth_sms"] >= r["truth_none"] * min(hidden.reminder[i], 1.0) - 1e-9
        due = due_of.get((r["loan_id"], r["business_date"]))
        if r["others"] == 0 and due:
            assert r["truth_none"] == pytest.approx(hidden.hazard[i] * due)
            checked += 1
    assert checked > 20
    got, mine = judged(lived.log, truth)
    assert got.num_rows == mine.num_rows > 0
    assert got["loan_id"].to_pylist() == mine["loan_id"].to_pylist()
    assert all(c == 0 for c in mine["others"].to_pylist())
    checks = check(lived.log, truth)
    assert {c["estimator"] for c in checks} == {"ips", "snips", "dr"}
    assert {c["policy"] for c in checks} >= {"nothing", "agent call"}
    for c in checks:
        assert c["low"] <= c["value"] <= c["high"] and np.isfinite(c["truth"])


def test_the_exploring_learned_strategy_logs_judgeable_decisions(book: Path) -> None:
    strategy = explorer(load("learned"))
    lived = live(draw("w", 21), strategy, book, START, DAYS, keep_log=True)
    log = lived.log
    assert log is not None and log.num_rows > 50
    rows = log.to_pylist()
    ids = [r["decision_id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert {r["business_date"] for r in rows} == {START + timedelta(days=k) for k in range(DAYS)}
    choices = [r for r in rows if r["decision"].endswith("-nba")]
    assert choices
    for r in choices:
        options = r["candidates"].split(",")
        assert r["taken"] in options and "none" in options
        p = 0.5 * (r["taken"] == options[0]) + 0.5 / len(options)
        assert r["propensity"] == pytest.approx(p)
    taken = Counter(r["taken"] for r in choices)
    assert taken["none"] and sum(v for k, v in taken.items() if k != "none")
    assert lived.rule_breaks == 0
    assert BOOK_DAY < START


def test_outcomes_are_what_the_store_holds(book: Path, tmp_path: Path) -> None:
    """paid_7d of each decision is the loan's payments from that day to six days on."""
    import shutil

    from arrears.bootstrap import bootstrap
    from arrears.learn.simulator import _settings
    from arrears.service.queries.decisions import decisions_with_outcomes

    strategy = explorer(load("learned"))
    db = tmp_path / "kept.db"
    lived = live(draw("w", 22), strategy, book, START, DAYS, keep_log=True, workdir=tmp_path)
    assert lived.log is not None
    # live a copy again, keeping its store this time, and recount by hand
    shutil.copyfile(book, db)
    app = bootstrap(_settings(db, tmp_path))
    from arrears.learn.simulator import _Run

    run = _Run(app, draw("w", 22), strategy, None, "learned")
    run.go(START, DAYS, None)
    log = decisions_with_outcomes(app).to_pylist()
    assert [r["paid_7d"] for r in log] == [r["paid_7d"] for r in lived.log.to_pylist()]
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        for r in log[:: max(1, len(log) // 40)]:
            want = conn.execute(
                text(
                    "SELECT coalesce(sum(amount), 0) FROM payment WHERE loan_id = :l AND "
                    "status = 'posted' AND paid_on >= :d AND paid_on < :e"
                ),
                {
                    "l": r["loan_id"],
                    "d": r["business_date"],
                    "e": r["business_date"] + timedelta(days=7),
                },
            ).scalar()
            assert r["paid_7d"] == want
    assert any(r["paid_7d"] for r in log)
    # a conversation's wrap-up notes what the borrower said: their own type's words, or a plain
    # right-party contact; an unanswered call notes nothing
    with engine.connect() as conn:
        calls = conn.execute(
            text(
                "SELECT loan_id, result, disposition, reason FROM contact_attempt "
                "WHERE provider = 'simulator' AND channel IN ('call', 'visit')"
            )
        ).all()
    talked = [c for c in calls if c.result == "conversation"]
    assert talked and len(talked) < len(calls)
    for c in calls:
        kind = run.kinds[run.index[c.loan_id]]
        if c.result != "conversation":
            assert c.disposition is None and c.reason is None
        elif c.disposition != "right_party":
            assert c.disposition == NOTES[kind][0] and c.reason in NOTES[kind][1]
    app.engine.dispose()


def test_champion_and_challenger_run_side_by_side_with_the_model(
    book: Path, tmp_path: Path
) -> None:
    """The champion-challenger strategy: the default's steps for one arm, the learned choices
    for the other, taken by the model's scores; the experiments page's figures see both."""
    import shutil

    from arrears.bootstrap import bootstrap
    from arrears.learn.models import train
    from arrears.learn.simulator import _settings
    from arrears.service.daily.cycle import run_cycle
    from arrears.service.daily.strategies import experiment_results
    from tests.unit.learn.test_models import _log

    db = tmp_path / "cc.db"
    shutil.copyfile(book, db)
    app = bootstrap(_settings(db, tmp_path))
    app.scorer = train(_log(3000))
    run_cycle(app, START, strategy=load("champion-challenger"))
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT arm, decision, taken, candidates, propensity FROM decision")
        ).all()
    arms = Counter(r.arm for r in rows)
    assert arms["champion"] and arms["learned"]
    learned = [r for r in rows if r.arm == "learned"]
    assert all(r.decision.endswith("-nba") and r.propensity == 1.0 for r in learned if r.taken)
    # the synthetic model finds SMS worth most to some and nothing worth it to others
    assert {r.taken for r in learned} >= {"sms", "none"}
    figures = {r["arm"] for r in experiment_results(app, START, START)}
    assert {"champion", "learned"} <= figures
    app.engine.dispose()


def test_the_dry_run_scores_the_choices_with_the_loaded_model(book: Path, tmp_path: Path) -> None:
    """The console's dry run (a plan diff) plans a learned strategy with the model the process
    loaded (ARREARS_MODEL_FILE): without one every choice does nothing."""
    import shutil

    from arrears.bootstrap import bootstrap
    from arrears.learn.models import train
    from arrears.learn.simulator import _settings
    from arrears.service.daily.plans import diff_plans
    from tests.unit.learn.test_models import _log

    db = tmp_path / "dry.db"
    shutil.copyfile(book, db)
    app = bootstrap(_settings(db, tmp_path))

    def early(kind: str) -> int:
        got = diff_plans(app, START, candidate="learned", current="default")
        return sum(
            r["candidate"] for r in got.rows if r["stage"] == "early" and r["channel"] == kind
        )

    assert early("sms") == 0  # no model: the first option listed, doing nothing
    app.scorer = train(_log(3000))
    assert early("sms") > 0
    app.engine.dispose()


def test_the_coverage_command_says_how_often_the_intervals_held_the_truth(
    tmp_path: Path,
) -> None:
    import json

    from typer.testing import CliRunner

    from arrears.cli import app

    out = tmp_path / "coverage.json"
    got = CliRunner().invoke(
        app,
        ["learn", "coverage", "--worlds", "1", "--loans", "300", "--days", "6",
         "--workers", "1", "--out", str(out)],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    assert "held the truth" in got.output and "snips" in got.output
    body = json.loads(out.read_text())
    assert [s["estimator"] for s in body["summary"]] == ["ips", "snips", "dr"]
    for s in body["summary"]:
        assert s["intervals"] == 3  # three policies in one world
        assert 0 <= s["covered"] <= 3 and s["share_low"] <= s["share"] <= s["share_high"]
    for c in body["checks"]:
        assert c["covers"] == (c["low"] <= c["truth"] <= c["high"])
