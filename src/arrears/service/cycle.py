"""The daily cycle as a use case: decide the business date's plan and write it back.

* Idempotent per business date: a re-run first undoes that date's stage changes (restoring each
  account's prior stage and its start date), replaces the date's unsent actions, and never
  touches or duplicates an action already handed to a channel (any status other than planned,
  blocked, suppressed or cut).
* Runs go forward: a date before the last run is refused; a gap is caught up day by day, in order.
* Each run is a ``cycle_run`` row whose hash chains it to the previous run, and an entry in the
  evidence log; its counts (per stage, channel, status and rule) are what the console shows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, and_, delete, func, insert, select, update

from arrears.bootstrap import App
from arrears.cycle import engines, kernel, snapshot
from arrears.cycle.run import DayPlan, make_plan
from arrears.service.errors import ServiceError
from arrears.service.store import require_current
from arrears.service.tables import bands_for
from arrears.store import audit, db
from arrears.store import tables as t
from arrears.strategy.model import Strategy, StrategyError
from arrears.strategy.model import load as load_strategy

UNSENT = ("planned", "blocked", "suppressed", "cut")
GENESIS = "0" * 64
#: a longer gap than this is refused (the operator should choose a start date)
MAX_CATCH_UP_DAYS = 62

Progress = Callable[[str], None]


CHANGES = pa.schema(
    [
        ("loan_id", pa.string()),
        ("as_of", pa.date32()),
        ("from_stage", pa.string()),
        ("prev_since", pa.date32()),
        ("to_stage", pa.string()),
        ("stays", pa.bool_()),
    ]
)
#: the accounts a run could not compute, and why
QUARANTINE = pa.schema([("loan_id", pa.string()), ("reason", pa.string())])


@dataclass
class DayResult:
    business_date: date
    run_id: int | None  # None on a dry run
    accounts: int
    stage_changes: int
    replaced: int  # unsent actions of an earlier run of the same date, replaced
    kept: int  # actions of that date already sent: left alone, not planned again
    counts: dict[str, Any]
    plan: pa.Table = field(repr=False)
    changes: pa.Table = field(repr=False, default_factory=CHANGES.empty_table)
    #: the accounts that could not be computed (loan_id, reason): no action, stage kept
    quarantined: pa.Table = field(repr=False, default_factory=QUARANTINE.empty_table)


def strategy_from(app: App, name: str | Strategy | None, *, store: bool = True) -> Strategy:
    """The strategy named (a shipped name or a file), else the version activated in the
    console, else the settings' (``ARREARS_STRATEGY``, ``default``). ``store=False`` (the
    data-lake mode, which has no store by design) never looks for an activated version."""
    if isinstance(name, Strategy):
        return name
    try:
        if store and name is None and "strategy" not in app.settings.model_fields_set:
            from arrears.service.strategies import active

            chosen = active(app)
            if chosen is not None:
                return chosen
        return load_strategy(name or app.settings.strategy)
    except StrategyError as exc:
        raise ServiceError(str(exc)) from exc


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
        raise ServiceError(
            f"business date {as_of} is before the last run ({last}): runs go forward; "
            f"re-run {last} or a later date"
        )
    if last is None or not catch_up or as_of <= last + timedelta(days=1):
        return [as_of]
    gap = (as_of - last).days
    if gap > MAX_CATCH_UP_DAYS:
        raise ServiceError(
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
) -> list[DayResult]:
    """Run the cycle for ``as_of`` (and any missed dates before it, in order)."""
    require_current(app)
    name = engine or app.settings.cycle_engine
    if name not in engines.ENGINES:
        raise ServiceError(f"engine: expected one of {', '.join(engines.ENGINES)}, got {name!r}")
    days = dates_to_run(app, as_of, catch_up)
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
                from arrears.service.arrangements import review
                from arrears.service.promises import settle

                settle(app, day)
                review(app, day)
            if progress:
                progress(f"{day}: snapshot")
            with app.engine.connect() as conn:
                tx = conn.begin()  # one transaction a day; a dry run rolls it back
                try:
                    _undo_day(conn, day)
                    snap = _snapshot(app, conn, day)
                    if progress:
                        progress(f"{day}: plan ({snap.loans.num_rows:,} loans on {name})")
                    eng = eng or starting.result()
                    day_plan = make_plan(snap, strategy, eng, buckets=bands.buckets, release=True)
                    if progress:
                        progress(f"{day}: write")
                    results.append(_write(app, conn, day, day_plan, strategy, name, dry_run))
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
) -> DayResult:
    """The data-lake mode: the snapshot from Parquet files (docs/DATA_FORMATS.md), the plan and
    the stage changes written as Parquet files to ``out`` (plan.parquet, stage_changes.parquet)."""
    from arrears.domain.delinquency import DEFAULT_BUCKETS

    if engine not in engines.ENGINES:
        raise ServiceError(f"engine: expected one of {', '.join(engines.ENGINES)}, got {engine!r}")
    try:
        snap = snapshot.open_lake(source, as_of)
    except snapshot.SnapshotError as exc:
        raise ServiceError(str(exc)) from exc
    eng = engines.connect(engine)
    try:
        plan, base, sick = make_plan(
            snap, strategy, eng, buckets=buckets or DEFAULT_BUCKETS, release=True
        )
    except snapshot.SnapshotError as exc:  # the instalments and payments are read as it goes
        raise ServiceError(str(exc)) from exc
    finally:
        eng.close()
    changes = _stage_changes(base, as_of)
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
        for f in done:
            f.result()
    counts = _counts(plan, changes, base.num_rows, sick)
    return DayResult(
        as_of, None, base.num_rows, changes.num_rows, 0, 0, counts, plan, changes, sick
    )


def _snapshot(app: App, conn: Connection, day: date) -> snapshot.Snapshot:
    # the stage table may just have been restored in this transaction: read it through it
    snap = snapshot.from_store(app.engine, day)
    rows = conn.execute(select(t.account_stage.c.loan_id, t.account_stage.c.stage,
                               t.account_stage.c.since)).all()  # fmt: skip
    snap.stages = snapshot.conform(
        "stages",
        pa.table(
            {
                "loan_id": pa.array([r[0] for r in rows], pa.string()),
                "stage": pa.array([r[1] for r in rows], pa.string()),
                "since": pa.array([r[2] for r in rows], pa.date32()),
            }
        ),  # fmt: skip
        "account_stage",
    )
    return snap


def _undo_day(conn: Connection, day: date) -> None:
    """Restore every account's stage to what it was before ``day``'s earlier run, if any."""
    sc = t.stage_change
    changes = conn.execute(
        select(sc.c.loan_id, sc.c.from_stage, sc.c.prev_since).where(sc.c.as_of == day)
    ).all()
    if not changes:
        return
    conn.exec_driver_sql(
        db.delete_by_sql(conn, t.account_stage, "loan_id"), [(c[0],) for c in changes]
    )
    back = [c for c in changes if c[1] is not None]
    if back:
        db.insert_arrow(conn, t.account_stage, pa.table({
            "loan_id": pa.array([c[0] for c in back], pa.string()),
            "stage": pa.array([c[1] for c in back], pa.string()),
            "since": pa.array([c[2] for c in back], pa.date32()),
        }))  # fmt: skip
    conn.execute(delete(sc).where(sc.c.as_of == day))


def _stage_changes(base: pa.Table, day: date) -> pa.Table:
    """One row per account whose stage differs from the stored one (:data:`CHANGES`); an
    account leaving collection goes to 'current' (or 'settled' when nothing is owed)."""
    stage, prior = base["stage"], base["prior_stage"]
    differs = pc.fill_null(pc.not_equal(stage, prior), True)
    both_null = pc.and_(pc.is_null(stage), pc.is_null(prior))
    moved = base.filter(pc.and_(differs, pc.invert(both_null)))
    gone = pc.if_else(pc.is_null(moved["dpd"]), "settled", "current")
    return pa.Table.from_arrays(
        [
            moved["loan_id"],
            pa.array(np.full(moved.num_rows, (day - date(1970, 1, 1)).days, np.int32)).cast(
                pa.date32()
            ),
            moved["prior_stage"],
            moved["prior_since"],
            pc.coalesce(moved["stage"], gone),
            pc.is_valid(moved["stage"]),
        ],
        schema=CHANGES,
    )


def _digest(plan: pa.Table) -> str:
    """sha256 over every action's id, status, rule and priority, in plan order."""
    if plan.num_rows == 0:
        return hashlib.sha256(b"").hexdigest()
    rows = pc.binary_join_element_wise(
        plan["action_id"],
        plan["status"],
        pc.fill_null(plan["rule"], ""),
        pc.cast(plan["priority"], pa.string()),
        "|",
    )
    return hashlib.sha256("\n".join(rows.to_pylist()).encode()).hexdigest()


def _tally(column: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """Rows per distinct non-null value, sorted by value."""
    counts = pc.value_counts(column)
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    return dict(sorted((v, n) for v, n in pairs if v is not None))


#: how many quarantined accounts a run's record names one by one (the count is always whole)
NAMED_QUARANTINE = 1000


def _counts(
    plan: pa.Table, changes: pa.Table, accounts: int, sick: pa.Table | None = None
) -> dict[str, Any]:
    by = {c: _tally(plan[c]) for c in ("stage", "channel", "status", "rule")}
    named = [] if sick is None else sick.slice(0, NAMED_QUARANTINE).to_pylist()
    key = pc.binary_join_element_wise(plan["stage"], plan["channel"], plan["status"], "|")
    moves = pc.binary_join_element_wise(
        pc.fill_null(changes["from_stage"], "None"), changes["to_stage"], ">"
    )
    return {
        "accounts": accounts,
        "actions": plan.num_rows,
        "stage_changes": _tally(moves),
        **by,
        "stage_channel_status": _tally(key),
        "quarantined": 0 if sick is None else sick.num_rows,
        "quarantined_accounts": [{"loan_id": r["loan_id"], "reason": r["reason"]} for r in named],
    }


def _write(
    app: App,
    conn: Connection,
    day: date,
    day_plan: DayPlan,
    strategy: Strategy,
    engine: str,
    dry_run: bool,
) -> DayResult:
    plan, base, sick = day_plan
    started = app.clock()
    pa_ = t.plan_action
    existing = conn.execute(
        select(pa_.c.action_id, pa_.c.status).where(pa_.c.business_date == day)
    ).all()
    before = {a: s for a, s in existing if s in UNSENT}
    sent = {a for a, s in existing if s not in UNSENT}
    replaced = sum(1 for _, s in existing if s in UNSENT)
    if sent:
        plan = plan.filter(pc.invert(pc.is_in(plan["action_id"], pa.array(sorted(sent)))))
    changes = _stage_changes(base, day)
    counts = _counts(plan, changes, base.num_rows, sick)
    counts |= {"replaced": replaced, "kept": len(sent)}
    counts["vs_stored"] = _versus(plan, before)
    result = DayResult(
        day, None, base.num_rows, changes.num_rows, replaced, len(sent), counts, plan, changes,
        sick,
    )  # fmt: skip
    if dry_run:
        return result
    conn.execute(delete(pa_).where(and_(pa_.c.business_date == day, pa_.c.status.in_(UNSENT))))
    digest = _digest(plan)
    run_id = _record_run(conn, app, day, engine, strategy, counts, digest, started)
    _apply_stages(conn, changes, run_id)
    _insert_plan(conn, plan, run_id)
    result.run_id = run_id
    return result


def _versus(plan: pa.Table, before: dict[str, str]) -> dict[str, int]:
    """How the plan differs from the unsent actions stored for the date (all new at first)."""
    if not before:
        return {"new": plan.num_rows, "dropped": 0, "status_changed": 0}
    stored = pa.table({"action_id": list(before), "was": list(before.values())})
    now = plan.select(["action_id", "status"])
    both = now.join(stored, "action_id", join_type="inner")
    return {
        "new": plan.num_rows - both.num_rows,
        "dropped": len(before) - both.num_rows,
        "status_changed": int(pc.sum(pc.not_equal(both["status"], both["was"])).as_py() or 0),
    }


def _apply_stages(conn: Connection, changes: pa.Table, run_id: int) -> None:
    if not changes.num_rows:
        return
    conn.exec_driver_sql(
        db.delete_by_sql(conn, t.account_stage, "loan_id"),
        [(x,) for x in changes["loan_id"].to_pylist()],
    )
    stays = changes.filter(changes["stays"])
    if stays.num_rows:
        db.insert_arrow(conn, t.account_stage, pa.table({
            "loan_id": stays["loan_id"], "stage": stays["to_stage"], "since": stays["as_of"],
        }))  # fmt: skip
    rows = changes.drop_columns(["stays"])
    db.insert_arrow(
        conn, t.stage_change, rows.append_column("run_id", pa.array(np.full(rows.num_rows, run_id)))
    )


PLAN_FIELDS = (
    "action_id", "business_date", "loan_id", "borrower_id", "portfolio_id", "stage", "segment",
    "step_id", "channel", "template", "queue", "pool", "locale", "priority", "experiment", "arm",
    "window_start", "window_end", "status", "rule",
)  # fmt: skip


def _insert_plan(conn: Connection, plan: pa.Table, run_id: int) -> None:
    rows = plan.select(list(PLAN_FIELDS))
    db.insert_arrow(
        conn,
        t.plan_action,
        rows.append_column("run_id", pa.array(np.full(rows.num_rows, run_id, np.int64))),
    )


def _record_run(
    conn: Connection,
    app: App,
    day: date,
    engine: str,
    strategy: Strategy,
    counts: dict[str, Any],
    digest: str,
    started: datetime,
) -> int:
    cr = t.cycle_run
    if conn.dialect.name == "postgresql":  # one run at a time: serialise on the chain's tip
        conn.execute(select(cr.c.run_id).order_by(cr.c.run_id.desc()).limit(1).with_for_update())
    prev = conn.execute(select(cr.c.hash).order_by(cr.c.run_id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS
    body = audit.canonical(
        {
            "prev": prev_hash,
            "business_date": day.isoformat(),
            "engine": engine,
            "strategy": strategy.name,
            "strategy_digest": strategy.digest,
            "plan_digest": digest,
            "counts": counts,
        }
    )
    run_hash = hashlib.sha256(body.encode()).hexdigest()
    key = conn.execute(
        insert(cr).values(
            business_date=day,
            engine=engine,
            strategy=strategy.name,
            strategy_digest=strategy.digest,
            started_at=started,
            finished_at=app.clock(),
            counts=audit.canonical(counts),
            plan_digest=digest,
            prev_hash=prev_hash,
            hash=run_hash,
        )
    ).inserted_primary_key
    if key is None:
        raise ServiceError("the store did not return the run's id")
    run_id = int(key[0])
    audit.append(
        conn,
        [
            audit.Entry(
                kind="cycle_run",
                subject=f"cycle:{day.isoformat()}",
                rulebook="cycle",  # not a rulebook's record: kept for the longest retention
                payload={
                    "run_id": run_id,
                    "hash": run_hash,
                    "plan_digest": digest,
                    "business_date": day.isoformat(),
                    "strategy": strategy.name,
                },
                at=app.clock(),
            )  # fmt: skip
        ],
    )
    return int(run_id)


def verify_runs(app: App) -> tuple[int, list[str]]:
    """Recompute every run's hash from its row: (runs checked, problems)."""
    cr = t.cycle_run
    problems: list[str] = []
    prev = GENESIS
    with app.engine.connect() as conn:
        rows = conn.execute(select(cr).order_by(cr.c.run_id)).mappings().all()
    for r in rows:
        body = audit.canonical(
            {
                "prev": r["prev_hash"],
                "business_date": r["business_date"].isoformat(),
                "engine": r["engine"],
                "strategy": r["strategy"],
                "strategy_digest": r["strategy_digest"],
                "plan_digest": r["plan_digest"],
                "counts": json.loads(r["counts"]),
            }
        )
        if r["prev_hash"] != prev:
            problems.append(f"run {r['run_id']}: does not follow run before it")
        if hashlib.sha256(body.encode()).hexdigest() != r["hash"]:
            problems.append(f"run {r['run_id']}: its record was changed after it was written")
        prev = r["hash"]
    return len(rows), problems


def run_history(app: App, limit: int = 50) -> list[dict[str, Any]]:
    cr = t.cycle_run
    with app.engine.connect() as conn:
        rows = conn.execute(select(cr).order_by(cr.c.run_id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def last_run(app: App) -> dict[str, Any] | None:
    """The latest run: its id, business date, counts and the accounts it quarantined."""
    rows = run_history(app, limit=1)
    if not rows:
        return None
    counts = json.loads(rows[0]["counts"])
    return {
        "run_id": rows[0]["run_id"],
        "business_date": rows[0]["business_date"],
        "accounts": counts.get("accounts", 0),
        "actions": counts.get("actions", 0),
        "quarantined": counts.get("quarantined", 0),
        "quarantined_accounts": counts.get("quarantined_accounts", []),
    }


def stored_plan(app: App, day: date) -> pa.Table:
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        rows = conn.execute(select(pa_).where(pa_.c.business_date == day)).mappings().all()
    return pa.Table.from_pylist([dict(r) for r in rows])


def mark(app: App, action_ids: Iterable[str], status: str) -> None:
    """Set actions' status (used by tests and, later, the dispatcher)."""
    with app.engine.begin() as conn:
        conn.execute(
            update(t.plan_action)
            .where(t.plan_action.c.action_id.in_(list(action_ids)))
            .values(status=status)
        )
