"""One page of a listing: the rows as the store holds them, and how many there are in all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

if TYPE_CHECKING:
    from arrears.bootstrap import App


@dataclass(frozen=True)
class Listing:
    """``rows``: one page (each row a dict, column by column); ``total``: rows in all."""

    rows: list[dict[str, Any]]
    total: int


def page_of_query(app: App, q: Select[Any], limit: int, offset: int) -> Listing:
    """The ``limit`` rows of ``q`` from ``offset`` on, and how many rows ``q`` has in all."""
    with app.engine.connect() as conn:
        rows = [dict(m) for m in conn.execute(q.limit(limit).offset(offset)).mappings()]
        total = conn.execute(select(func.count()).select_from(q.subquery())).scalar()
    return Listing(rows, int(total or 0))
