"""The cycle's write-back, one transaction per business date: undo the date's earlier run, then
write the stage changes, the run's record and the plan's actions (the unsent ones of an
earlier run replaced, the sent ones kept)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from arrears.bootstrap import App
from arrears.cycle.decisions import log_rows
from arrears.cycle.run import DayPlan
from arrears.service.daily.runs import GENESIS
from arrears.service.errors import Invalid
from arrears.store import audit, db
from arrears.store import tables as t
from arrears.strategy.model import Strategy

UNSENT = ("planned", "blocked", "suppressed", "cut")


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


def undo_day(conn: Connection, day: date) -> None:
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
        db.insert_arrow(
            conn,
            t.account_stage,
            pa.table(
                {
                    "loan_id": pa.array([c[0] for c in back], pa.string()),
                    "stage": pa.array([c[1] for c in back], pa.string()),
                    "since": pa.array([c[2] for c in back], pa.date32()),
                }
            ),
        )
    conn.execute(delete(sc).where(sc.c.as_of == day))


def stage_changes(base: pa.Table, day: date) -> pa.Table:
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


def plan_digest(plan: pa.Table) -> str:
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


def day_counts(
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


def write_back(
    app: App,
    conn: Connection,
    day: date,
    day_plan: DayPlan,
    strategy: Strategy,
    engine: str,
    dry_run: bool,
) -> DayResult:
    plan, base, sick = day_plan.plan, day_plan.book, day_plan.quarantined
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
    changes = stage_changes(base, day)
    counts = day_counts(plan, changes, base.num_rows, sick)
    counts |= {"replaced": replaced, "kept": len(sent)}
    counts["vs_stored"] = _versus(plan, before)
    result = DayResult(
        day,
        None,
        base.num_rows,
        changes.num_rows,
        replaced,
        len(sent),
        counts,
        plan,
        changes,
        sick,
    )
    carried = carry_over(conn, day, plan, base, strategy, sick=sick, dry_run=dry_run)
    counts["carry_over"] = carried
    if dry_run:
        return result
    # call-backs set by collectors and items carried over are not the cycle's to replace
    conn.execute(
        delete(pa_).where(
            and_(
                pa_.c.business_date == day,
                pa_.c.status.in_(UNSENT),
                pa_.c.step_id != CALL_BACK_STEP,
                pa_.c.carried_from.is_(None),
            )
        )
    )
    digest = plan_digest(plan)
    run_id = _record_run(conn, app, day, engine, strategy, counts, digest, started)
    _apply_stages(conn, changes, run_id)
    _insert_plan(conn, plan, run_id)
    _insert_decisions(conn, day, day_plan.decisions, strategy, run_id)
    result.run_id = run_id
    return result


#: people's channels whose unworked items carry over, and the step of a collector's call-back
CARRIED = ("agent_call", "visit")
CALL_BACK_STEP = "call_back"
EXPIRED = "expired"


class _Today:
    """What the day's plan says of each account, for the items carried into it."""

    def __init__(self, plan: pa.Table, book: pa.Table, sick: pa.Table | None) -> None:
        rows = plan.select(["loan_id", "channel", "status", "rule"]).to_pylist()
        #: the day's plan works the account on that channel (whatever became of the action)
        self.again = {(r["loan_id"], r["channel"]) for r in rows}
        #: a suppression stops the account's contacts today (a payment, a promise, a hold ...)
        self.stopped = {
            r["loan_id"]: r["rule"]
            for r in rows
            if r["status"] in ("suppressed", "blocked")
            and str(r["rule"] or "").startswith("suppression.")
        }
        self.staged = set(book.filter(pc.is_valid(book["stage"]))["loan_id"].to_pylist())
        self.sick = set() if sick is None else set(sick["loan_id"].to_pylist())

    def verdict(self, loan_id: str, channel: str) -> str | None:
        """Why the item expires today, or None: it may be carried."""
        if loan_id not in self.staged:
            return "carry_over.left_collection"
        if (loan_id, channel) in self.again:
            return "carry_over.replanned"
        return self.stopped.get(loan_id)


def carry_over(
    conn: Connection,
    day: date,
    plan: pa.Table,
    book: pa.Table,
    strategy: Strategy,
    *,
    sick: pa.Table | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Unworked calls and visits of earlier days, by the strategy's ``carry_over`` rule: carried
    to ``day`` (the window moved by whole days, ``carried_from`` the date first planned) while
    within its days, else expired; expired at once when ``day``'s plan works the account on the
    same channel (``carry_over.replanned``), a suppression stops the account's contacts today
    (its rule) or the account left collection (``carry_over.left_collection``); an account not
    computed today (quarantined) keeps its items as they are. The counts by what was done."""
    pa_ = t.plan_action
    rows = conn.execute(
        select(
            pa_.c.action_id,
            pa_.c.loan_id,
            pa_.c.channel,
            pa_.c.business_date,
            pa_.c.carried_from,
            pa_.c.window_start,
            pa_.c.window_end,
        ).where(
            # what earlier days left, and what an earlier run of this day carried (judged
            # again: a re-run's plan or strategy may replan, suppress or expire it)
            or_(
                pa_.c.business_date < day,
                and_(pa_.c.business_date == day, pa_.c.carried_from.is_not(None)),
            ),
            pa_.c.status == "planned",
            pa_.c.channel.in_(CARRIED),
        )
    ).all()
    if not rows:
        return {}
    today = _Today(plan, book, sick)
    done: dict[str, int] = {}
    for r in rows:
        first = r.carried_from or r.business_date
        if r.loan_id in today.sick:  # not computed today: left as it is until it can be
            continue
        rule = today.verdict(r.loan_id, r.channel)
        if rule is None and (day - first).days > strategy.spec.carry_over.get(r.channel, 0):
            rule = "carry_over.expired"
        done[rule or "carried"] = done.get(rule or "carried", 0) + 1
        if dry_run or (rule is None and r.business_date == day):
            continue  # carried already by an earlier run of the day, and still carried
        if rule is None:
            shift = timedelta(days=(day - r.business_date).days)
            values: dict[str, Any] = {
                "business_date": day,
                "carried_from": first,
                "window_start": db.as_utc(r.window_start) + shift,
                "window_end": db.as_utc(r.window_end) + shift,
            }
        else:
            values = {"status": EXPIRED, "rule": rule}
        conn.execute(
            update(pa_)
            .where(pa_.c.action_id == r.action_id, pa_.c.status == "planned")
            .values(**values)
        )
    return dict(sorted(done.items()))


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
        db.insert_arrow(
            conn,
            t.account_stage,
            pa.table(
                {
                    "loan_id": stays["loan_id"],
                    "stage": stays["to_stage"],
                    "since": stays["as_of"],
                }
            ),
        )
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


def _insert_decisions(
    conn: Connection, day: date, decisions: pa.Table | None, strategy: Strategy, run_id: int
) -> None:
    """The day's decision log, replacing an earlier run's."""
    conn.execute(delete(t.decision).where(t.decision.c.business_date == day))
    if decisions is None or not decisions.num_rows:
        return
    rows = log_rows(decisions, strategy)
    db.insert_arrow(
        conn,
        t.decision,
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
        raise Invalid("the store did not return the run's id")
    run_id = int(key[0])
    audit.record(
        conn,
        "cycle_run",
        f"cycle:{day.isoformat()}",
        app.clock(),
        {
            "run_id": run_id,
            "hash": run_hash,
            "plan_digest": digest,
            "business_date": day.isoformat(),
            "strategy": strategy.name,
        },
        rulebook="cycle",
    )
    return int(run_id)
