"""The staff console: server-rendered pages (Jinja2), one stylesheet and one small script, all
served from the package (no CDN). Every page checks the user's role; every form carries the
session's CSRF token; an account is opened only if the user may see it.

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations
(local to :func:`mount_console`) at run time.
"""

import hmac
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import escape
from starlette.concurrency import run_in_threadpool

from arrears.bootstrap import App
from arrears.compliance.conduct.screen import check as screen
from arrears.compliance.facts import RESULTS
from arrears.domain.dispositions import DISPOSITIONS, REASONS
from arrears.service.errors import ServiceError
from arrears.service.queries import casework, day_plan
from arrears.service.queries.team import placed_with
from arrears.service.staff.kpis import bucket_order
from arrears.service.staff.users import (
    AuthError,
    authenticate,
    close_session,
    open_session,
    work_queues,
)
from arrears.store.db import as_utc
from arrears.web.console import charts
from arrears.web.console.calls import call_pages
from arrears.web.console.compliance import compliance_pages, parse_day
from arrears.web.console.session import (
    COOKIE,
    LANG_COOKIE,
    Render,
    SignIn,
    Visitor,
    lang_of,
    secure_cookies,
    visitor,
)
from arrears.web.console.strategy import strategy_pages
from arrears.web.console.supervisor import supervisor_pages
from arrears.web.console.wrapup import promise_fits, promise_of, wrap_of
from arrears.web.i18n import N_, Pages, as_is, gettext, short_ref
from arrears.web.labels import labeller
from arrears.web.refusals import flash_shown, flash_to, refusal

HERE = Path(__file__).parent
LOGIN_CSRF = "arrears_login_csrf"
#: the queues a role works when none are assigned
WORKERS = ("collector", "field_agent")
#: what the collector says at each stage (in the page's language)
SCRIPTS = {
    "early": N_("Hello, this is %(org)s collections (agent %(id)s). Your loan is overdue; please "
                "pay, or ask about a repayment arrangement if you are in difficulty."),
    "mid": N_("Hello, %(org)s (agent %(id)s). Your loan is over two weeks late; we can offer an "
              "extension or an instalment plan."),
    "late": N_("Hello, %(org)s (agent %(id)s). Your loan is seriously overdue; let us agree a "
               "plan to avoid further steps."),
}  # fmt: skip
#: the messages a page is sent back with (``?flash=saved``); any other flash is shown as given
FLASHES = {
    "saved": N_("Saved."),
    "active": N_("Activated: the next cycle runs this version."),
    "requested": N_("Asked for: another strategy manager must approve the activation."),
}


def money(fen: int | None) -> str:
    return "" if fen is None else f"{fen / 100:,.2f}"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def mount_console(api: FastAPI, app: App) -> None:
    zone = ZoneInfo(app.settings.business_timezone)

    def local(at: datetime) -> datetime:
        return as_utc(at).astimezone(zone)

    def zoned(at: datetime, name: str) -> datetime:
        try:
            return as_utc(at).astimezone(ZoneInfo(name))
        except (ValueError, KeyError):
            return local(at)

    pages = Pages(
        HERE / "templates",
        {
            "money": money,
            "pct": pct,
            "local": local,
            "zoned": zoned,
            "business_tz": app.settings.business_timezone,
        },
        lambda lang: {"label": labeller(lang)},
    )
    api.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    async def to_login(_: Request, __: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    api.add_exception_handler(SignIn, to_login)
    anyone = Annotated[Visitor, Depends(visitor(app))]
    workers = Annotated[
        Visitor,
        Depends(visitor(app, ("collector", "field_agent", "supervisor", "agency", "compliance"))),
    ]
    approvers = Annotated[Visitor, Depends(visitor(app, ("supervisor",)))]
    watchers = Annotated[
        Visitor, Depends(visitor(app, ("supervisor", "compliance", "strategy_manager")))
    ]
    agency = Annotated[Visitor, Depends(visitor(app, ("agency",)))]
    officers = Annotated[Visitor, Depends(visitor(app, ("compliance",)))]
    managers = Annotated[Visitor, Depends(visitor(app, ("strategy_manager",)))]

    def render(
        request: Request, name: str, v: Visitor | None, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        lang = v.lang if v else lang_of(request)
        flash = request.query_params.get("flash")
        if flash in FLASHES:
            flash = gettext(lang)(FLASHES[flash])
        else:  # words of its own only when this visitor's session signed them
            flash = flash_shown(flash, request.query_params.get("fs"), v.csrf if v else "")
        base = {
            "lang": lang,
            "me": v.user if v else None,
            "csrf": v.csrf if v else "",
            "flash": flash or None,
            "flash_error": False,
            "status": status,
        }
        return pages.render(request, lang, name, {**base, **ctx}, status)

    r = APIRouter(include_in_schema=False)
    _auth_pages(r, app, render, anyone)
    _work_pages(r, app, render, workers)
    _search_page(r, app, render, workers)
    _oversight_pages(r, app, render, approvers, watchers, agency)
    compliance_pages(r, app, render, officers)
    supervisor_pages(r, app, render, approvers)
    strategy_pages(r, app, render, managers)
    call_pages(r, app, render)
    api.include_router(r)


def _auth_pages(r: APIRouter, app: App, render: Render, anyone: Any) -> None:
    def login_form(request: Request, status: int = 200, error: str | None = None) -> Response:
        """The sign-in page with a fresh double-submit token (cookie and hidden field)."""
        token = secrets.token_urlsafe(24)
        page = render(request, "login.html", None, status=status, login_csrf=token, error=error)
        page.set_cookie(
            LOGIN_CSRF, token, httponly=True, samesite="strict", secure=secure_cookies(app)
        )
        return page

    @r.get("/login")
    def login_page(request: Request) -> Response:
        return login_form(request)

    @r.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=200)],
        csrf: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        _ = gettext(lang_of(request))
        expected = request.cookies.get(LOGIN_CSRF, "")
        if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
            return login_form(
                request, 403, _("The sign-in form had expired; please sign in again.")
            )
        try:
            user = authenticate(app, username, password)
        except AuthError:
            return login_form(
                request,
                401,
                _(
                    "Wrong username or password, or too many failed sign-ins: after 5 in a row, "
                    "sign-in is locked for 15 minutes."
                ),
            )
        token, _ = open_session(app, user.user_id)
        out = RedirectResponse("/", status_code=303)
        out.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(app),
            max_age=12 * 3600,
        )
        return out

    @r.post("/logout")
    def logout(request: Request, v: anyone) -> Response:
        close_session(app, request.cookies.get(COOKIE, ""))
        out = RedirectResponse("/login", status_code=303)
        out.delete_cookie(COOKIE)
        return out

    @r.get("/lang")
    def lang(request: Request, to: str = "zh-CN") -> Response:
        back = request.headers.get("Referer") or "/"
        out = RedirectResponse(back if back.startswith(str(request.base_url)) else "/", 303)
        out.set_cookie(LANG_COOKIE, "en" if to == "en" else "zh-CN", samesite="strict")
        return out

    @r.get("/")
    def home(v: anyone) -> Response:
        where = {
            "collector": "/queue",
            "field_agent": "/queue",
            "agency": "/agency",
            "compliance": "/compliance/complaints",
            "strategy_manager": "/strategy",
        }
        return RedirectResponse(where.get(v.user.role, "/supervise"), status_code=303)

    @r.post("/lint")
    def lint(v: anyone, text: Annotated[str, Form(max_length=5000)] = "") -> JSONResponse:
        decision = screen(text)
        words = [f.reason(v.lang) for f in decision.findings]
        sep = "；" if v.lang.startswith("zh") else "; "
        _ = gettext(v.lang)
        msg = _("The note was refused: %(why)s") % {"why": sep.join(words)} if words else ""
        spans = [
            {"start": f.start, "end": f.end, "category": f.category} for f in decision.findings
        ]
        return JSONResponse({"hits": words, "message": msg, "spans": spans})


def _queues(v: Visitor) -> tuple[str, ...]:
    return work_queues(v.user)  # an agency works what is placed with it (/agency), never ours


def _search_page(r: APIRouter, app: App, render: Render, workers: Any) -> None:
    @r.get("/search")
    def find(request: Request, v: workers, q: str = "") -> HTMLResponse:
        from arrears.service.staff.search import search

        hits: list[Any] = []
        if q.strip():
            try:
                hits = search(app, v.user, q[:64])
            except ServiceError as exc:
                return render(
                    request, "search.html", v, q=q, flash=refusal(exc, v.lang), flash_error=True
                )
        return render(request, "search.html", v, q=q, hits=hits)


def _work_pages(r: APIRouter, app: App, render: Render, workers: Any) -> None:
    from arrears.service.outreach.worklist import items

    @r.get("/queue")
    def queue(request: Request, v: workers, queue: str | None = None) -> Response:
        mine = _queues(v)
        if not mine:  # no in-house queue: an agency's accounts are on its own page
            return RedirectResponse("/agency", status_code=303)
        from arrears.service.daily.cycle import strategy_from

        chosen = queue if queue in mine else mine[0]
        rows = items(app, chosen, app.today(), limit=100)
        return render(
            request,
            "queue.html",
            v,
            queues=mine,
            queue=chosen,
            items=rows,
            day=app.today(),
            names=strategy_from(app, None).labels(v.lang),
        )

    def show(request: Request, v: Visitor, loan_id: str, **extra: Any) -> HTMLResponse:
        return _account_page(app, render, request, v, loan_id, **extra)

    @r.get("/accounts/{loan_id}")
    def account_page(request: Request, v: workers, loan_id: str) -> HTMLResponse:
        return show(request, v, loan_id)

    @r.post("/accounts/{loan_id}/break-glass")
    async def break_glass_(request: Request, v: workers, loan_id: str) -> Response:
        form = await request.form()
        return await run_in_threadpool(_break_glass, app, show, request, v, loan_id, form)

    @r.post("/accounts/{loan_id}/agency-contact")
    async def agency_contact(request: Request, v: workers, loan_id: str) -> Response:
        form = await request.form()
        return await run_in_threadpool(_agency_contact, app, show, request, v, loan_id, form)

    @r.post("/accounts/{loan_id}/wrapup")
    async def wrapup(request: Request, v: workers, loan_id: str) -> Response:
        form = await request.form()
        # the store and the gate: in the threadpool, off the event loop
        return await run_in_threadpool(_save_wrap_up, app, show, request, v, loan_id, form)

    @r.post("/accounts/{loan_id}/arrangements")
    async def arrange(request: Request, v: workers, loan_id: str) -> Response:
        form = await request.form()
        # the store: in the threadpool, off the event loop
        return await run_in_threadpool(_propose, app, show, request, v, loan_id, form)


def _break_glass(
    app: App, show: Callable[..., Response], request: Request, v: Visitor, loan_id: str, form: Any
) -> Response:
    """Open an account outside the user's queues, for the reason they give (logged and raised
    to compliance)."""
    from arrears.service.staff.scope import break_glass

    try:
        break_glass(app, v.user, loan_id, str(form.get("reason", "")))
    except ServiceError as exc:
        return show(request, v, loan_id, flash=refusal(exc, v.lang), flash_error=True)
    return RedirectResponse(f"/accounts/{quote(loan_id, safe='')}", status_code=303)


def _agency_contact(
    app: App, show: Callable[..., Response], request: Request, v: Visitor, loan_id: str, form: Any
) -> Response:
    """An agency's call or visit on an account placed with it: the same screen and gate."""
    from arrears.service.conduct.outcomes import record_agency_contact

    if v.user.role != "agency" or not v.user.agency:
        _ = gettext(v.lang)
        flash = _("Only the agency an account is placed with records its contacts here.")
        return show(request, v, loan_id, flash=flash, flash_error=True)
    try:
        record_agency_contact(
            app,
            loan_id,
            agency=v.user.agency,
            collector_id=v.user.username,
            channel=str(form.get("channel", "")),
            result=str(form.get("result", "")),
            note=str(form.get("note") or "") or None,
            companion_id=str(form.get("companion_id") or "") or None,
        )
    except ServiceError as exc:
        return show(request, v, loan_id, flash=refusal(exc, v.lang), flash_error=True)
    return show(request, v, loan_id, flash=gettext(v.lang)(FLASHES["saved"]))


def _save_wrap_up(
    app: App, show: Callable[..., Response], request: Request, v: Visitor, loan_id: str, form: Any
) -> Response:
    from arrears.service.staff.account_view import can_see

    if not can_see(app, v.user, loan_id):
        return show(request, v, loan_id)
    problem = _wrap_up(app, v, loan_id, form)
    if problem:  # the wrap-up stays open with what was entered
        entered = {k: str(x) for k, x in form.items() if k != "csrf" and isinstance(x, str)}
        return show(request, v, loan_id, flash=problem, flash_error=True, entered=entered)
    return RedirectResponse("/queue?flash=saved", status_code=303)


def _propose(
    app: App, show: Callable[..., Response], request: Request, v: Visitor, loan_id: str, form: Any
) -> Response:
    from arrears.service.cases.arrangements import propose
    from arrears.service.staff.account_view import can_see

    kind = str(form.get("kind", ""))
    if not can_see(app, v.user, loan_id):
        return show(request, v, loan_id)
    try:
        p = propose(
            app,
            loan_id,
            kind,
            _ask(kind, form),
            by=v.user.username,
            role=v.user.role,
            reason=str(form.get("reason", "")),
        )
    except (ServiceError, ValueError) as exc:
        return show(request, v, loan_id, flash=_said(exc, v.lang), flash_error=True)
    _, label = gettext(v.lang), labeller(v.lang)
    said = (
        _("%(kind)s agreed and in force (reference %(ref)s).")
        if p.status == "active"
        else _("%(kind)s proposed: it waits for a second person's approval (reference %(ref)s).")
    ) % {"kind": label("arrangement", kind), "ref": short_ref(p.arrangement_id)}
    return show(request, v, loan_id, flash=said)


def _said(exc: Exception, lang: str) -> str:
    """A refusal by its kind (:func:`refusal`); a form value that did not parse, as said."""
    return refusal(exc, lang) if isinstance(exc, ServiceError) else str(exc)


def _account_page(
    app: App, render: Render, request: Request, v: Visitor, loan_id: str, **extra: Any
) -> HTMLResponse:
    """The account in one screen, or a 404 page for one the user may not see (no hint that it
    exists)."""
    from arrears.service.staff.account_view import account, can_see
    from arrears.service.staff.scope import SCOPED, exists

    if not can_see(app, v.user, loan_id):
        if v.user.role in SCOPED and exists(app, loan_id):  # say why, or go back
            return render(request, "break_glass.html", v, loan_id=loan_id, status=403, **extra)
        return render(request, "base.html", v, status=404)  # no hint that it exists
    try:
        a = account(app, v.user, loan_id)
    except ServiceError:
        return render(request, "base.html", v, status=404)
    _ = gettext(v.lang)
    org = a.creditor or app.settings.org_phone
    script = escape(_(SCRIPTS.get(a.statement["stage"], SCRIPTS["early"]))) % {
        "org": as_is(org),  # a name and an id: never translated
        "id": as_is(v.user.collector_id or v.user.username),
    }
    return render(
        request,
        "account.html",
        v,
        a=a,
        action=_my_action(app, v, loan_id),
        results=RESULTS,
        dispositions=DISPOSITIONS,
        reasons=REASONS,
        script=script,
        tz=ZoneInfo(a.borrower["timezone"] or "Asia/Shanghai"),
        **extra,
    )


def _wrap_up(app: App, v: Visitor, loan_id: str, form: Any) -> str | None:
    """Record a worked item's outcome, what it came to and a promise taken on the call; the
    problem, if any. The promise is checked first: a refused promise writes nothing, so the
    wrap-up stays open with what was entered."""
    from arrears.service.cases.promises import check_promise, make_promise
    from arrears.service.conduct.outcomes import record_outcome

    _ = gettext(v.lang)
    action_id = str(form.get("action_id", ""))
    if action_id != _my_action(app, v, loan_id):
        return _("Not an item of your queues today.")
    who = v.user.collector_id or v.user.username
    try:
        wrap = wrap_of(app, loan_id, form)
        parts = promise_of(form)
        if parts:
            promise_fits(str(form.get("result", "")), wrap)
            check_promise(app, loan_id, parts)
        record_outcome(
            app,
            action_id,
            collector_id=who,
            result=str(form.get("result", "")),
            note=str(form.get("note") or "") or None,
            companion_id=str(form.get("companion_id") or "") or None,
            wrap=wrap,
        )
    except ServiceError as exc:
        return refusal(exc, v.lang)
    said = []
    if parts:
        try:
            make_promise(app, loan_id, parts, source="agent_call", made_by=who)
        except ServiceError as exc:  # taken by someone else meanwhile
            said.append(
                _("Outcome saved; the promise was refused: %(why)s") % {"why": refusal(exc, v.lang)}
            )
    if str(form.get("next") or "none") == "call_back":
        from arrears.service.outreach.worklist import call_back

        try:
            call_back(app, action_id)
        except ServiceError as exc:  # a call-back's own item: already first in line
            said.append(_("Outcome saved; no call-back: %(why)s") % {"why": refusal(exc, v.lang)})
    return " ".join(said) or None


def _ask(kind: str, form: Any) -> dict[str, Any]:
    """The terms the arrangement form asks for: days and parts as whole numbers, amounts typed
    in yuan (kept in fen)."""
    from arrears.service.borrower.selfserve import to_fen

    def num(key: str) -> int | None:
        text = str(form.get(key) or "").strip()
        return int(text) if text else None

    def fen(key: str) -> int | None:
        text = str(form.get(key) or "").strip()
        return to_fen(text, key) if text else None

    if kind == "waiver":
        return {"penalty": fen("penalty") or 0}
    if kind == "extension":
        return {"days": num("days")}
    if kind == "plan":
        return {"parts": num("parts")}
    return {"amount": fen("amount"), "pay_by": str(form.get("pay_by") or "")}


def _my_action(app: App, v: Visitor, loan_id: str) -> str | None:
    """The planned call or visit of ``loan_id`` today in one of the user's queues."""
    mine = None if v.user.role == "admin" else (_queues(v) or ("",))
    return day_plan.planned_call(app, loan_id, app.today(), mine)


def _oversight_pages(
    r: APIRouter, app: App, render: Render, approvers: Any, watchers: Any, agency: Any
) -> None:
    from arrears.service.cases.approvals import approve, reject

    @r.get("/approvals")
    def approvals(request: Request, v: approvers) -> HTMLResponse:
        rows = casework.awaiting_approval(app)
        for x in rows:
            x["effect"] = json.loads(x["effect"] or "{}")
        return render(request, "approvals.html", v, rows=rows)

    @r.post("/approvals/{arrangement_id}/approve")
    def do_approve(v: approvers, arrangement_id: str) -> Response:
        try:
            approve(app, arrangement_id, by=v.user.username, role=v.user.role)
        except ServiceError as exc:
            return RedirectResponse(flash_to("/approvals", exc, v.lang, v.csrf), status_code=303)
        return RedirectResponse("/approvals?flash=saved", status_code=303)

    @r.post("/approvals/{arrangement_id}/reject")
    def do_reject(
        v: approvers,
        arrangement_id: str,
        reason: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        try:
            reject(
                app,
                arrangement_id,
                by=v.user.username,
                role=v.user.role,
                reason=reason or "rejected",
            )
        except ServiceError as exc:
            return RedirectResponse(flash_to("/approvals", exc, v.lang, v.csrf), status_code=303)
        return RedirectResponse("/approvals?flash=saved", status_code=303)

    @r.get("/dashboard")
    def dashboard(
        request: Request, v: watchers, since: str | None = None, until: str | None = None
    ) -> HTMLResponse:
        from arrears.service.staff.kpis import measures

        end = parse_day(until) or app.today()
        start = parse_day(since) or end - timedelta(days=30)
        k = measures(app, min(start, end), end)
        graphs = _dashboard_charts(k, v.lang)
        from arrears.service.daily.runs import last_run

        return render(request, "dashboard.html", v, k=k, charts=graphs, run=last_run(app))

    _dashboard_files(r, app, watchers)

    @r.get("/agency")
    def placed(request: Request, v: agency) -> HTMLResponse:
        return render(request, "agency.html", v, rows=placed_with(app, v.user.agency))


def _dashboard_files(r: APIRouter, app: App, watchers: Any) -> None:
    @r.get("/dashboard/rolls.{fmt}")
    def rolls_file(
        v: watchers, fmt: str, since: str | None = None, until: str | None = None
    ) -> Response:
        """The roll-rate matrix as CSV or Excel: a row per starting bucket, for each bucket
        at the end (and cured) the loans and the balance in yuan."""
        from arrears.exports import FORMATS, export
        from arrears.service.staff.kpis import measures

        if fmt not in FORMATS:
            return Response(status_code=404)
        end = parse_day(until) or app.today()
        start = parse_day(since) or end - timedelta(days=30)
        header, rows = _rolls_table(measures(app, min(start, end), end), v.lang)
        data, kind = export(fmt, f"rolls {start} {end}", header, rows)
        name = f"roll-rates-{min(start, end)}-{end}.{fmt}"
        return Response(
            data, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )


def _rolls_table(k: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    _ = gettext(lang)
    matrix = k.get("roll_matrix") or {"buckets": [], "rows": []}
    ends = [*matrix["buckets"], "cured"]
    header = [_("Start, end")]
    for b in ends:
        said = _("Cured") if b == "cured" else b
        header += [
            _("%(bucket)s: loans") % {"bucket": said},
            _("%(bucket)s: balance (yuan)") % {"bucket": said},
        ]
    rows = []
    for row in matrix["rows"]:
        line: list[Any] = [row["from"]]
        for b in ends:
            cell = row["cells"].get(b) or {"loans": 0, "balance": 0}
            line += [cell["loans"], cell["balance"] / 100]
        rows.append(line)
    return header, rows


def stage_order(name: str) -> tuple[int, str]:
    """Stages in DPD order (before due, early, mid, late, legal), others after."""
    from arrears.domain.delinquency import DEFAULT_STAGES

    order = [b.name for b in DEFAULT_STAGES.bands]
    return (order.index(name) if name in order else len(order), name)


def _dashboard_charts(k: dict[str, Any], lang: str) -> dict[str, str]:
    """The dashboard's charts, titled and labelled in ``lang`` (rule ids, collector ids and
    template names are codes, shown as they are)."""
    _, label = gettext(lang), labeller(lang)
    return {
        "stage": charts.bars(
            {
                label("stage", s): k["by_stage"][s]["loans"]
                for s in sorted(k["by_stage"], key=stage_order)
            },
            _("Accounts by stage"),
        ),
        "bucket": charts.bars(
            {
                label("stage", b): k["by_bucket"][b]["total_due"] / 100
                for b in sorted(k["by_bucket"], key=bucket_order)
            },
            _("Total due by DPD bucket"),
        ),
        "channels": charts.bars(
            {label("channel", c): n for c, n in k["contacts_by_channel"].items()},
            _("Contacts by channel"),
        ),
        "blocks": charts.bars(
            dict(list(k["blocks_by_rule"].items())[:12]), _("Blocks by rule"), codes=True
        ),
        "complaints": charts.bars(
            {
                f"{label('by', c['by'])}: {c['who']}": c["per_10k"]
                for c in k["complaints_per_10k"]
                if c["complaints"]
            },
            _("Complaints per 10,000 contacts"),
            codes=True,
        ),
    }
