"""The daily cycle as a use case: decide the business date's plan and write it back.

* Idempotent per business date: a re-run first undoes that date's stage changes (restoring each
  account's prior stage and its start date), replaces the date's unsent actions, and never
  touches or duplicates an action already handed to a channel (any status other than planned,
  blocked, suppressed or cut).
* Runs go forward: a date before the last run is refused; a gap is caught up day by day, in order.
* Each run is a ``cycle_run`` row whose hash chains it to the previous run, and an entry in the
  evidence log; its counts (per stage, channel, status and rule) are what the console shows.

The write-back is :mod:`.writeback`; the runs' record and the stored plan, :mod:`.runs`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, func, select

from arrears.bootstrap import App
from arrears.cycle import engines, kernel, snapshot
from arrears.cycle.decisions import log_rows
from arrears.cycle.run import Scorer, make_plan
from arrears.service.books.bands import bands_for
from arrears.service.daily.writeback import (
    QUARANTINE,
    DayResult,
    day_counts,
    stage_changes,
    undo_day,
    write_back,
)
from arrears.service.errors import Invalid, LimitExceeded
from arrears.service.store import require_current
from arrears.store import tables as t
from arrears.strategy.model import Strategy, StrategyError
from arrears.strategy.model import load as load_strategy

#: a longer gap than this is refused (the operator should choose a start date)
MAX_CATCH_UP_DAYS = 62


Progress = Callable[[str], None]


def strategy_from(app: App, name: str | Strategy | None, *, store: bool = True) -> Strategy:
    """The strategy named (a shipped name or a file), else the version activated in the
    console, else the settings' (``ARREARS_STRATEGY``, ``default``). ``store=False`` (the
    data-lake mode, which has no store by design) never looks for an activated version."""
    if isinstance(name, Strategy):
        return name
    try:
        if store and name is None and "strategy" not in app.settings.model_fields_set:
            from arrears.service.daily.strategies import active

            chosen = active(app)
            if chosen is not None:
                return chosen
        return load_strategy(name or app.settings.strategy)
    except StrategyError as exc:
        raise Invalid(str(exc)) from exc


def _analyze(app: App) -> None:
    """Refresh PostgreSQL's statistics of the tables the day rewrote in bulk, so the work
    queues' reads (every collector's screen, right after the run) use their index rather than
    wait for autovacuum to notice a million new rows."""
    if app.engine.dialect.name != "postgresql":
        return
    with app.engine.begin() as conn:
        for table in ("plan_action", "account_stage", "stage_change"):
            conn.exec_driver_sql(f"ANALYZE {table}")


def last_run_date(app: App) -> date | None:
    with app.engine.connect() as conn:
        value = conn.execute(select(func.max(t.cycle_run.c.business_date))).scalar()
    return value if isinstance(value, date) else None


def dates_to_run(app: App, as_of: date, catch_up: bool = True) -> list[date]:
    last = last_run_date(app)
    if last is not None and as_of < last:
        raise Invalid(
            f"business date {as_of} is before the last run ({last}): runs go forward; "
            f"re-run {last} or a later date"
        )
    if last is None or not catch_up or as_of <= last + timedelta(days=1):
        return [as_of]
    gap = (as_of - last).days
    if gap > MAX_CATCH_UP_DAYS:
        raise LimitExceeded(
            f"the last run was {last}, {gap} days before {as_of}: more than "
            f"{MAX_CATCH_UP_DAYS} days to catch up; run with --no-catch-up to start afresh"
        )
    return [last + timedelta(days=k) for k in range(1, gap + 1)]


def run_cycle(
    app: App,
    as_of: date,
    *,
    strategy: Strategy,
    engine: str | None = None,
    dry_run: bool = False,
    catch_up: bool = True,
    progress: Progress | None = None,
    scorer: Scorer | None = None,
) -> list[DayResult]:
    """Run the cycle for ``as_of`` (and any missed dates before it, in order); ``scorer``
    gives the model scores a strategy may use (:mod:`arrears.learn.models`)."""
    require_current(app)
    name = engine or app.settings.cycle_engine
    if name not in engines.ENGINES:
        raise Invalid(
            f"engine: expected one of {', '.join(engines.ENGINES)}, got {name!r}", field="engine"
        )
    days = dates_to_run(app, as_of, catch_up)
    scorer = scorer if scorer is not None else app.scorer
    if dry_run:
        days = days[-1:]  # what would change today; a dry run never writes, so no catch-up
    bands = bands_for(app.settings)
    # the engine starts (and the compiled kernel loads) while the store is being read: the
    # drivers read without the GIL, so the two overlap
    pool = ThreadPoolExecutor(1)
    starting = pool.submit(_start_engine, name)
    eng: engines.Engine | None = None
    results = []
    try:
        for day in days:
            if not dry_run:  # promises and arrangements are decided first
                from arrears.service.cases.arrangements import review
                from arrears.service.cases.promises import settle

                settle(app, day)
                review(app, day)
            if progress:
                progress(f"{day}: snapshot")
            with app.engine.connect() as conn:
                tx = conn.begin()  # one transaction a day; a dry run rolls it back
                try:
                    undo_day(conn, day)
                    snap = _snapshot(app, conn, day)
                    if progress:
                        progress(f"{day}: plan ({snap.loans.num_rows:,} loans on {name})")
                    eng = eng or starting.result()
                    day_plan = make_plan(
                        snap, strategy, eng, buckets=bands.buckets, release=True, scorer=scorer
                    )
                    if progress:
                        progress(f"{day}: write")
                    results.append(write_back(app, conn, day, day_plan, strategy, name, dry_run))
                except BaseException:
                    tx.rollback()
                    raise
                if dry_run:
                    tx.rollback()
                else:
                    tx.commit()
                    _analyze(app)
    finally:
        pool.shutdown()
        (eng or starting.result()).close()
    return results


def _start_engine(name: str) -> engines.Engine:
    kernel.warm()
    return engines.connect(name)


def run_lake(
    source: Path,
    out: Path,
    as_of: date,
    *,
    strategy: Strategy,
    engine: str = "duckdb",
    buckets: Any = None,
    scorer: Scorer | None = None,
) -> DayResult:
    """The data-lake mode: the snapshot from Parquet files (docs/DATA_FORMATS.md), the plan and
    the stage changes written as Parquet files to ``out`` (plan.parquet, stage_changes.parquet,
    and the decision log, decisions.parquet, when the strategy makes choices); ``scorer`` (the
    model the settings name) scores the choices as in the store mode."""
    from arrears.domain.delinquency import DEFAULT_BUCKETS

    if engine not in engines.ENGINES:
        raise Invalid(
            f"engine: expected one of {', '.join(engines.ENGINES)}, got {engine!r}", field="engine"
        )
    try:
        snap = snapshot.open_lake(source, as_of)
    except snapshot.SnapshotError as exc:
        raise Invalid(str(exc)) from exc
    eng = engines.connect(engine)
    try:
        plan, base, sick, decisions = make_plan(
            snap, strategy, eng, buckets=buckets or DEFAULT_BUCKETS, release=True, scorer=scorer
        )
    except snapshot.SnapshotError as exc:  # the instalments and payments are read as it goes
        raise Invalid(str(exc)) from exc
    finally:
        eng.close()
    changes = stage_changes(base, as_of)
    out.mkdir(parents=True, exist_ok=True)
    import pyarrow.parquet as pq

    with ThreadPoolExecutor(2) as pool:  # the writers release the GIL: both files at once
        done = [
            pool.submit(pq.write_table, plan, out / "plan.parquet"),
            pool.submit(
                pq.write_table, changes.drop_columns(["stays"]), out / "stage_changes.parquet"
            ),
            pool.submit(pq.write_table, sick.cast(QUARANTINE), out / "quarantined.parquet"),
        ]
        if decisions is not None:
            rows = log_rows(decisions, strategy)
            done.append(pool.submit(pq.write_table, rows, out / "decisions.parquet"))
        for f in done:
            f.result()
    counts = day_counts(plan, changes, base.num_rows, sick)
    return DayResult(
        as_of, None, base.num_rows, changes.num_rows, 0, 0, counts, plan, changes, sick
    )


def _snapshot(app: App, conn: Connection, day: date) -> snapshot.Snapshot:
    # the stage table may just have been restored in this transaction: read it through it
    snap = snapshot.from_store(app.engine, day)
    rows = conn.execute(
        select(t.account_stage.c.loan_id, t.account_stage.c.stage, t.account_stage.c.since)
    ).all()
    snap.stages = snapshot.conform(
        "stages",
        pa.table(
            {
                "loan_id": pa.array([r[0] for r in rows], pa.string()),
                "stage": pa.array([r[1] for r in rows], pa.string()),
                "since": pa.array([r[2] for r in rows], pa.date32()),
            }
        ),
        "account_stage",
    )
    return snap
