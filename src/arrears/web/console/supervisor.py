"""The supervisor's page: today's queues against their capacity, the team with what each
worked and agreed, assignment of queues, and how each agency is doing.

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations at
run time.
"""

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from arrears.bootstrap import App
from arrears.exports import FORMATS, export
from arrears.service.errors import ServiceError
from arrears.service.queries.team import agency_results, queue_loads, team_figures
from arrears.service.queries.team_day import MEASURES, TeamDay, team_day
from arrears.web.console.session import Render
from arrears.web.i18n import gettext
from arrears.web.labels import labeller
from arrears.web.refusals import flash_to


def supervisor_pages(r: APIRouter, app: App, render: Render, approvers: Any) -> None:
    @r.get("/supervise")
    def supervise(request: Request, v: approvers, day: str | None = None) -> HTMLResponse:
        from arrears.service.daily.cycle import strategy_from
        from arrears.service.staff.users import known_queues

        when = _day(day) or app.today()
        return render(
            request,
            "supervise.html",
            v,
            queues=queue_loads(app, app.today()),
            team=team_figures(app, app.today()),
            worked=team_day(app, when),
            known=sorted(known_queues(app)),
            names=strategy_from(app, None).labels(v.lang),
            agencies=agency_results(app),
            day=app.today(),
            shown=when,
        )

    _file_pages(r, app, approvers)

    @r.get("/supervise/team/{collector_id}/{measure}")
    def drill(
        request: Request, v: approvers, collector_id: str, measure: str, day: str | None = None
    ) -> HTMLResponse:
        when = _day(day) or app.today()
        if measure not in MEASURES:
            return render(request, "base.html", v, status=404)
        loans = sorted(team_day(app, when).accounts.get((collector_id, measure), set()))
        return render(
            request,
            "drill.html",
            v,
            collector_id=collector_id,
            measure=measure,
            loans=loans,
            shown=when,
        )

    @r.post("/supervise/assign")
    async def assign(request: Request, v: approvers) -> Response:
        from arrears.service.staff.users import assign_many

        form = await request.form()
        people = [str(x) for x in form.getlist("username") if str(x)]
        chosen = [str(x) for x in form.getlist("queues") if str(x)]
        try:
            await run_in_threadpool(assign_many, app, people, chosen)
        except ServiceError as exc:
            return RedirectResponse(flash_to("/supervise", exc, v.lang, v.csrf), status_code=303)
        return RedirectResponse("/supervise?flash=saved", status_code=303)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _file_pages(r: APIRouter, app: App, approvers: Any) -> None:
    """The supervisor's tables as files: the team, today's queues, the agencies, and the
    accounts behind a figure."""

    @r.get("/supervise/team.{fmt}")
    def team_file(v: approvers, fmt: str, day: str | None = None) -> Response:
        when = _day(day) or app.today()
        if fmt not in FORMATS:
            return Response(status_code=404)
        header, rows = _team_table(team_day(app, when), v.lang)
        return _download(fmt, f"team {when}", header, rows, f"team-{when.isoformat()}.{fmt}")

    @r.get("/supervise/{table}.{fmt}")
    def table_file(v: approvers, table: str, fmt: str) -> Response:
        """Today's queues or the agencies' results as CSV or Excel (words, amounts in yuan)."""
        tables = {"queues": _queues_table, "agencies": _agencies_table}
        if fmt not in FORMATS or table not in tables:
            return Response(status_code=404)
        today = app.today()
        header, rows = tables[table](app, v.lang)
        return _download(fmt, f"{table} {today}", header, rows, f"{table}-{today}.{fmt}")

    @r.get("/supervise/team/{collector_id}/{measure}.{fmt}")
    def drill_file(
        v: approvers, collector_id: str, measure: str, fmt: str, day: str | None = None
    ) -> Response:
        """The accounts behind one figure of the team table, as CSV or Excel."""
        when = _day(day) or app.today()
        if measure not in MEASURES or fmt not in FORMATS:
            return Response(status_code=404)
        loans = sorted(team_day(app, when).accounts.get((collector_id, measure), set()))
        _ = gettext(v.lang)
        name = f"{measure}-{''.join(c for c in collector_id if c.isalnum())}-{when}.{fmt}"
        return _download(fmt, f"{measure} {when}", [_("Loan")], [[x] for x in loans], name)


def _queues_table(app: App, lang: str) -> tuple[list[str], list[list[Any]]]:
    from arrears.service.daily.cycle import strategy_from

    _, label = gettext(lang), labeller(lang)
    names = strategy_from(app, None).labels(lang)["queue"]
    header = [_("Queue"), _("Capacity"), _("To work"), _("Worked"), _("Other")]
    rows = [
        [names.get(q.queue) or label("queue", q.queue), q.capacity, q.planned, q.done, q.other]
        for q in queue_loads(app, app.today())
    ]
    return header, rows


def _agencies_table(app: App, lang: str) -> tuple[list[str], list[list[Any]]]:
    _ = gettext(lang)
    header = [_("Agency"), _("Accounts"), _("Placed balance (yuan)"), _("Collected (yuan)"),
              _("Rate")]  # fmt: skip
    rows = [
        [a.agency, a.accounts, a.balance / 100, a.collected / 100,
         None if a.rate is None else round(a.rate, 4)]
        for a in agency_results(app)
    ]  # fmt: skip
    return header, rows


def _download(
    fmt: str, title: str, header: list[str], rows: list[list[Any]], name: str
) -> Response:
    data, kind = export(fmt, title, header, rows)
    return Response(
        data, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _team_table(team: TeamDay, lang: str) -> tuple[list[str], list[list[Any]]]:
    """The team table as a header and rows, in the reader's language (amounts in yuan)."""
    _ = gettext(lang)
    header = [
        _("Collector id"), _("Name"), _("Calls and visits"), _("Calls per hour"),
        _("Talk time (minutes)"), _("Right-party contacts"), _("Right-party contact rate"),
        _("Promises taken"), _("Promised (yuan)"), _("Promises kept"),
        _("Promises with a known outcome"), _("Cash collected (yuan)"), _("Complaints (30 days)"),
        _("QA score (30 days)"),
    ]  # fmt: skip
    rows = [
        [
            m.collector_id,
            m.name,
            m.attempts,
            None if m.calls_per_hour is None else round(m.calls_per_hour, 1),
            round(m.talk_seconds / 60, 1),
            m.reached,
            None if m.rpc_rate is None else round(m.rpc_rate, 4),
            m.promises,
            m.promised / 100,
            m.kept,
            m.decided,
            m.cash / 100,
            m.complaints,
            None if m.qa_score is None else round(m.qa_score, 1),
        ]  # fmt: skip
        for m in team.members
    ]
    return header, rows
