"""Ingestion is strict, names what it refuses (file, row, column) and writes nothing on a
refusal: a key given twice in one batch, files that are not UTF-8 or not Parquet, broken CSV
rows, impossible dates, payments before origination or in the future, NUL bytes, national IDs
that fail their check, unknown languages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import IngestRejected, ingest
from arrears.store.ingest.readers import FileError
from tests.conftest import make_app
from tests.support.files import BORROWER, LOAN, readme_loan_files, write_csv

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> App:
    app = make_app(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(app.engine)
    return app


def _counts(app: App) -> tuple[int, ...]:
    with app.engine.connect() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(x)).scalar() or 0)
            for x in (t.portfolio, t.borrower, t.loan, t.payment)
        )


def _refused(app: App, folder: Path) -> list[str]:
    before = _counts(app)
    with pytest.raises(IngestRejected) as info:
        ingest(app.engine, app.cipher, [folder], clock=lambda: NOW)
    assert _counts(app) == before, "nothing is written on a refusal"
    return [str(e) for e in info.value.errors]


def _unreadable(app: App, folder: Path) -> str:
    before = _counts(app)
    with pytest.raises(FileError) as info:
        ingest(app.engine, app.cipher, [folder], clock=lambda: NOW)
    assert _counts(app) == before
    return str(info.value)


def test_a_key_given_twice_refuses_the_batch_naming_both_rows(store: App, tmp_path: Path) -> None:
    folder = readme_loan_files(tmp_path / "in")
    write_csv(folder / "borrowers.csv", [BORROWER, {**BORROWER, "name": "张三丰"}])
    write_csv(folder / "loans-part2.csv", [{**LOAN, "principal": "1"}])
    errors = _refused(store, folder)
    assert any(
        "borrowers.csv, row 2, column borrower_id" in e
        and "'B1' again" in e
        and "borrowers.csv row 1" in e
        for e in errors
    ), errors
    # files are read in name order: loans-part2.csv first, so loans.csv's row is the repeat
    assert any(
        "loans.csv, row 1, column loan_id" in e and "loans-part2.csv row 1" in e for e in errors
    ), errors


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            lambda p: p.write_bytes(p.read_text(encoding="utf-8").encode("gbk")),
            "borrowers.csv, row 1: not UTF-8",
        ),
        (
            lambda p: p.write_text(
                p.read_text(encoding="utf-8") + 'B9,"unbalanced,Asia/Shanghai\n', encoding="utf-8"
            ),
            "borrowers.csv, row 2: ",
        ),
        (
            lambda p: p.write_text(
                p.read_text(encoding="utf-8") + "B9,x,1,2,3,4,5,6,7,8,9\n", encoding="utf-8"
            ),
            "extra cells",
        ),
    ],
)
def test_unreadable_files_are_named_with_the_row(
    store: App, tmp_path: Path, damage: Callable[[Path], None], expected: str
) -> None:
    folder = readme_loan_files(tmp_path / "in")
    damage(folder / "borrowers.csv")
    assert expected in _unreadable(store, folder)


def test_a_file_that_is_not_parquet(store: App, tmp_path: Path) -> None:
    folder = readme_loan_files(tmp_path / "in")
    (folder / "payments.parquet").write_text("loan_id,amount\nL1,100\n")
    said = _unreadable(store, folder)
    assert said.startswith("payments.parquet: not a Parquet file")


def test_values_that_cannot_be_right_are_refused(store: App, tmp_path: Path) -> None:
    folder = readme_loan_files(tmp_path / "in")
    write_csv(
        folder / "borrowers.csv",
        [
            BORROWER,
            {**BORROWER, "borrower_id": "B2", "national_id": "1"},
            {**BORROWER, "borrower_id": "B3", "name": "李\x00四", "national_id": ""},
            {**BORROWER, "borrower_id": "B4", "locale": "fr", "national_id": ""},
        ],
    )
    write_csv(folder / "loans.csv", [{**LOAN, "originated_on": "2025-12-15"}])
    write_csv(
        folder / "payments.csv",
        [
            {"payment_id": "P1", "loan_id": "L1", "paid_on": "9999-01-01", "amount": "100"},
            {"payment_id": "P2", "loan_id": "L1", "paid_on": "2025-12-01", "amount": "100"},
            {"payment_id": "P3", "loan_id": "L1", "paid_on": "2026-12-20", "amount": "100"},
            {"payment_id": "P4", "loan_id": "L1", "paid_on": "2026-01-15", "amount": "100"},
        ],
    )
    errors = _refused(store, folder)
    expected = [
        "borrowers.csv, row 2, column national_id: a resident id has 18 characters",
        "borrowers.csv, row 3, column name: holds a control character (U+0000)",
        "borrowers.csv, row 4, column locale: expected one of the languages",
        "payments.csv, row 1, column paid_on: 9999-01-01 is outside 1900-2199",
        "payments.csv, row 2, column paid_on: is before the loan's origination on 2025-12-15",
        "payments.csv, row 3, column paid_on: is in the future",
    ]
    for want in expected:
        assert any(e.startswith(want) for e in errors), (want, errors)
    assert not any("payments.csv, row 4" in e for e in errors)  # a good row is not blamed
    write_csv(folder / "borrowers.csv", [{**BORROWER, "national_id": "1"}])
    write_csv(
        folder / "payments.csv",
        [
            {"payment_id": "P4", "loan_id": "L1", "paid_on": "2026-01-15", "amount": "100"},
        ],
    )
    errors = _refused(store, folder)
    assert errors[0].startswith("borrowers.csv, row 1, column national_id")
    write_csv(
        folder / "borrowers.csv", [{**BORROWER, "national_id": "E1234567", "id_type": "passport"}]
    )
    ingest(store.engine, store.cipher, [folder], clock=lambda: NOW)  # another kind, its rule
    assert _counts(store) == (1, 1, 1, 1)
