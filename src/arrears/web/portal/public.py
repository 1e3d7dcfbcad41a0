"""The borrower portal (mobile first, zh-CN by default, en): the public page "Is this contact
real?" here, the signed-in pages in ``borrower`` and ``money_pages``.

"Is this contact real?": anyone types the code a contact carried,
without signing in. A real code shows the organisation, the collector's id, the time, the
channel and what was sent; an unknown or expired code says the contact did not come from this
lender and offers a scam report. Checks are limited per client address (10 in 10 minutes);
the form carries a double-submit token.

No ``from __future__ import annotations`` here: FastAPI reads the annotations at run time.
"""

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse

from arrears.bootstrap import App
from arrears.channels.base import Channel
from arrears.web.portal.context import Portal, fresh
from arrears.web.portal.limits import Limiter

ATTEMPTS, WINDOW = 10, timedelta(minutes=10)


def _verdict(v: Any, zone: ZoneInfo) -> dict[str, Any]:
    detail = v.details or {}
    when = None
    if v.genuine:
        when = datetime.fromisoformat(detail["at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return {"genuine": v.genuine, "detail": detail, "when": when}


def mount_portal(api: FastAPI, app: App, sms: Channel | None = None) -> None:
    """The portal's pages; codes go out through ``sms`` (the SMS channel of the provider
    profiles when None)."""
    from arrears.web.portal.borrower import mount_borrower
    from arrears.web.portal.money_pages import mount_money

    p = Portal(app)
    limiter = Limiter(app, "verify", ATTEMPTS, WINDOW)
    zone = ZoneInfo(app.settings.business_timezone)
    r = APIRouter(include_in_schema=False)

    @r.get("/verify")
    def form(request: Request) -> HTMLResponse:
        return p.render(request, "verify.html")

    @r.post("/verify")
    def check(
        request: Request,
        code: Annotated[str, Form(max_length=40)],
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:
        from arrears.service.outreach.verify import verify

        if not fresh(request, csrf):
            return p.render(request, "verify.html", status=403, typed=code)
        wait = limiter.allow(request)
        if wait is not None:
            minutes = max(1, round(wait.total_seconds() / 60))
            return p.render(request, "verify.html", status=429, typed=code, limited=minutes)
        return p.render(
            request, "verify.html", typed=code, verdict=_verdict(verify(app, code), zone)
        )

    @r.post("/verify/report")
    def report(
        request: Request,
        code: Annotated[str, Form(max_length=40)] = "",
        what: Annotated[str, Form(max_length=2000)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:
        from arrears.store import audit

        if not fresh(request, csrf):
            return p.render(request, "verify.html", status=403)
        if limiter.allow(request) is not None:
            return p.render(request, "verify.html", status=429, limited=10)
        entry = audit.Entry(
            kind="scam_report",
            subject="portal",
            rulebook="",
            at=app.clock(),
            payload={"code": code[:40], "what": what[:2000]},
        )
        with app.engine.begin() as conn:
            audit.append(conn, [entry])
        return p.render(request, "verify.html", reported=True)

    api.include_router(r)
    mount_borrower(api, app, p, sms or _sms(app))
    mount_money(api, app, p)


def _sms(app: App) -> Channel:
    from arrears.channels.profiles import build, read

    s = app.settings
    return build(read(s.providers_file), s.outbox_dir, s.outbox_files)["sms"]
