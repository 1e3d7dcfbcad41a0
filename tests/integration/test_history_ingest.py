"""The collection history a lender brings along: contacts, promises, holds, arrangements."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from arrears.bootstrap import App
from arrears.store import tables as t
from arrears.store.ingest.loader import IngestRejected, ingest
from tests.conftest import FIXED_NOW
from tests.support.files import readme_loan_files, write_csv

CONTACT = {
    "attempt_id": "A1", "borrower_id": "B1", "loan_id": "L1", "channel": "call",
    "at": "2026-11-20T10:15:00+08:00", "direction": "outbound", "role": "debtor",
    "destination": "138-1234-5678", "result": "connected",
}  # fmt: skip
PROMISE = {
    "promise_id": "P1", "loan_id": "L1", "amount": "50000", "due_on": "2026-11-28",
    "made_at": "2026-11-20T10:20:00+08:00", "status": "pending",
}  # fmt: skip
HOLD = {"hold_id": "H1", "borrower_id": "B1", "kind": "complaint",
        "starts_at": "2026-11-21T09:00:00+08:00"}  # fmt: skip
ARRANGEMENT = {"arrangement_id": "R1", "loan_id": "L1", "kind": "plan", "starts_on": "2026-11-01"}


def _files(folder: Path, **rows: list[dict[str, str]]) -> Path:
    readme_loan_files(folder)
    for name, data in rows.items():
        write_csv(folder / f"{name}.csv", data)
    return folder


def test_history_is_loaded_in_utc_with_hashed_destinations(app: App, tmp_path: Path) -> None:
    folder = _files(
        tmp_path / "in",
        contacts=[CONTACT],
        promises=[PROMISE],
        holds=[HOLD],
        arrangements=[ARRANGEMENT],
    )
    report = ingest(app.engine, app.cipher, [folder], clock=lambda: FIXED_NOW)
    assert {k: report.counts[k] for k in ("contacts", "promises", "holds", "arrangements")} == {
        "contacts": 1,
        "promises": 1,
        "holds": 1,
        "arrangements": 1,
    }
    with app.engine.connect() as conn:
        at, dest = conn.execute(
            select(t.contact_attempt.c.at, t.contact_attempt.c.destination_hash)
        ).one()
        status = conn.execute(select(t.arrangement.c.status)).scalar_one()
        raw = conn.execute(text("SELECT * FROM contact_attempt")).mappings().one()
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    assert at == datetime(2026, 11, 20, 2, 15, tzinfo=UTC)
    assert dest == app.cipher.lookup_hash("phone", "13812345678")  # normalised, then hashed
    assert "13812345678" not in str(dict(raw)) and status == "active"


@pytest.mark.parametrize(
    ("name", "row", "column", "reason"),
    [
        ("contacts", CONTACT | {"at": "2026-11-20 10:15"}, "at", "needs a UTC offset"),
        ("contacts", CONTACT | {"channel": "fax"}, "channel", "expected one of"),
        (
            "contacts",
            CONTACT | {"loan_id": "L9"},
            "loan_id",
            "neither in this batch nor in the store",
        ),
        ("promises", PROMISE | {"status": "broken"}, "settled_on", "is required once"),
        (
            "holds",
            HOLD | {"ends_at": "2026-11-20T09:00:00+08:00"},
            "ends_at",
            "not after starts_at",
        ),
        ("holds", HOLD | {"kind": "vacation"}, "kind", "expected one of"),
    ],
)
def test_a_bad_history_row_is_named_and_nothing_is_written(
    app: App, tmp_path: Path, name: str, row: dict[str, str], column: str, reason: str
) -> None:
    folder = _files(tmp_path / "in", **{name: [row]})
    with pytest.raises(IngestRejected) as info:
        ingest(app.engine, app.cipher, [folder], clock=lambda: FIXED_NOW)
    [err] = info.value.errors
    assert (err.file, err.row, err.column) == (f"{name}.csv", 1, column)  # the first data row
    assert reason in err.reason
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM loan")).scalar_one() == 0
