"""The store on SQLite and on a real PostgreSQL server: migrations, ingestion, statements."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from arrears.bootstrap import App
from arrears.domain.codec import loan_from_dict, statement_to_dict
from arrears.domain.delinquency import statement
from arrears.generate.portfolio import Options, generate
from arrears.service.books.statements import statement_for_loan
from arrears.service.daily.snapshots import portfolio_report
from arrears.store import tables as t
from arrears.store.db import current_revision, head_revision
from arrears.store.ingest.loader import IngestRejected, ingest
from arrears.store.repository import LoanRepository
from tests.conftest import FIXED_NOW
from tests.support.files import BORROWER, LOAN, readme_loan_files, write_csv

EXAMPLE = Path(__file__).parents[2] / "examples" / "loan.json"


def _ingest(app: App, *paths: Path) -> dict[str, int]:
    return ingest(app.engine, app.cipher, list(paths), clock=lambda: FIXED_NOW).counts


def _digest(app: App) -> str:
    """A hash of every entity table's rows, in key order, sealed fields opened (sealing is
    randomised: the same name is different bytes each time it is written)."""
    h = hashlib.sha256()
    with app.engine.connect() as conn:
        for table in (t.portfolio, t.borrower, t.contact_point, t.loan, t.instalment, t.payment):
            keys = list(table.primary_key.columns)
            for row in conn.execute(select(table).order_by(*keys)).mappings():
                opened = {
                    k: app.cipher.decrypt(f"{table.name}.{k[:-4]}", v) if k.endswith("_enc") else v
                    for k, v in row.items()
                }
                h.update(repr(sorted(opened.items())).encode())
    return h.hexdigest()


def test_migrated_schema_matches_the_metadata(app: App) -> None:
    assert current_revision(app.engine) == head_revision()
    with app.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), t.metadata) == []


def test_generated_portfolio_ingests_and_a_second_run_changes_nothing(
    app: App, tmp_path: Path
) -> None:
    counts = generate(tmp_path / "gen", Options(loans=300, seed=3, as_of=date(2026, 11, 23)))
    loaded = _ingest(app, tmp_path / "gen")
    assert loaded == counts
    first = _digest(app)
    assert _ingest(app, tmp_path / "gen") == counts
    assert _digest(app) == first
    with app.engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM instalment")).scalar_one()
        batches = conn.execute(text("SELECT count(*) FROM ingest_batch")).scalar_one()
    assert n == counts["instalments"] and batches == 2


def test_statement_from_the_store_equals_the_statement_from_the_file(
    app: App, tmp_path: Path
) -> None:
    pay = [{"payment_id": "P1", "loan_id": "L1", "paid_on": "2026-02-20", "amount": "60000"}]
    _ingest(app, readme_loan_files(tmp_path / "in", pay))
    data = json.loads(EXAMPLE.read_text())
    data["payments"] = [{"id": "P1", "date": "2026-02-20", "amount": 60000}]
    expected = statement_to_dict(statement(loan_from_dict(data), date(2026, 3, 1)))
    assert statement_for_loan(app, "L1", date(2026, 3, 1)) == expected
    assert expected["penalty_accrued"] > 0


def test_a_bad_batch_reports_every_row_and_writes_nothing(app: App, tmp_path: Path) -> None:
    folder = readme_loan_files(tmp_path / "in")
    bad_loans = [
        LOAN,
        {**LOAN, "loan_id": "L2", "first_due_date": "2026-02-30"},
        {**LOAN, "loan_id": "L3", "principal": "-5"},
        {**LOAN, "loan_id": "L4", "borrower_id": "NOBODY"},
        {**LOAN, "loan_id": "L5", "method": "balloon"},
    ]
    write_csv(folder / "loans.csv", bad_loans)
    write_csv(
        folder / "payments.csv",
        [{"payment_id": "P1", "loan_id": "L1", "paid_on": "2026-02-01", "amount": "abc"}],
    )
    with pytest.raises(IngestRejected) as info:
        _ingest(app, folder)
    found = {(e.file, e.row, e.column) for e in info.value.errors}
    assert found == {
        ("loans.csv", 2, "first_due_date"),
        ("loans.csv", 3, "principal"),
        ("loans.csv", 4, "borrower_id"),
        ("loans.csv", 5, "method"),
        ("payments.csv", 1, "amount"),
    }
    reasons = {e.column: e.reason for e in info.value.errors}
    assert "YYYY-MM-DD" in reasons["first_due_date"]
    assert "neither in this batch nor in the store" in reasons["borrower_id"]
    with app.engine.connect() as conn:
        for table in (t.portfolio, t.borrower, t.loan, t.payment, t.ingest_batch):
            assert conn.execute(select(table)).first() is None


def test_unknown_and_missing_columns_are_refused(app: App, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "borrowers.csv", [{**BORROWER, "nmae": "x"}])
    write_csv(folder / "loans.csv", [{k: v for k, v in LOAN.items() if k != "principal"}])
    with pytest.raises(IngestRejected) as info:
        _ingest(app, folder)
    assert {(e.file, e.column, e.reason) for e in info.value.errors} >= {
        ("borrowers.csv", "nmae", "unknown column"),
        ("loans.csv", "principal", "required column missing"),
    }


def test_personal_data_is_encrypted_at_rest_and_found_by_keyed_hash(
    app: App, tmp_path: Path
) -> None:
    _ingest(app, readme_loan_files(tmp_path / "in"))
    with app.engine.connect() as conn:
        row = conn.execute(select(t.borrower)).mappings().one()
        point = conn.execute(select(t.contact_point)).mappings().one()
        hits = conn.execute(
            select(t.contact_point.c.contact_id).where(
                t.contact_point.c.value_hash == app.cipher.lookup_hash("phone", "+86 138-1234-5678")
            )
        ).all()
    assert "张三".encode() not in bytes(row["name_enc"])
    assert b"13812345678" not in bytes(point["value_enc"])
    assert app.cipher.decrypt("borrower.name", row["name_enc"]) == "张三"
    assert app.cipher.decrypt("contact_point.value", point["value_enc"]) == "13812345678"
    assert [h[0] for h in hits] == ["B1-C1"]
    assert row["national_id_hash"] == app.cipher.lookup_hash("national_id", "110101199003077774")


def test_portfolio_snapshot_agrees_with_statements_and_reruns_replace(
    app: App, tmp_path: Path
) -> None:
    generate(tmp_path / "gen", Options(loans=120, seed=5, as_of=date(2026, 11, 23)))
    _ingest(app, tmp_path / "gen")
    as_of = date(2026, 11, 23)
    report = portfolio_report(app, as_of)
    assert report.loans == 120
    assert sum(line.loans for line in report.by_bucket.values()) == 120
    assert sum(line.loans for line in report.by_stage.values()) == 120
    again = portfolio_report(app, as_of)
    assert again.as_dict() == report.as_dict()
    with app.engine.connect() as conn:
        rows = (
            conn.execute(
                select(t.delinquency_snapshot).where(t.delinquency_snapshot.c.as_of == as_of)
            )
            .mappings()
            .all()
        )
        repo_loans = {loan.loan_id: loan for _, loan in LoanRepository(conn).iter_all()}
    assert len(rows) == 120
    for row in rows[:40]:
        st = statement(repo_loans[row["loan_id"]], as_of, explain=False)
        assert (row["dpd"], row["stage"], row["total_due"]) == (st.dpd, st.stage, st.total_due)
    overdue_loans = sum(1 for r in rows if (r["dpd"] or 0) > 0)
    assert overdue_loans > 0


def test_reversed_payments_need_a_reversal_date_and_are_ignored(app: App, tmp_path: Path) -> None:
    pays = [
        {"payment_id": "P1", "loan_id": "L1", "paid_on": "2026-01-15", "amount": "110016"},
        {
            "payment_id": "P2",
            "loan_id": "L1",
            "paid_on": "2026-02-15",
            "amount": "110016",
            "status": "reversed",
        },
    ]
    with pytest.raises(IngestRejected) as info:
        _ingest(app, readme_loan_files(tmp_path / "a", pays))
    assert [(e.file, e.row, e.column) for e in info.value.errors] == [
        ("payments.csv", 2, "reversed_on")
    ]
    pays[1]["reversed_on"] = "2026-02-18"
    _ingest(app, readme_loan_files(tmp_path / "b", pays))
    st = statement_for_loan(app, "L1", date(2026, 2, 20))
    assert st["dpd"] == 5 and st["paid_total"] == 110016
