"""The daily cycle, end to end: snapshot -> accounts -> plan (on an engine) -> the store."""

from __future__ import annotations

import pyarrow as pa

from arrears.cycle import accounts, plan
from arrears.cycle.engines import Engine
from arrears.cycle.snapshot import SCHEMAS, Snapshot, SnapshotError
from arrears.domain.delinquency import BandTable
from arrears.strategy.model import Strategy


def make_plan(
    snap: Snapshot, strategy: Strategy, engine: Engine, *, buckets: BandTable, release: bool = False
) -> tuple[pa.Table, pa.Table]:
    """(the day's plan, every loan's stage before and after) for ``snap`` under ``strategy``
    (only accounts in a collection stage can have actions: the engine sees those alone). With
    ``release``, the loans, schedules, payments and stages are dropped from ``snap`` once the
    accounts are known (nothing after needs them), to keep the peak memory down."""
    book, base_in = accounts.build(snap, strategy, buckets=buckets)
    if release:
        for name in ("loans", "instalments", "payments", "stages"):
            setattr(snap, name, SCHEMAS[name].empty_table())
    books = plan.rulebooks(base_in["rulebook"].unique().to_pylist() or ["cn"])
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
    b = engine.table("accounts", base_in)
    acting = b.filter(plan.due_today(b, strategy))
    b = plan.with_borrowers(acting, t["borrowers"], wins)
    features = plan.attributes(
        b,
        t["contacts"],
        t["promises"],
        t["holds"],
        t["arrangements"],
        t["points"],
        snap.as_of,
        books,
        people=acting,
    )
    # computed once: every step of the strategy reads the same accounts
    accts = engine.materialize("collection_accounts", plan.with_segments(features, strategy))
    orphan = engine.to_arrow(accts.filter(accts.win_start.isnull()).select("loan_id").limit(1))
    if orphan.num_rows:
        loan = orphan["loan_id"][0].as_py()
        raise SnapshotError(f"loan {loan}: its borrower is not in the borrowers table")
    expr = plan.build_plan(accts, strategy, snap.as_of, books)
    return engine.to_arrow(expr).drop_columns(["account_seq"]), book
