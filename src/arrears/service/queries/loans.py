"""The loans: a page of them with their collection stage, whose a loan is, and in which timezone
its borrower lives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select

from arrears.service.queries.listing import Listing, page_of_query, row_model
from arrears.store import tables as t

if TYPE_CHECKING:
    from arrears.bootstrap import App


def _loans(stage: str | None, portfolio_id: str | None) -> Select[Any]:
    ln, st = t.loan, t.account_stage
    q = select(
        ln.c.loan_id,
        ln.c.borrower_id,
        ln.c.portfolio_id,
        ln.c.principal,
        ln.c.currency,
        st.c.stage,
        st.c.since.label("stage_since"),
    )
    q = q.outerjoin(st, st.c.loan_id == ln.c.loan_id).order_by(ln.c.loan_id)
    if stage:
        q = q.where(st.c.stage == stage)
    if portfolio_id:
        q = q.where(ln.c.portfolio_id == portfolio_id)
    return q


def loan_listing(
    app: App,
    *,
    stage: str | None,
    portfolio_id: str | None,
    limit: int,
    offset: int = 0,
    after: str | None = None,
) -> Listing:
    """Loans by id, with their collection stage (``stage_since``: since when), filtered by stage
    and portfolio when given; from ``offset``, or the loans after the id ``after``
    (by keyset: a deep page costs what the first does)."""
    key = None if after is None else (t.loan.c.loan_id, after)
    return page_of_query(app, _loans(stage, portfolio_id), limit, offset, key)


#: a row of :func:`loan_listing`
LoanRow = row_model(
    "LoanRow",
    _loans(None, None),
    "A loan and its collection stage (none before the first cycle placed it).",
    nullable=("stage", "stage_since"),
)


def borrower_of(app: App, loan_id: str) -> str | None:
    """The borrower of ``loan_id``; None for a loan not in the store."""
    with app.engine.connect() as conn:
        found = conn.execute(select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id))
        return found.scalar()


def borrower_timezone(app: App, loan_id: str) -> ZoneInfo:
    """The timezone of ``loan_id``'s borrower (a time they name is theirs)."""
    with app.engine.connect() as conn:
        zone = conn.execute(
            select(t.borrower.c.timezone)
            .join(t.loan, t.loan.c.borrower_id == t.borrower.c.borrower_id)
            .where(t.loan.c.loan_id == loan_id)
        ).scalar()
    return ZoneInfo(zone or app.settings.business_timezone)
