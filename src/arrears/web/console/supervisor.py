"""The supervisor's page: today's queues against their capacity, the team with what each
worked and agreed, assignment of queues, and how each agency is doing.

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations at
run time.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from arrears.bootstrap import App
from arrears.service.errors import ServiceError
from arrears.service.queries.team import agency_results, queue_loads, team_figures
from arrears.web.console.session import Render
from arrears.web.refusals import flash_to


def supervisor_pages(r: APIRouter, app: App, render: Render, approvers: Any) -> None:
    @r.get("/supervise")
    def supervise(request: Request, v: approvers) -> HTMLResponse:
        return render(
            request,
            "supervise.html",
            v,
            queues=queue_loads(app, app.today()),
            team=team_figures(app, app.today()),
            agencies=agency_results(app),
            day=app.today(),
        )

    @r.post("/supervise/assign")
    def assign(
        v: approvers,
        username: Annotated[str, Form(max_length=64)],
        queues_: Annotated[str, Form(alias="queues", max_length=200)] = "",
    ) -> Response:
        from arrears.service.staff.users import assign_queues

        names = [q.strip() for q in queues_.split(",") if q.strip()]
        try:
            assign_queues(app, username, names)
        except ServiceError as exc:
            return RedirectResponse(flash_to("/supervise", exc, v.lang), status_code=303)
        return RedirectResponse("/supervise?flash=saved", status_code=303)
