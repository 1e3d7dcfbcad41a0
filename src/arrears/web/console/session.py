"""The console's sign-in: a session cookie (HttpOnly, SameSite=Strict, Secure outside
development and test), a CSRF token in every form (checked on every POST), and roles checked
on every page."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from arrears.bootstrap import App
from arrears.service.staff.users import Staff, session_user
from arrears.settings import Env
from arrears.web.nul import refuse_control_fields
from arrears.web.refusals import STALE_FORM

#: renders a page: (request, template, visitor, status=..., **context)
Render = Callable[..., HTMLResponse]

COOKIE = "arrears_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LANG_COOKIE = "arrears_lang"


@dataclass(frozen=True)
class Visitor:
    """The signed-in user of a request, with the session's CSRF token and the page language."""

    user: Staff
    csrf: str
    lang: str


class SignIn(Exception):
    """No live session: the page sends the browser to the sign-in page."""


def secure_cookies(app: App) -> bool:
    return app.settings.env not in (Env.DEVELOPMENT, Env.TEST)


def lang_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("zh-CN", "en"):
        return chosen
    accept = request.headers.get("Accept-Language", "")
    return "en" if accept.lower().startswith("en") else "zh-CN"


def visitor(
    app: App, roles: tuple[str, ...] | None = None
) -> Callable[[Request], Awaitable[Visitor]]:
    """A dependency: the signed-in user (any role, or one of ``roles``); a POST must carry the
    session's CSRF token."""

    async def check(request: Request) -> Visitor:
        token = request.cookies.get(COOKIE)
        # the store is read in the threadpool, never on the event loop
        found = await run_in_threadpool(session_user, app, token) if token else None
        if found is None:
            raise SignIn()
        user, csrf = found
        if roles is not None and user.role not in roles and user.role != "admin":
            raise HTTPException(403, f"a {user.role} cannot open this page")
        if request.method not in SAFE_METHODS:  # every unsafe method, whatever its body
            form = await request.form()
            given = str(form.get("csrf") or request.headers.get("X-CSRF-Token") or "")
            if not hmac.compare_digest(given, csrf):
                raise HTTPException(403, STALE_FORM)
            try:
                refuse_control_fields(form)
            except HTTPException:
                await form.close()  # its uploads' spools go now
                raise
        return Visitor(user, csrf, lang_of(request))

    check.roles = roles  # type: ignore[attr-defined]  # who may: read by the role tests
    return check
