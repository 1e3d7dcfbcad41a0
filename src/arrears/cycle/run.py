"""The daily cycle, end to end: snapshot -> accounts -> plan (on an engine) -> the store."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from arrears.cycle import accounts, plan
from arrears.cycle.engines import Engine
from arrears.cycle.snapshot import Snapshot
from arrears.domain.delinquency import BandTable
from arrears.strategy.model import Strategy


def make_plan(
    snap: Snapshot, strategy: Strategy, engine: Engine, *, buckets: BandTable, release: bool = False
) -> tuple[pa.Table, pa.Table]:
    """(the day's plan, the per-loan account table) for ``snap`` under ``strategy``. With
    ``release``, the schedules and payments are dropped from ``snap`` once the delinquency is
    known (the largest tables; nothing after needs them), to keep the peak memory down."""
    base = accounts.build(snap, strategy, buckets=buckets)
    if release:
        snap.instalments = snap.instalments.schema.empty_table()
        snap.payments = snap.payments.schema.empty_table()
    books = plan.rulebooks(base["rulebook"].unique().to_pylist() or ["cn"])
    # only accounts in a collection stage can have actions: the engine sees those alone
    base_in = base.filter(pc.is_valid(base["stage"]))
    used = ("contacts", "promises", "holds", "arrangements", "points")
    t = {name: engine.table(name, getattr(snap, name)) for name in used}
    b = engine.table("accounts", base_in)
    features = plan.attributes(
        b,
        t["contacts"],
        t["promises"],
        t["holds"],
        t["arrangements"],
        t["points"],
        snap.as_of,
        books,
    )
    # computed once: every step of the strategy reads the same accounts
    accts = engine.materialize("collection_accounts", plan.with_segments(features, strategy))
    expr = plan.build_plan(accts, strategy, snap.as_of, books)
    return engine.to_arrow(expr), base
