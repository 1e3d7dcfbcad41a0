"""The daily cycle, end to end: snapshot -> accounts -> plan (on an engine) -> the store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from arrears.compliance.rulebook import Rulebook
from arrears.cycle import accounts, plan
from arrears.cycle.engines import DuckDB, Engine
from arrears.cycle.snapshot import SCHEMAS, Snapshot
from arrears.domain.delinquency import BandTable
from arrears.strategy.model import Strategy


@dataclass
class _Queries:
    """The day's two queries as SQL text, compiled before the accounts exist."""

    accounts: str
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


def make_plan(
    snap: Snapshot,
    strategy: Strategy,
    engine: Engine,
    *,
    buckets: BandTable,
    release: bool = False,
    computed: pa.Table | None = None,
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
    accounts."""
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
    planned = engine.sql_to_arrow(queries.plan, queries.plan_schema)
    if sick.num_rows:
        sick = sick.sort_by("loan_id")
    return DayPlan(planned.drop_columns(["account_seq"]), book, sick)


#: compiled queries by what they depend on: the strategy's text, the day, the rulebooks, the
#: engine (the SQL names its tables; their rows are the day's). Compiling is most of a small
#: book's time, and a dry-run diff compiles the same current strategy again and again.
_COMPILED: dict[tuple[str, ...], tuple[str, str, pa.Schema]] = {}
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
    key = (strategy.digest, snap.as_of.isoformat(), engine.name, *sorted(books))
    with _COMPILED_LOCK:
        known = _COMPILED.get(key)
    if known is None:
        known = _compile(snap.as_of, strategy, engine, books, t, wins)
        _keep(key, known)
    return _Queries(known[0], known[1], known[2], books, t["borrowers"], wins)


def _keep(key: tuple[str, ...], compiled: tuple[str, str, pa.Schema]) -> None:
    with _COMPILED_LOCK:
        while len(_COMPILED) >= _COMPILED_MAX:
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[key] = compiled


def precompile(strategy: Strategy, as_of: date, rulebook_ids: list[str]) -> None:
    """Compile ``strategy``'s queries for ``as_of`` on DuckDB ahead of need (against empty
    tables: the SQL depends on their names and types, not their rows), so that the first plan
    made with it in this process, a dry run say, does not wait for it."""
    books = plan.rulebooks(rulebook_ids or ["cn"])
    key = (strategy.digest, as_of.isoformat(), "duckdb", *sorted(books))
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
) -> tuple[str, str, pa.Schema]:
    # the history is looked up only for accounts that some step would act on today
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
    )
    accounts_expr = plan.with_segments(features, strategy)
    accts = engine.placeholder("collection_accounts", accounts_expr.schema())
    plan_expr = plan.build_plan(accts, strategy, as_of, books)
    return (
        engine.compile(accounts_expr),
        engine.compile(plan_expr),
        plan_expr.schema().to_pyarrow(),
    )
