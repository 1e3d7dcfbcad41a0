"""What the portal's pages share: the language, the templates, the borrower's session (a
cookie: HttpOnly, SameSite=Lax so the payment provider's redirect back keeps it, Secure
outside development and test; only its hash is stored) and the CSRF checks of its forms."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from arrears.bootstrap import App
from arrears.service.borrower.signin import Session, session_of
from arrears.web.console.session import secure_cookies
from arrears.web.console.views import money
from arrears.web.i18n import LANGS, Pages
from arrears.web.labels import labeller
from arrears.web.nul import refuse_control_fields
from arrears.web.refusals import STALE_FORM

HERE = Path(__file__).parent
COOKIE = "arrears_portal"
LANG = "arrears_portal_lang"
TOKEN = "arrears_verify"
#: the most files and fields a portal form may carry (the complaint form's evidence and words)
FORM_FILES, FORM_FIELDS = 6, 60  # the double-submit token of the forms before sign-in


def lang_of(request: Request) -> str:
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANG)):
        if chosen in LANGS:
            return str(chosen)
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "zh-CN"


class SignInFirst(Exception):
    """No live borrower session: the page sends the browser to the sign-in page."""


class Portal:
    """The templates and the app, and one way to render a page."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.pages = Pages(
            HERE / "templates", {"money": money}, lambda lang: {"label": labeller(lang)}
        )

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        session: Session | None = None,
        lang: str | None = None,
        **ctx: Any,
    ) -> HTMLResponse:
        lang = lang or lang_of(request)
        token = request.cookies.get(TOKEN) or secrets.token_urlsafe(24)
        out = self.pages.render(
            request,
            lang,
            template,
            {"lang": lang, "token": token, "session": session, **ctx},
            status,
        )
        out.set_cookie(
            TOKEN, token, httponly=True, samesite="strict", secure=secure_cookies(self.app)
        )
        if request.query_params.get("lang") in LANGS:
            out.set_cookie(LANG, lang, samesite="lax", secure=secure_cookies(self.app))
        return out

    def speak(self, response: Response, lang: str) -> Response:
        """Pages in ``lang`` from now on (the borrower's choice)."""
        response.set_cookie(LANG, lang, samesite="lax", secure=secure_cookies(self.app))
        return response

    def signed_in(self, response: Response, token: str) -> Response:
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="lax", secure=secure_cookies(self.app)
        )
        return response


def fresh(request: Request, given: str) -> bool:
    """Whether a form before sign-in carries its double-submit token."""
    cookie = request.cookies.get(TOKEN, "")
    return bool(cookie) and hmac.compare_digest(cookie, given)


async def csrf_ok(request: Request, expected: str) -> bool:
    """Whether the request carries ``expected`` as its CSRF token. A multipart form is read
    with the upload's limits here (and kept on the request for its page)."""
    given = request.headers.get("X-CSRF-Token")
    if given is None:
        kind = request.headers.get("Content-Type", "")
        if kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form(max_files=FORM_FILES, max_fields=FORM_FIELDS)
            given = str(form.get("csrf") or "")
            if not (given and hmac.compare_digest(given.encode(), expected.encode())):
                await form.close()  # refused: its uploads' spools go now
                return False
            try:
                refuse_control_fields(form)
            except HTTPException:
                await form.close()
                raise
    return bool(given) and hmac.compare_digest((given or "").encode(), expected.encode())


def borrower(app: App) -> Callable[[Request], Awaitable[Session]]:
    """A dependency: the signed-in borrower. Every unsafe request must carry the session's CSRF
    token, in the form (urlencoded or multipart) or the ``X-CSRF-Token`` header."""

    async def check(request: Request) -> Session:
        token = request.cookies.get(COOKIE)
        found = await run_in_threadpool(session_of, app, token) if token else None
        if found is None:
            raise SignInFirst()
        if request.method not in ("GET", "HEAD", "OPTIONS"):  # whatever the content type
            if not await csrf_ok(request, found.csrf):
                raise HTTPException(403, STALE_FORM)
        return found

    return check


def mine(app: App, who: Session, loan_id: str) -> None:
    """Refuse a loan that is not the borrower's as if it did not exist."""
    from arrears.service.borrower.portal import owns

    if not owns(app, who.borrower_id, loan_id):
        raise HTTPException(404, "no such loan")


async def to_sign_in(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/portal", status_code=303)
