"""The daily cycle against a real store (SQLite and PostgreSQL): the plan written back equals
the scalar reference; re-runs are idempotent; missed dates are caught up; runs are chained."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, select, text, update

from arrears.bootstrap import App
from arrears.cycle import book_delinquency as delinquency
from arrears.cycle import snapshot
from arrears.cycle.scalar_engine import reference_plan
from arrears.domain.delinquency import DEFAULT_BUCKETS
from arrears.generate.portfolio import Options, generate
from arrears.service.daily.cycle import run_cycle, run_lake
from arrears.service.daily.runs import mark, stored_plan, verify_runs
from arrears.service.errors import ServiceError
from arrears.service.queries.day_plan import run_listing
from arrears.store import tables as t
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from tests.conftest import FIXED_NOW

DAY = date(2026, 11, 23)
WIDE = Path(__file__).parents[1] / "unit" / "cycle" / "wide.yaml"


@pytest.fixture
def portfolio(app: App, tmp_path: Path) -> App:
    generate(tmp_path / "gen", Options(loans=400, seed=11, as_of=DAY))
    ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    with app.engine.begin() as conn:
        loans = conn.execute(select(t.loan.c.loan_id, t.loan.c.borrower_id)).all()
        at = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
        contacts, holds = [], []
        for k, (loan_id, borrower_id) in enumerate(loans[:120]):
            for j in range(k % 5):
                contacts.append(
                    {
                        "attempt_id": f"A{k}-{j}",
                        "borrower_id": borrower_id,
                        "loan_id": loan_id if j % 2 else None,
                        "channel": ("call", "sms", "robocall")[j % 3],
                        "at": at - timedelta(hours=7 * j + k),
                        "direction": "outbound",
                        "role": "debtor",
                        "destination_hash": None,
                        "result": ("connected", "no_answer", "conversation", None)[j % 4],
                    }
                )
            if k % 9 == 0:
                holds.append(
                    {
                        "hold_id": f"H{k}",
                        "borrower_id": borrower_id,
                        "loan_id": None,
                        "kind": ("complaint", "dispute", "cease_request")[k % 3],
                        "starts_at": at - timedelta(days=2),
                        "ends_at": None,
                    }
                )
        conn.execute(insert(t.contact_attempt), contacts)
        conn.execute(insert(t.hold), holds)
        conn.execute(
            insert(t.promise),
            [
                {
                    "promise_id": f"P{k}",
                    "loan_id": loans[k][0],
                    "amount": 10000,
                    "due_on": DAY,
                    "made_at": at,
                    "status": "pending",
                    "settled_on": None,
                }
                for k in range(0, 200, 7)
            ],
        )
    return app


def _plan(app: App, day: date) -> dict[str, dict[str, object]]:
    rows = stored_plan(app, day).to_pylist()
    return {r["action_id"]: r for r in rows}


def test_the_stored_plan_equals_the_scalar_reference(portfolio: App) -> None:
    strategy = load(WIDE)
    [result] = run_cycle(portfolio, DAY, strategy=strategy)
    want = reference_plan(
        snapshot.from_store(portfolio.engine, DAY), strategy, buckets=DEFAULT_BUCKETS
    ).to_pylist()
    stored = _plan(portfolio, DAY)
    assert len(stored) == len(want) == result.plan.num_rows > 50
    for row in want:
        got = stored[row["action_id"]]
        for key, value in row.items():
            if key == "step_order":
                continue  # not stored: the step id names the step
            have = got[key]
            if isinstance(have, datetime) and have.tzinfo is None:
                have = have.replace(tzinfo=UTC)  # SQLite hands back naive UTC
            assert have == value, (row["action_id"], key)
    rules = Counter(r["rule"] for r in want)
    assert any(r and ".holds." in r for r in rules) and rules["capacity.calls"] > 0


def test_a_rerun_replaces_unsent_actions_and_keeps_sent_ones(portfolio: App) -> None:
    strategy = load("default")
    [first] = run_cycle(portfolio, DAY, strategy=strategy)
    before = _plan(portfolio, DAY)
    sent = sorted(k for k, r in before.items() if r["status"] == "planned")[:5]
    mark(portfolio, sent, "sent")
    with portfolio.engine.connect() as conn:
        changes_before = conn.execute(text("SELECT count(*) FROM stage_change")).scalar_one()
    [again] = run_cycle(portfolio, DAY, strategy=strategy)
    after = _plan(portfolio, DAY)
    assert after.keys() == before.keys()  # nothing lost, nothing duplicated
    assert all(
        after[k]["status"] == "sent" and after[k]["run_id"] == before[k]["run_id"] for k in sent
    )
    assert again.kept == 5 and again.replaced == len(before) - 5
    assert again.counts["vs_stored"] == {"new": 0, "dropped": 0, "status_changed": 0}
    assert first.counts["vs_stored"]["new"] == first.plan.num_rows
    assert again.stage_changes == first.stage_changes
    with portfolio.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM stage_change")).scalar_one() == changes_before
        )
    assert verify_runs(portfolio) == (2, [])


def test_missed_dates_are_caught_up_in_order_and_runs_are_chained(portfolio: App) -> None:
    strategy = load("default")
    run_cycle(portfolio, DAY, strategy=strategy)
    results = run_cycle(portfolio, DAY + timedelta(days=3), strategy=strategy)
    assert [r.business_date for r in results] == [DAY + timedelta(days=k) for k in (1, 2, 3)]
    with portfolio.engine.connect() as conn:
        moved = conn.execute(
            text("SELECT count(*) FROM stage_change WHERE as_of > :d"), {"d": DAY}
        ).scalar_one()
    days = [r["business_date"] for r in reversed(run_listing(portfolio, limit=50, offset=0).rows)]
    assert days == [DAY + timedelta(days=k) for k in range(4)]
    assert moved > 0  # accounts moved between stages on the caught-up days
    assert verify_runs(portfolio) == (4, [])
    with portfolio.engine.begin() as conn:
        conn.execute(
            update(t.cycle_run).where(t.cycle_run.c.run_id == 2).values(counts='{"accounts": 1}')
        )
    n, problems = verify_runs(portfolio)
    assert n == 4 and problems == ["run 2: its record was changed after it was written"]
    with pytest.raises(ServiceError, match="before the last run"):
        run_cycle(portfolio, DAY, strategy=strategy)


def test_a_dry_run_writes_nothing(portfolio: App) -> None:
    [r] = run_cycle(portfolio, DAY, strategy=load("default"), dry_run=True)
    assert r.run_id is None and r.plan.num_rows > 0 and r.stage_changes > 0
    with portfolio.engine.connect() as conn:
        for table in ("plan_action", "cycle_run", "stage_change", "account_stage", "audit_log"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table


def test_the_data_lake_mode_gives_the_same_plan(
    portfolio: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strategy = load("default")
    snapshot.from_store(portfolio.engine, DAY).write_parquet(tmp_path / "lake")
    monkeypatch.setattr(delinquency, "PART", 7)  # the book read from the files in many parts
    lake = run_lake(tmp_path / "lake", tmp_path / "out", DAY, strategy=strategy)
    [stored] = run_cycle(portfolio, DAY, strategy=strategy)
    plan = pq.read_table(tmp_path / "out" / "plan.parquet")
    assert plan.num_rows == lake.plan.num_rows == stored.plan.num_rows
    cols = ["action_id", "status", "rule", "window_start", "priority"]
    assert plan.select(cols).to_pylist() == stored.plan.select(cols).to_pylist()
    assert (
        pq.read_table(tmp_path / "out" / "stage_changes.parquet").num_rows == stored.stage_changes
    )


def test_a_lake_file_without_a_column_or_of_the_wrong_type_is_named(
    portfolio: App, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    snapshot.from_store(portfolio.engine, DAY).write_parquet(lake)
    contacts = pq.read_table(lake / "contacts.parquet")
    pq.write_table(contacts.drop_columns(["role"]), lake / "contacts.parquet")
    with pytest.raises(ServiceError, match=r"contacts\.parquet: column 'role' is missing"):
        run_lake(lake, tmp_path / "out", DAY, strategy=load("default"))
    pq.write_table(contacts, lake / "contacts.parquet")
    pays = pq.read_table(lake / "payments.parquet")
    amounts = [str(a) for a in pays["amount"].to_pylist()]
    amounts[2] = "lots"
    bad = pays.set_column(2, "amount", pa.array(amounts))
    pq.write_table(bad, lake / "payments.parquet")
    wrong = r"payments\.parquet, loans 0\.\.\d+: row 3 \(loan_idx \d+\): column .amount.: "
    with pytest.raises(ServiceError, match=wrong + "expected int64, found 'lots'"):
        run_lake(lake, tmp_path / "out", DAY, strategy=load("default"))
    assert not (tmp_path / "out" / "plan.parquet").exists()


def test_an_account_whose_borrower_is_missing_is_named(portfolio: App, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    snapshot.from_store(portfolio.engine, DAY).write_parquet(lake)
    plan = run_lake(lake, tmp_path / "out", DAY, strategy=load("default")).plan
    borrower = plan["borrower_id"][0].as_py()
    people = pq.read_table(lake / "borrowers.parquet")
    kept = people.filter(pa.compute.not_equal(people["borrower_id"], borrower))
    pq.write_table(kept, lake / "borrowers.parquet")
    # the account is quarantined and named with the reason; the rest of the book is planned
    day = run_lake(lake, tmp_path / "out2", DAY, strategy=load("default"))
    named = pq.read_table(tmp_path / "out2" / "quarantined.parquet").to_pylist()
    theirs = set(
        plan.filter(pa.compute.equal(plan["borrower_id"], borrower))["loan_id"].to_pylist()
    )
    assert {q["loan_id"] for q in named} == theirs
    assert all(f"borrower {borrower} is not in the borrowers table" in q["reason"] for q in named)
    assert day.counts["quarantined"] == len(theirs)
    assert day.plan.num_rows > 0 and borrower not in day.plan["borrower_id"].to_pylist()


class _SmsScorer:
    """An SMS adds 100 for everyone; a call or a visit costs more than it adds."""

    def score(self, features: pa.Table, *, wanted: object = None) -> dict[str, object]:
        n = features.num_rows
        worth = {"uplift_sms": 100.0, "uplift_robocall": -5.0, "uplift_agent_call": -50.0}
        worth |= {"uplift_letter": -10.0, "uplift_visit": -80.0}
        return {k: [v] * n for k, v in worth.items()}


def test_the_data_lake_mode_scores_choices_as_the_store_does(
    portfolio: App, tmp_path: Path
) -> None:
    strategy = load("learned")
    snapshot.from_store(portfolio.engine, DAY).write_parquet(tmp_path / "lake")
    scored = run_lake(tmp_path / "lake", tmp_path / "out", DAY, strategy=strategy,
                      scorer=_SmsScorer())  # fmt: skip
    unscored = run_lake(tmp_path / "lake", tmp_path / "out0", DAY, strategy=strategy)
    [stored] = run_cycle(portfolio, DAY, strategy=strategy, scorer=_SmsScorer())
    cols = ["action_id", "channel", "status"]
    assert scored.plan.select(cols).to_pylist() == stored.plan.select(cols).to_pylist()
    log = pq.read_table(tmp_path / "out" / "decisions.parquet").to_pylist()
    chose = [r for r in log if r["decision"].endswith("-nba") and r["n_ok"] >= 2]
    assert chose and all(
        r["taken"] == ("sms" if "sms" in r["candidates"].split(",") else "none") for r in chose
    )
    # unscored, a choice takes its first compliant option (doing nothing): the SMS are the
    # model's
    sms = [pa.compute.sum(pa.compute.equal(d.plan["channel"], "sms")).as_py() for d in
           (scored, unscored)]  # fmt: skip
    assert sms[0] > sms[1]
