"""The vectorised compiler (Ibis on DuckDB) agrees with the scalar evaluator row for row,
nulls included."""

from __future__ import annotations

import math
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.strategy.expr import evaluate, parse
from arrears.strategy.vector import compile_expr

NAMES = {
    "dpd": "int",
    "total_due": "int",
    "score": "float",
    "promise_active": "bool",
    "product": "str",
}
EXPRESSIONS = [
    "dpd >= 18 and total_due > 100000 and not promise_active",
    "dpd > 90 or product in ['instalment']",
    "product not in ['cash_loan'] or score < 0.5",
    "total_due * (1 - score)",
    "total_due / dpd",
    "-dpd + 40 > total_due / 1000",
    "not (promise_active or dpd < 0)",
]

rows = st.lists(
    st.fixed_dictionaries(
        {
            "dpd": st.one_of(st.none(), st.integers(-30, 400)),
            "total_due": st.one_of(st.none(), st.integers(0, 2_000_000)),
            "score": st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
            "promise_active": st.one_of(st.none(), st.booleans()),
            "product": st.one_of(st.none(), st.sampled_from(["cash_loan", "instalment"])),
        }
    ),
    min_size=1,
    max_size=40,
)
SCHEMA = pa.schema(
    [
        ("dpd", pa.int64()),
        ("total_due", pa.int64()),
        ("score", pa.float64()),
        ("promise_active", pa.bool_()),
        ("product", pa.string()),
    ]
)
CON = ibis.duckdb.connect()


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


@pytest.mark.parametrize("source", EXPRESSIONS)
@settings(max_examples=25, deadline=None)
@given(data=rows)
def test_duckdb_equals_the_scalar_evaluator(source: str, data: list[dict[str, Any]]) -> None:
    node = parse(source, NAMES)
    table = ibis.memtable(pa.Table.from_pylist(data, schema=SCHEMA))
    got = CON.to_pyarrow(table.select(v=compile_expr(node, table))).column("v").to_pylist()
    want = [evaluate(node, row) for row in data]
    assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (got, want)
