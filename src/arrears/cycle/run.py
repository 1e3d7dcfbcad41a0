"""The daily cycle, end to end: snapshot -> accounts -> plan (on an engine) -> the store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from arrears.compliance.rulebook import Rulebook
from arrears.cycle import accounts, plan
from arrears.cycle.engines import Engine
from arrears.cycle.snapshot import SCHEMAS, Snapshot, SnapshotError
from arrears.domain.delinquency import BandTable
from arrears.strategy.model import Strategy


@dataclass
class _Queries:
    """The day's two queries as SQL text, compiled before the accounts exist."""

    accounts: str
    plan: str
    plan_schema: pa.Schema
    books: dict[str, Rulebook]


def make_plan(
    snap: Snapshot, strategy: Strategy, engine: Engine, *, buckets: BandTable, release: bool = False
) -> tuple[pa.Table, pa.Table]:
    """(the day's plan, every loan's stage before and after) for ``snap`` under ``strategy``
    (only accounts in a collection stage can have actions: the engine sees those alone). With
    ``release``, the loans, schedules, payments and stages are dropped from ``snap`` once the
    accounts are known (nothing after needs them), to keep the peak memory down.

    The engine's side (the history tables, the send windows, compiling both queries against an
    empty accounts table of the right shape) is prepared on another thread while the
    delinquency is computed; the queries then run on the real accounts."""
    rulebook_ids = [str(r) for r in snap.loans["rulebook"].unique().to_pylist() if r] or ["cn"]
    with ThreadPoolExecutor(1) as pool:
        prepared = pool.submit(_prepare, snap, strategy, engine, rulebook_ids)
        try:
            book, base_in = accounts.build(snap, strategy, buckets=buckets)
        finally:
            queries = prepared.result()
    if release:
        for name in ("loans", "instalments", "payments", "stages"):
            setattr(snap, name, SCHEMAS[name].empty_table())
    engine.table("accounts", base_in.cast(accounts.schema(strategy)))
    # computed once: every step of the strategy reads the same accounts
    accts = engine.materialize_sql("collection_accounts", queries.accounts)
    orphan = engine.to_arrow(accts.filter(accts.win_start.isnull()).select("loan_id").limit(1))
    if orphan.num_rows:
        loan = orphan["loan_id"][0].as_py()
        raise SnapshotError(f"loan {loan}: its borrower is not in the borrowers table")
    planned = engine.sql_to_arrow(queries.plan, queries.plan_schema)
    return planned.drop_columns(["account_seq"]), book


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
        snap.as_of,
        books,
        people=acting,
    )
    accounts_expr = plan.with_segments(features, strategy)
    accts = engine.placeholder("collection_accounts", accounts_expr.schema())
    plan_expr = plan.build_plan(accts, strategy, snap.as_of, books)
    return _Queries(
        engine.compile(accounts_expr),
        engine.compile(plan_expr),
        plan_expr.schema().to_pyarrow(),
        books,
    )
