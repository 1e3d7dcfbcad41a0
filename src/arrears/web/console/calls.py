"""Calls on the console: dialling from the account page and the queue (click-to-call), the
call's own page while it rings and for its wrap-up, the recording for the roles that may hear
it, the compliance review of an inspected call, and the QA page.

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations at
run time.
"""

from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from arrears.bootstrap import App
from arrears.compliance.facts import RESULTS
from arrears.domain.dispositions import DISPOSITIONS, REASONS
from arrears.service.errors import ServiceError
from arrears.service.queries.loans import borrower_timezone
from arrears.web.console.session import Render, Visitor, visitor
from arrears.web.console.wrapup import wrap_of
from arrears.web.refusals import flash_to, refusal

#: a call still ringing or talking: its page refreshes itself
LIVE = ("dialing", "agent_answered", "answered")


def call_pages(r: APIRouter, app: App, render: Render) -> None:
    from arrears.service.staff import calls

    diallers = Annotated[Visitor, Depends(visitor(app, tuple(sorted(calls.DIALLERS))))]

    @r.post("/accounts/{loan_id}/dial")
    async def dial(request: Request, v: diallers, loan_id: str) -> Response:
        form = await request.form()
        action = str(form.get("action_id") or "") or None
        back = str(form.get("back") or "")
        page = "/queue" if back == "queue" else f"/accounts/{quote(loan_id, safe='')}"
        try:
            placed = await run_in_threadpool(calls.dial, app, v.user, loan_id, action)
        except ServiceError as exc:
            return RedirectResponse(flash_to(page, exc, v.lang, v.csrf), status_code=303)
        return RedirectResponse(f"/calls/{placed.attempt_id}", status_code=303)

    business = ZoneInfo(app.settings.business_timezone)

    @r.get("/calls/{attempt_id}")
    def call_page(request: Request, v: diallers, attempt_id: str) -> HTMLResponse:
        try:
            call = calls.my_call(app, v.user, attempt_id)
        except ServiceError:
            return render(request, "base.html", v, status=404)
        return render(
            request,
            "call.html",
            v,
            call=call,
            live=call.dial_status in LIVE,
            results=RESULTS,
            dispositions=DISPOSITIONS,
            reasons=REASONS,
            tz=borrower_timezone(app, call.loan_id) if call.loan_id else business,
            number=calls.number_shown(app, call),
        )

    @r.post("/calls/{attempt_id}/wrapup")
    async def wrap(request: Request, v: diallers, attempt_id: str) -> Response:
        from arrears.service.conduct.calls import wrap_up

        form = await request.form()

        def save() -> None:
            call = calls.my_call(app, v.user, attempt_id)
            wrap_up(
                app,
                attempt_id,
                collector_id=calls.seat(v.user),
                result=str(form.get("result", "")),
                note=str(form.get("note") or "") or None,
                wrap=wrap_of(app, call.loan_id, form) if call.loan_id else None,
            )

        try:
            await run_in_threadpool(save)
        except ServiceError as exc:
            return RedirectResponse(
                flash_to(f"/calls/{attempt_id}", exc, v.lang, v.csrf), status_code=303
            )
        to = "/agency" if v.user.role == "agency" else "/queue"
        return RedirectResponse(f"{to}?flash=saved", status_code=303)

    _review_pages(r, app, render)
    _field_pages(r, app, render)


def _field_pages(r: APIRouter, app: App, render: Render) -> None:
    field = Annotated[Visitor, Depends(visitor(app, ("field_agent", "supervisor")))]

    @r.get("/field")
    def day_sheet(request: Request, v: field, agent: str | None = None) -> HTMLResponse:
        from arrears.service.staff.fieldwork import day_sheet as sheet

        whose = agent or v.user.username
        try:
            stops = sheet(app, v.user, app.today(), whose, v.lang)
        except ServiceError as exc:
            return render(
                request, "base.html", v, status=403, flash=refusal(exc, v.lang), flash_error=True
            )
        return render(request, "day_sheet.html", v, stops=stops, day=app.today(), agent=whose)


def _review_pages(r: APIRouter, app: App, render: Render) -> None:
    from arrears.service.staff import calls

    hearers = Annotated[Visitor, Depends(visitor(app, tuple(sorted(calls.HEARERS))))]
    reviewers = Annotated[Visitor, Depends(visitor(app, ("compliance", "admin")))]
    qa_readers = Annotated[Visitor, Depends(visitor(app, ("supervisor", "compliance", "admin")))]

    @r.get("/calls/{attempt_id}/audio")
    def audio(v: hearers, attempt_id: str) -> Response:
        try:
            data, kind = calls.hear(app, v.user, attempt_id)
        except ServiceError:
            return Response(status_code=404)
        return Response(data, media_type=kind, headers={"Cache-Control": "no-store"})

    @r.get("/compliance/calls/{attempt_id}")
    def review(request: Request, v: reviewers, attempt_id: str) -> HTMLResponse:
        return _review(app, render, request, v, attempt_id)

    @r.get("/qa")
    def qa(request: Request, v: qa_readers) -> HTMLResponse:
        from arrears.service.conduct.quality import quality

        return render(request, "qa.html", v, q=quality(app))


def _review(
    app: App, render: Render, request: Request, v: Visitor, attempt_id: str
) -> HTMLResponse:
    from arrears.service.conduct.alerts import alerts_of_call
    from arrears.service.staff import calls

    try:
        call = calls.my_call(app, v.user, attempt_id)
    except ServiceError as exc:
        return render(
            request, "base.html", v, status=404, flash=refusal(exc, v.lang), flash_error=True
        )
    card: dict[str, Any] = call.scorecard or {}
    flagged = [f for f in card.get("findings", []) if f["kind"] == "prohibited"] or [
        f for f in card.get("findings", []) if f.get("points")
    ]
    first = flagged[0] if flagged else None
    spans = {(f["start"], f["end"]) for f in flagged}
    return render(
        request,
        "call_review.html",
        v,
        call=call,
        card=card,
        first=first,
        spans=spans,
        alerts=alerts_of_call(app, attempt_id),
    )
