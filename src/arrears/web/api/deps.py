"""What every API endpoint shares: token authentication, pagination, bounded dates and
problem+json errors that name the field at fault."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AfterValidator, BaseModel, BeforeValidator
from starlette.exceptions import HTTPException as StarletteHTTPException

from arrears.bootstrap import App
from arrears.service.errors import NotFound, ServiceError
from arrears.service.staff.users import token_scopes

T = TypeVar("T")
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _in_range(d: date) -> date:
    if not EARLIEST <= d <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return d


def _iso_day(value: object) -> object:
    """A date is written YYYY-MM-DD: never a number (a Unix time), never another shape."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


#: a business date within reason (a replay from year 1 or to year 9999 is refused, not tried)
Day = Annotated[date, BeforeValidator(_iso_day), AfterValidator(_in_range)]


def problem(status: int, title: str, detail: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class Problem(BaseModel):
    """An error (RFC 9457): ``field`` names the input at fault."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None


PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 403, 404, 409, 422)
}


def install_problems(
    api: FastAPI, page: Callable[[Request, StarletteHTTPException], Response] | None = None
) -> None:
    """Every error of the API as application/problem+json; an error on a page's address as
    ``page`` draws it (a plain page when None)."""

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        e = exc.errors()[0]
        loc = [str(p) for p in e["loc"] if p not in ("body", "query", "path")]
        where = ".".join(loc) or "body"
        return problem(422, "invalid", f"{where}: {e['msg']}", where)

    async def http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        path = request.url.path
        if not path.startswith("/api/") and path != "/portal/pay/notify":  # a page, not JSON
            if page is not None:
                return page(request, exc)
            text = html.escape(str(exc.detail))
            return HTMLResponse(
                f"<!doctype html><meta charset=utf-8><title>{exc.status_code}"
                f"</title><p>{exc.status_code}: {text}</p><p><a href='/'>arrears"
                "</a></p>",
                status_code=exc.status_code,
            )
        field = (exc.headers or {}).get("X-Field")
        return problem(exc.status_code, str(exc.detail), str(exc.detail), field)

    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(StarletteHTTPException, http)


#: the API's status for each kind of refusal (the first that matches; 422 for the rest)
STATUS_OF: tuple[tuple[type[ServiceError], int], ...] = ((NotFound, 404),)


def status_of(exc: ServiceError) -> int:
    return next((status for kind, status in STATUS_OF if isinstance(exc, kind)), 422)


def service_call(call: Callable[[], T]) -> T:
    """Run a service call; its refusals become problems by their kind (:func:`status_of`) with
    the field at fault."""
    try:
        return call()
    except ServiceError as exc:
        field = exc.field
        raise HTTPException(
            status_of(exc), str(exc), headers={"X-Field": field} if field else None
        ) from exc


class Caller(BaseModel):
    """Who is calling: an integration's token name and scopes."""

    name: str
    scopes: set[str]


def auth(app: App, scope: str) -> Callable[..., Caller]:
    """A dependency: a live bearer token with ``scope``."""

    def check(request: Request) -> Caller:
        header = request.headers.get("Authorization", "")
        kind, _, secret = header.partition(" ")
        if kind.lower() != "bearer" or not secret:
            raise HTTPException(
                401,
                "Authorization: a bearer token is required",
                headers={"WWW-Authenticate": "Bearer", "X-Field": "Authorization"},
            )
        found = token_scopes(app, secret.strip())
        if found is None:
            raise HTTPException(
                401,
                "Authorization: unknown or revoked token",
                headers={"WWW-Authenticate": "Bearer", "X-Field": "Authorization"},
            )
        if scope not in found[1]:
            raise HTTPException(
                403,
                f"Authorization: the token lacks the {scope!r} scope",
                headers={"X-Field": "Authorization"},
            )
        return Caller(name=found[0], scopes=found[1])

    return check


class Paging(BaseModel):
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def paging(
    page: Annotated[int, Query(ge=1, le=100_000, description="1 is the first page")] = 1,
    per_page: Annotated[int, Query(ge=1, le=200, description="items a page")] = 50,
) -> Paging:
    return Paging(page=page, per_page=per_page)


PageDep = Annotated[Paging, Depends(paging)]

#: keyset paging on a long list ordered by id: the items after this id
After = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=160,
        description="the items after this id (the last of the page before), by keyset: a "
        "deep page costs what the first does; leave page out",
    ),
]


def keyset(after: str | None, p: Paging) -> str | None:
    """``after``, refused beside a ``page`` other than the first (the two would disagree)."""
    if after is not None and p.page != 1:
        raise HTTPException(422, "page: give page or after, not both", headers={"X-Field": "page"})
    return after


def page_of(rows: Sequence[Any], total: int, p: Paging) -> dict[str, Any]:
    """One page of a list, as the API's ``Page`` model of the rows gives it."""
    return {"items": list(rows), "page": p.page, "per_page": p.per_page, "total": total}
