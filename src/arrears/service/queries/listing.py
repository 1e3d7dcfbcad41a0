"""One page of a listing: the rows as the store holds them, and how many there are in all; and
each listing's row as a typed record (:func:`row_model`, made from the query's own columns, so
the two cannot drift apart)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, create_model
from sqlalchemy import ColumnElement, Select, func, select

from arrears.store.db import as_utc

if TYPE_CHECKING:
    from arrears.bootstrap import App


@dataclass(frozen=True)
class Listing:
    """``rows``: one page (each row a dict, column by column); ``total``: rows in all."""

    rows: list[dict[str, Any]]
    total: int


def page_of_query(
    app: App,
    q: Select[Any],
    limit: int,
    offset: int,
    after: tuple[ColumnElement[Any], str] | None = None,
) -> Listing:
    """The ``limit`` rows of ``q`` from ``offset`` on, and how many rows ``q`` has in all.

    ``after`` = (the key ``q`` is ordered by, a value): the page by keyset instead, the rows
    whose key is above the value (``offset`` unused), found through the key's index however
    deep the page."""
    page = q.limit(limit)
    page = page.offset(offset) if after is None else page.where(after[0] > after[1])
    with app.engine.connect() as conn:
        rows = [dict(m) for m in conn.execute(page).mappings()]
        total = conn.execute(select(func.count()).select_from(q.subquery())).scalar()
    return Listing(rows, int(total or 0))


def row_model(
    name: str, q: Select[Any], doc: str, *, nullable: Collection[str] = ()
) -> type[BaseModel]:
    """A frozen record with one field per column ``q`` selects, typed as the column is (a
    column that may be NULL, or is named in ``nullable`` because an outer join may leave it
    empty, is optional; an instant is aware, in UTC, whatever the store). Keys the query does
    not select are refused."""
    fields: dict[str, Any] = {}
    for col in q.selected_columns:
        kind: Any = col.type.python_type
        if kind is datetime:  # an instant: SQLite hands it back naive, in UTC
            kind = Annotated[datetime, AfterValidator(as_utc)]
        empty = getattr(col, "nullable", None)
        if empty is None:  # a label: the column under it
            empty = getattr(getattr(col, "element", None), "nullable", True)
        fields[col.name] = (kind | None, ...) if empty or col.name in nullable else (kind, ...)
    config = ConfigDict(extra="forbid", frozen=True)
    model: type[BaseModel] = create_model(name, __config__=config, __doc__=doc, **fields)
    return model
