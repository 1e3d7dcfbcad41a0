"""The vectorised plan (Ibis on DuckDB) equals the scalar reference, action for action."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from arrears.cycle.engines import DuckDB
from arrears.cycle.run import make_plan
from arrears.cycle.scalar_engine import reference_plan
from arrears.domain.delinquency import DEFAULT_BUCKETS
from arrears.strategy.model import load
from tests.unit.cycle.random_portfolio import snapshot


def _rows(table: Any) -> dict[str, dict[str, Any]]:
    rows = table.to_pylist()
    out = {r["action_id"]: r for r in rows}
    assert len(out) == len(rows), "action ids must be unique"
    return out


WIDE = Path(__file__).with_name("wide.yaml")


@pytest.mark.parametrize(("seed", "name"), [(1, "default"), (2, "default"), (3, WIDE), (4, WIDE)])
def test_vectorised_plan_equals_the_scalar_reference(seed: int, name: str | Path) -> None:
    as_of = date(2026, 11, 23)
    snap = snapshot(seed, 600, as_of)
    strategy = load(name)
    engine = DuckDB()
    try:
        got = make_plan(snap, strategy, engine, buckets=DEFAULT_BUCKETS).plan
    finally:
        engine.close()
    want = reference_plan(snap, strategy, buckets=DEFAULT_BUCKETS)
    g, w = _rows(got), _rows(want)
    assert sorted(g) == sorted(w)
    for key, expected in w.items():
        assert g[key] == expected, key
    statuses = Counter(r["status"] for r in w.values())
    assert {"planned", "blocked", "suppressed"} <= set(statuses)
    if name == WIDE:  # every family of the plan-time gate, capacity and the arms are reached
        rules = Counter(r["rule"] for r in w.values())
        for prefix in (
            "cn.holds.",
            "us-regf.holds.",
            "cn.consent.",
            "us-regf.consent.",
            "cn.frequency.",
            "us-regf.frequency.",
            "cn.disclosure.",
            "capacity.",
        ):
            assert any(r and r.startswith(prefix) for r in rules), (prefix, rules)
        assert {r["arm"] for r in w.values()} - {None}


def test_queries_compiled_ahead_on_empty_tables_plan_the_same() -> None:
    """The dry run's queries, compiled ahead against empty tables (a served process does so at
    start and on upload), then run on a real book, give the reference's plan: the SQL depends
    on the tables' names and types, not their rows, and reads the date from a table: a second
    book of another day is planned by the same queries, for its own day."""
    from arrears.cycle import run

    strategy = load(WIDE)
    run._COMPILED.clear()
    for seed, as_of in ((5, date(2026, 11, 23)), (6, date(2026, 11, 24))):
        snap = snapshot(seed, 400, as_of)
        books = sorted({str(r) for r in snap.loans["rulebook"].to_pylist() if r})
        run.precompile(strategy, as_of, books)
        assert len(run._COMPILED) == 1
        engine = DuckDB()
        try:
            got = make_plan(snap, strategy, engine, buckets=DEFAULT_BUCKETS).plan
        finally:
            engine.close()
        assert len(run._COMPILED) == 1  # the plan used the precompiled queries
        assert set(got["business_date"].to_pylist()) == {as_of}
        want = reference_plan(snap, strategy, buckets=DEFAULT_BUCKETS)
        g, w = _rows(got), _rows(want)
        assert sorted(g) == sorted(w) and all(g[k] == v for k, v in w.items())
