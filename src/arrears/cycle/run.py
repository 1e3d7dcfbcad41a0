"""The daily cycle, end to end: snapshot -> accounts -> plan (on an engine) -> the store."""

from __future__ import annotations

import pyarrow as pa

from arrears.cycle import accounts, plan
from arrears.cycle.engines import Engine
from arrears.cycle.snapshot import Snapshot
from arrears.domain.delinquency import BandTable
from arrears.strategy.model import Strategy


def make_plan(
    snap: Snapshot, strategy: Strategy, engine: Engine, *, buckets: BandTable
) -> tuple[pa.Table, pa.Table]:
    """(the day's plan, the per-loan account table) for ``snap`` under ``strategy``."""
    base = accounts.build(snap, strategy, buckets=buckets)
    books = plan.rulebooks(base["rulebook"].unique().to_pylist() or ["cn"])
    t = {name: engine.table(name, data) for name, data in snap.tables.items()}
    b = engine.table("accounts", base)
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
    expr = plan.build_plan(features, strategy, snap.as_of, books)
    return engine.to_arrow(expr), base
