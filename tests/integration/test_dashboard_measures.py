"""The dashboard's measures on snapshots built by hand: the roll-rate matrix (bucket by bucket,
loans and balances, cured apart) between the first and last snapshot of the period, buckets in
DPD order, and a period that starts before the first snapshot flagged."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.staff.kpis import bucket_order, measures
from arrears.store import tables as t
from arrears.store.repository import write_snapshots
from tests.conftest import PlanBook

DAY = date(2026, 11, 23)
D0, D1 = DAY - timedelta(days=30), DAY


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(60, 3, DAY)


def _row(as_of: date, loan: str, dpd: int | None, bucket: str | None, due: int) -> dict[str, Any]:
    return {
        "as_of": as_of, "loan_id": loan, "portfolio_id": "P", "dpd": dpd, "bucket": bucket,
        "stage": "early" if dpd else "current", "overdue_principal": due, "overdue_interest": 0,
        "overdue_fee": 0, "overdue_penalty": 0, "total_due": due, "outstanding_principal": due,
        "penalty_accrued": 0, "cap_reached": False,
    }  # fmt: skip


def test_the_roll_matrix_and_the_first_snapshot(planned: App) -> None:
    with planned.engine.begin() as conn:
        conn.execute(t.delinquency_snapshot.delete())
        a, b, c, d = conn.execute(select(t.loan.c.loan_id).limit(4)).scalars().all()
        write_snapshots(
            conn,
            [
                _row(D0, a, 10, "M1", 10_000), _row(D1, a, 40, "M2", 12_000),
                _row(D0, b, 20, "M1", 5_000), _row(D1, b, None, None, 0),
                _row(D0, c, 45, "M2", 20_000), _row(D1, c, 75, "M3", 21_000),
                _row(D0, d, 0, "M0", 0), _row(D1, d, 5, "M1", 3_000),
            ],
        )  # fmt: skip
    k = measures(planned, D0, D1)
    assert k["first_snapshot"] == D0.isoformat() and k["starts_before_snapshots"] is False
    m = k["roll_matrix"]
    assert m["buckets"] == ["M1", "M2", "M3"]
    rows = {r["from"]: r for r in m["rows"]}
    assert list(rows) == ["M1", "M2"]  # only loans past due at the start roll
    assert rows["M1"]["start"] == 15_000
    assert rows["M1"]["cells"] == {
        "M2": {"loans": 1, "balance": 10_000},
        "cured": {"loans": 1, "balance": 5_000},
    }
    assert rows["M2"]["cells"] == {"M3": {"loans": 1, "balance": 20_000}}
    assert k["roll_rates"] == {"M1->M2": 0.6667, "M2->M3": 1.0}
    assert k["cure_rates"] == {"M1": 0.3333, "M2": 0.0}
    # the matrix as a file: a row per starting bucket, loans and yuan for each end
    from arrears.web.console.views import _rolls_table

    header, table = _rolls_table(k, "en")
    assert header[:3] == ["Start, end", "M1: loans", "M1: balance (yuan)"]
    assert header[-2:] == ["Cured: loans", "Cured: balance (yuan)"]
    assert table[0] == ["M1", 0, 0.0, 1, 100.0, 0, 0.0, 1, 50.0]
    zh, _ = _rolls_table(k, "zh-CN")
    assert zh[0] != "Start, end" and "元" in zh[2]
    earlier = measures(planned, D0 - timedelta(days=7), D1)
    assert earlier["starts_before_snapshots"] is True
    assert sorted(["M10", "M2", "M7+", "M0", "X"], key=bucket_order) == [
        "M0",
        "M2",
        "M7+",
        "M10",
        "X",
    ]
