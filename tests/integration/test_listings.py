"""Long lists page by keyset as they page by offset (the same rows, in the same order, however
the pages fall), every row fits its listing's row model, and the API takes ``after`` for
``/loans`` and ``/plan`` but never beside a later ``page``. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx

from arrears.service.queries.day_plan import PlanRow, plan_listing
from arrears.service.queries.listing import Listing
from arrears.service.queries.loans import LoanRow, loan_listing
from arrears.service.staff.users import create_token
from arrears.web.app import create_app
from tests.conftest import PlanBook
from tests.support.servers import serve_asgi

DAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _walk(listing: Callable[..., Listing], key: str, per_page: int) -> tuple[list[str], int]:
    """Every row's key, page after page by keyset, and the totals each page gave."""
    seen: list[str] = []
    totals = set()
    after: str | None = None
    while True:
        page = listing(limit=per_page, after=after)
        totals.add(page.total)
        if not page.rows:
            break
        seen += [r[key] for r in page.rows]
        after = page.rows[-1][key]
    assert len(totals) == 1, totals
    return seen, totals.pop()


def test_keyset_pages_are_the_offset_pages(plan_book: PlanBook) -> None:
    app = plan_book(90, 3, DAY, clock=lambda: NOW)

    def loans(**kw: Any) -> Listing:
        return loan_listing(app, stage=None, portfolio_id=None, **kw)

    def plan(**kw: Any) -> Listing:
        return plan_listing(app, DAY, status=None, channel=None, **kw)

    for listing, key, model in ((loans, "loan_id", LoanRow), (plan, "action_id", PlanRow)):
        everything = listing(limit=10_000, offset=0)
        assert everything.total == len(everything.rows) > 5
        ids = [r[key] for r in everything.rows]
        assert ids == sorted(ids)
        for per_page in (1, 7, everything.total):
            by_key, total = _walk(listing, key, per_page)
            assert (by_key, total) == (ids, everything.total), per_page
        offset = [r[key] for k in range(0, total, 7) for r in listing(limit=7, offset=k).rows]
        assert offset == ids
        for row in everything.rows:  # the row model is the query's columns, typed
            assert model.model_validate(row).model_dump().keys() == row.keys()
    staged = loan_listing(app, stage="early", portfolio_id=None, limit=2, after="")
    assert all(r["stage"] == "early" for r in staged.rows) and staged.total >= len(staged.rows)


def test_the_api_pages_by_after_but_never_beside_a_later_page(plan_book: PlanBook) -> None:
    app = plan_book(30, 5, DAY, clock=lambda: NOW)
    token = create_token(app, "reporting", ["read"])
    with (
        serve_asgi(create_app(app)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c,
    ):
        for path, key in (("/api/v1/loans", "loan_id"), ("/api/v1/plan", "action_id")):
            first = c.get(path, params={"per_page": 3}).json()
            after = first["items"][-1][key]
            by_key = c.get(path, params={"per_page": 3, "after": after}).json()
            by_offset = c.get(path, params={"per_page": 3, "page": 2}).json()
            assert by_key["items"] == by_offset["items"] and by_key["total"] == first["total"]
            both = c.get(path, params={"page": 2, "after": after})
            assert both.status_code == 422 and both.json()["field"] == "page"
            assert c.get(path, params={"after": ""}).json()["field"] == "after"
