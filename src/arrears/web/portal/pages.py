"""The portal's public page "Is this contact real?": anyone types the code a contact carried,
without signing in. A real code shows the organisation, the collector's id, the time, the
channel and what was sent; an unknown or expired code says the contact did not come from this
lender and offers a scam report. Checks are limited per client address (10 in 10 minutes);
the form carries a double-submit token.

No ``from __future__ import annotations`` here: FastAPI reads the annotations at run time.
"""

import hmac
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from arrears.bootstrap import App
from arrears.web.portal.limits import Limiter

HERE = Path(__file__).parent
TOKEN = "arrears_verify"
ATTEMPTS, WINDOW = 10, timedelta(minutes=10)

WORDS = {
    "zh-CN": {
        "title": "核实催收联系", "language": "English", "question": "这次联系是真的吗？",
        "explain": "我们的每条短信、邮件、信函和电话都带有验证码。"
                   "输入验证码，核实联系是否来自本机构。",
        "code": "验证码", "check": "核实", "genuine": "这是本机构的真实联系",
        "organisation": "机构", "collector": "催收员工号", "when": "时间", "channel": "渠道",
        "subject": "主题", "said": "内容",
        "not_ours": "该联系并非来自本机构",
        "not_ours_more": "请勿向其付款或提供个人信息。您可以在下方举报，帮助我们保护其他借款人。",
        "report_what": "对方说了什么、电话号码等（选填）", "report": "举报诈骗",
        "reported": "已收到举报，谢谢。", "limited": "尝试次数过多，请稍后再试：",
    },
    "en": {
        "title": "Check a collection contact", "language": "中文",
        "question": "Is this contact real?",
        "explain": "Every message, email, letter and call of ours carries a verification code. "
                   "Type it to check that the contact came from us.",
        "code": "Verification code", "check": "Check", "genuine": "This contact is genuine",
        "organisation": "Organisation", "collector": "Collector id", "when": "When",
        "channel": "Channel", "subject": "Subject", "said": "What was sent",
        "not_ours": "This contact did not come from this lender",
        "not_ours_more": "Do not pay them or give them personal data. Report it below to help "
                         "us protect other borrowers.",
        "report_what": "What they said, the number they used (optional)",
        "report": "Report a scam", "reported": "Thank you: your report was received.",
        "limited": "Too many checks; try again in",
    },
}  # fmt: skip


def _lang(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in WORDS:
        return str(chosen)
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "zh-CN"


def _verdict(v: Any, zone: ZoneInfo) -> dict[str, Any]:
    detail = v.details or {}
    when = None
    if v.genuine:
        when = datetime.fromisoformat(detail["at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return {"genuine": v.genuine, "detail": detail, "when": when}


def mount_portal(api: FastAPI, app: App) -> None:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    limiter = Limiter(ATTEMPTS, WINDOW, app.clock)
    zone = ZoneInfo(app.settings.business_timezone)
    r = APIRouter(include_in_schema=False)

    def page(request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
        lang = _lang(request)
        token = request.cookies.get(TOKEN) or secrets.token_urlsafe(24)
        words = WORDS[lang]
        out = templates.TemplateResponse(request, "verify.html", {
            "lang": lang, "w": lambda k: words.get(k, k), "token": token, **ctx,
        }, status_code=status)  # fmt: skip
        out.set_cookie(TOKEN, token, httponly=True, samesite="strict")
        return out

    def fresh(request: Request, given: str) -> bool:
        cookie = request.cookies.get(TOKEN, "")
        return bool(cookie) and hmac.compare_digest(cookie, given)

    @r.get("/verify")
    def form(request: Request) -> HTMLResponse:
        return page(request)

    @r.post("/verify")
    def check(
        request: Request, code: Annotated[str, Form(max_length=40)],
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:  # fmt: skip
        from arrears.service.verify import verify

        if not fresh(request, csrf):
            return page(request, status=403, typed=code)
        wait = limiter.allow(request.client.host if request.client else "?")
        if wait is not None:
            minutes = f"{max(1, round(wait.total_seconds() / 60))} min"
            return page(request, status=429, typed=code, limited=minutes)
        return page(request, typed=code, verdict=_verdict(verify(app, code), zone))

    @r.post("/verify/report")
    def report(
        request: Request, code: Annotated[str, Form(max_length=40)] = "",
        what: Annotated[str, Form(max_length=2000)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:  # fmt: skip
        from arrears.store import audit

        if not fresh(request, csrf):
            return page(request, status=403)
        if limiter.allow(request.client.host if request.client else "?") is not None:
            return page(request, status=429, limited="10 min")
        entry = audit.Entry(kind="scam_report", subject="portal", rulebook="", at=app.clock(),
                            payload={"code": code[:40], "what": what[:2000]})  # fmt: skip
        with app.engine.begin() as conn:
            audit.append(conn, [entry])
        return page(request, reported=True)

    api.include_router(r)
