"""The daily cycle, end to end: snapshot -> accounts -> plan (on an engine) -> the store."""

from __future__ import annotations

import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, Protocol

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from arrears.compliance.rulebook import Rulebook
from arrears.cycle import accounts, capacity, plan
from arrears.cycle.draws import draws
from arrears.cycle.engines import DuckDB, Engine
from arrears.cycle.snapshot import SCHEMAS, Snapshot
from arrears.domain.delinquency import BandTable
from arrears.strategy.attributes import MODEL_SCORES
from arrears.strategy.model import NONE, Strategy


@dataclass
class _Queries:
    """The day's two queries as SQL text, compiled before the accounts exist."""

    accounts: str
    accounts_schema: pa.Schema
    plan: str
    plan_schema: pa.Schema
    books: dict[str, Rulebook]
    #: the borrowers and the send windows, as the engine has them (to find accounts without)
    borrowers: Any
    windows: Any


class DayPlan(NamedTuple):
    #: the day's actions, in the accounts' order
    plan: pa.Table
    #: every loan computed: its stage before and after (what the stage changes need)
    book: pa.Table
    #: the loans that could not be computed or placed (loan_id, reason): no action, no stage
    #: change; the run's record names them
    quarantined: pa.Table
    #: each step's decision for each account acting today (the decision log, docs/LEARNING.md)
    decisions: pa.Table | None = None


def make_plan(
    snap: Snapshot,
    strategy: Strategy,
    engine: Engine,
    *,
    buckets: BandTable,
    release: bool = False,
    computed: pa.Table | None = None,
    scorer: Scorer | None = None,
) -> DayPlan:
    """The day's plan for ``snap`` under ``strategy`` (only accounts in a collection stage can
    have actions: the engine sees those alone). One account that cannot be computed (its
    ledger does not replay, its policy does not read, its borrower or timezone is unknown) is
    quarantined with the reason and the rest of the book is planned. With
    ``release``, the loans, schedules, payments and stages are dropped from ``snap`` once the
    accounts are known (nothing after needs them), to keep the peak memory down.

    The engine's side (the history tables, the send windows, compiling both queries against an
    empty accounts table of the right shape) is prepared on another thread while the
    delinquency is computed (unless ``computed`` gives it); the queries then run on the real
    accounts. A strategy that uses model scores or makes choices has the acting accounts
    scored by ``scorer`` (none: the scores are null) and drawn for (:func:`decision_inputs`)
    between the two."""
    rulebook_ids = [str(r) for r in snap.loans["rulebook"].unique().to_pylist() if r] or ["cn"]
    with ThreadPoolExecutor(1) as pool:
        prepared = pool.submit(_prepare, snap, strategy, engine, rulebook_ids)
        try:
            book, base_in, sick = accounts.build(snap, strategy, buckets=buckets, computed=computed)
        finally:
            queries = prepared.result()
    if release:
        for name in ("loans", "instalments", "payments", "stages"):
            setattr(snap, name, SCHEMAS[name].empty_table())
    acct = engine.table("accounts", base_in.cast(accounts.schema(strategy)))
    placed = plan.with_borrowers(
        acct.select("loan_id", "borrower_id", "rulebook"), queries.borrowers, queries.windows
    )
    orphans = engine.to_arrow(
        placed.filter(placed.win_start.isnull()).select("loan_id", "borrower_id")
    )
    if orphans.num_rows:  # no send window: the borrower is missing, or its timezone unknown
        why = [
            f"no send window: borrower {b} is not in the borrowers table or its timezone is "
            "not a known zone"
            for b in orphans["borrower_id"].to_pylist()
        ]
        lost = pa.table({"loan_id": orphans["loan_id"], "reason": pa.array(why, pa.string())})
        sick = pa.concat_tables([sick, lost])
        ids = orphans["loan_id"].combine_chunks()
        book = book.filter(pc.invert(pc.is_in(book["loan_id"], value_set=ids)))
        base_in = base_in.filter(pc.invert(pc.is_in(base_in["loan_id"], value_set=ids)))
        engine.table("accounts", base_in.cast(accounts.schema(strategy)))
    # computed once: every step of the strategy reads the same accounts
    engine.materialize_sql("collection_accounts", queries.accounts)
    inputs = None
    if strategy.uses_models:
        features = engine.sql_to_arrow("SELECT * FROM collection_accounts", queries.accounts_schema)
        inputs = decision_inputs(features, strategy, snap.as_of, scorer)
        engine.table("decision_inputs_in", inputs)
        engine.materialize_sql("decision_inputs", "SELECT * FROM decision_inputs_in")
    planned = engine.sql_to_arrow(queries.plan, queries.plan_schema)
    if inputs is not None and scorer is not None and strategy.chooses:
        # the queue and pool places to the choices they add most for, once the plan has shown
        # what the gate allows; the day planned again with the places withheld from the rest
        reserved = capacity.reserve(planned, inputs, strategy)
        if reserved is not None:
            engine.table("decision_inputs_in", reserved)
            engine.materialize_sql("decision_inputs", "SELECT * FROM decision_inputs_in")
            planned = engine.sql_to_arrow(queries.plan, queries.plan_schema)
    if sick.num_rows:
        sick = sick.sort_by("loan_id")
    decisions = _decisions(planned)
    acts = planned.filter(pc.not_equal(planned["channel"], NONE))
    return DayPlan(acts.select(PLAN_COLS), book, sick, decisions)


def _decisions(planned: pa.Table) -> pa.Table:
    return planned.select(["business_date", "loan_id", "stage", "segment", *DECISION_COLS])


#: the plan's own columns (the rest of the plan query's output is the decision log's)
PLAN_COLS = [
    "action_id",
    "business_date",
    "loan_id",
    "borrower_id",
    "portfolio_id",
    "stage",
    "segment",
    "step_id",
    "step_order",
    "channel",
    "template",
    "queue",
    "pool",
    "locale",
    "priority",
    "experiment",
    "arm",
    "window_start",
    "window_end",
    "status",
    "rule",
]
DECISION_COLS = [
    "decision",
    "step_id",
    "channel",
    "status",
    "rule",
    "n_ok",
    "options_ok",
    "propensity",
    "explored",
    "experiment",
    "arm",
    *(f"x_{name}" for name in plan.DECIDED_ON),
]


class Scorer(Protocol):
    """Scores accounts from their attributes (:mod:`arrears.learn.models`)."""

    def score(self, features: pa.Table, *, wanted: Collection[str] | None = None) -> dict[str, Any]:
        """Model score columns (names from ``MODEL_SCORES``: those ``wanted``, or all), one
        value per row."""
        ...


def decision_inputs(
    features: pa.Table, strategy: Strategy, as_of: date, scorer: Scorer | None
) -> pa.Table:
    """The acting accounts' model scores (null without a scorer) and the two keyed draws of
    their day (:func:`arrears.cycle.draws.draws`: the same on a re-run)."""
    loans = features["loan_id"].combine_chunks()
    n = len(loans)
    u = draws(f"{strategy.name}|{as_of.isoformat()}", loans)
    cols: dict[str, Any] = {
        "loan_id": loans,
        "u_explore": pa.array(u[:, 0], pa.float64()),
        "u_pick": pa.array(u[:, 1], pa.float64()),
    }
    scores = _scores(features, strategy, scorer) if scorer is not None else {}
    for name in MODEL_SCORES:
        got = scores.get(name)
        cols[name] = (
            pa.nulls(n, pa.float64())
            if got is None
            else pa.array(got, pa.float64(), from_pandas=True)  # NaN: no score
        )
    cols["withheld"] = pa.nulls(n, pa.string())
    return pa.table(cols)


def _scores(features: pa.Table, strategy: Strategy, scorer: Scorer) -> dict[str, NDArray[Any]]:
    """The model scores of ``features``'s accounts, each asked only of the stages whose steps
    read it (:attr:`Strategy.model_scores_by_stage`); NaN where not asked."""
    by_stage = strategy.model_scores_by_stage
    sets: dict[frozenset[str], list[str]] = {}
    for stage, names in by_stage.items():
        sets.setdefault(names, []).append(stage)
    n = features.num_rows
    out: dict[str, NDArray[Any]] = {}
    for names, stages in sets.items():
        mask = pc.fill_null(pc.is_in(features["stage"], value_set=pa.array(stages)), False)
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        if rows.size == 0:
            continue
        mine = features if rows.size == n else features.take(pa.array(rows))
        for name, got in scorer.score(mine, wanted=names).items():
            col = out.setdefault(name, np.full(n, np.nan))
            col[rows] = np.asarray(got, dtype=np.float64)
    return out


#: compiled queries by what they depend on: the strategy's text, the day, the rulebooks, the
#: engine (the SQL names its tables; their rows are the day's). Compiling is most of a small
#: book's time, and a dry-run diff compiles the same current strategy again and again.
_COMPILED: dict[tuple[str, ...], tuple[str, pa.Schema, str, pa.Schema]] = {}
_COMPILED_LOCK = threading.Lock()
_COMPILED_MAX = 16


def _prepare(
    snap: Snapshot, strategy: Strategy, engine: Engine, rulebook_ids: list[str]
) -> _Queries:
    books = plan.rulebooks(rulebook_ids)
    used = ("borrowers", "contacts", "promises", "holds", "arrangements", "points")
    t = {
        name: engine.parquet(name, snap.files[name], SCHEMAS[name])
        if name in snap.files
        else engine.table(name, getattr(snap, name))
        for name in used
    }
    b = t["borrowers"]
    pairs = engine.to_arrow(
        b.select(timezone=b.timezone, window_key=b.contact_window.fill_null("")).distinct()
    )
    wins = engine.table("windows", accounts.windows(pairs, sorted(books), snap.as_of))
    engine.table("today", plan.today_table(snap.as_of))
    # the queries read the date from ``today``: one compiled form serves every day
    key = (strategy.digest, engine.name, *sorted(books))
    with _COMPILED_LOCK:
        known = _COMPILED.get(key)
    if known is None:
        known = _compile(snap.as_of, strategy, engine, books, t, wins)
        _keep(key, known)
    return _Queries(*known, books, t["borrowers"], wins)


def _keep(key: tuple[str, ...], compiled: tuple[str, pa.Schema, str, pa.Schema]) -> None:
    with _COMPILED_LOCK:
        while len(_COMPILED) >= _COMPILED_MAX:
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[key] = compiled


def precompile(strategy: Strategy, as_of: date, rulebook_ids: list[str]) -> None:
    """Compile ``strategy``'s queries for ``as_of`` on DuckDB ahead of need (against empty
    tables: the SQL depends on their names and types, not their rows), so that the first plan
    made with it in this process, a dry run say, does not wait for it."""
    books = plan.rulebooks(rulebook_ids or ["cn"])
    key = (strategy.digest, "duckdb", *sorted(books))
    with _COMPILED_LOCK:
        if key in _COMPILED:
            return
    engine = DuckDB()
    try:
        used = ("borrowers", "contacts", "promises", "holds", "arrangements", "points")
        t = {name: engine.table(name, SCHEMAS[name].empty_table()) for name in used}
        none = pa.table(
            {"timezone": pa.array([], pa.string()), "window_key": pa.array([], pa.string())}
        )
        wins = engine.table("windows", accounts.windows(none, sorted(books), as_of))
        engine.table("today", plan.today_table(as_of))
        _keep(key, _compile(as_of, strategy, engine, books, t, wins))
    finally:
        engine.close()


def _compile(
    as_of: date,
    strategy: Strategy,
    engine: Engine,
    books: dict[str, Rulebook],
    t: dict[str, Any],
    wins: Any,
) -> tuple[str, pa.Schema, str, pa.Schema]:
    # the history is looked up only for accounts that some step would act on today
    today = engine.table("today", plan.today_table(as_of))
    b = engine.table("accounts", accounts.schema(strategy).empty_table())
    acting = b.filter(plan.due_today(b, strategy))
    features = plan.attributes(
        plan.with_borrowers(acting, t["borrowers"], wins),
        t["contacts"],
        t["promises"],
        t["holds"],
        t["arrangements"],
        t["points"],
        as_of,
        books,
        people=acting,
        today=today,
    )
    accounts_expr = plan.in_collection(features)
    accts = engine.placeholder("collection_accounts", accounts_expr.schema())
    inputs = None
    if strategy.uses_models:
        inputs = engine.placeholder("decision_inputs", ibis.schema(plan.INPUTS))
    accts = plan.with_segments(accts, strategy, inputs)
    plan_expr = plan.build_plan(accts, strategy, as_of, books, today=today)
    return (
        engine.compile(accounts_expr),
        accounts_expr.schema().to_pyarrow(),
        engine.compile(plan_expr),
        plan_expr.schema().to_pyarrow(),
    )
