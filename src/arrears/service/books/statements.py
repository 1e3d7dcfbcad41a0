"""Statements: what a loan owes on a date and why, from a file or from the store."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arrears.domain.codec import FieldError, loan_from_dict, statement_to_dict
from arrears.domain.delinquency import Statement, statement
from arrears.parsing import ParseLimit, load_json
from arrears.service.books.bands import Bands, bands_for
from arrears.service.errors import Invalid, NotFound

if TYPE_CHECKING:
    from arrears.bootstrap import App


def statement_from_file(path: Path, as_of: date, bands: Bands | None = None) -> dict[str, Any]:
    """Compute the statement of the loan described in a LOAN.json file."""
    try:
        data = load_json(path.read_bytes(), str(path))
    except FileNotFoundError as exc:
        raise Invalid(f"{path}: no such file") from exc
    except ParseLimit as exc:
        raise Invalid(str(exc)) from exc
    try:
        loan = loan_from_dict(data)
    except FieldError as exc:
        raise Invalid(f"{path}: {exc}") from exc
    bands = bands or Bands()
    return statement_to_dict(statement(loan, as_of, buckets=bands.buckets, stages=bands.stages))


def statement_state(app: App, loan_id: str, as_of: date) -> Statement:
    """The statement of a loan in the store, as the domain computes it."""
    from arrears.service.store import require_current
    from arrears.store.repository import LoanRepository
    from arrears.store.repository import NotFound as Missing

    require_current(app)
    with app.engine.connect() as conn:
        try:
            loan = LoanRepository(conn).get(loan_id)
        except Missing as exc:
            raise NotFound(str(exc), field="loan_id") from exc
        except FieldError as exc:
            raise Invalid(f"loan {loan_id} in the store: {exc}") from exc
    bands = bands_for(app.settings)
    return statement(loan, as_of, buckets=bands.buckets, stages=bands.stages)


def statement_for_loan(app: App, loan_id: str, as_of: date) -> dict[str, Any]:
    """Compute the statement of a loan in the store."""
    return statement_to_dict(statement_state(app, loan_id, as_of))
