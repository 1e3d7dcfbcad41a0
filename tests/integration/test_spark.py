"""Spark (local mode) and DuckDB give the identical plan for the same strategy and portfolio."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from arrears.cycle.engines import DuckDB, Spark
from arrears.cycle.run import make_plan
from arrears.domain.delinquency import DEFAULT_BUCKETS
from arrears.strategy.model import load
from tests.unit.cycle.random_portfolio import snapshot

WIDE = Path(__file__).parents[1] / "unit" / "cycle" / "wide.yaml"

pytestmark = [
    pytest.mark.spark,
    # py4j leaves its gateway sockets to the garbage collector (not our code)
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Spark]:
    engine = Spark(master="local[2]")
    yield engine
    engine.close()


@pytest.mark.parametrize(("seed", "name"), [(5, "default"), (6, WIDE)])
def test_spark_and_duckdb_plans_are_identical(spark: Spark, seed: int, name: str | Path) -> None:
    snap = snapshot(seed, 800, date(2026, 11, 23))
    strategy = load(name)
    duck = DuckDB()
    try:
        want = make_plan(snap, strategy, duck, buckets=DEFAULT_BUCKETS).plan
    finally:
        duck.close()
    got = make_plan(snap, strategy, spark, buckets=DEFAULT_BUCKETS).plan
    assert got.schema.names == want.schema.names
    g, w = got.to_pylist(), want.to_pylist()
    assert len(w) > 50 and len({r["status"] for r in w}) >= 3
    assert g == w
