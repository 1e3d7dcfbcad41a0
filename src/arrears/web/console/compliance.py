"""The compliance officer's pages: the evidence log with search and chain verification, the
gate's decisions by rule, complaints against their SLA (resolve, escalate), and the evidence
export of one account (PDF and JSON).

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations at
run time.
"""

import json
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from arrears.bootstrap import App
from arrears.exports import evidence_download
from arrears.service.cases import evidence as complaint_files
from arrears.service.errors import ServiceError
from arrears.service.queries import casework, evidence_search
from arrears.service.queries.loans import borrower_of
from arrears.service.staff.users import log_access
from arrears.store.db import as_utc
from arrears.web.console import charts
from arrears.web.console.session import Render
from arrears.web.i18n import gettext, translations
from arrears.web.refusals import flash_to, flash_with, refusal

PER_PAGE = 50


def compliance_pages(r: APIRouter, app: App, render: Render, officers: Any) -> None:
    _log_pages(r, app, render, officers)
    _case_pages(r, app, render, officers)
    _conduct_pages(r, app, render, officers)
    _frequency_pages(r, app, render, officers)


#: the contact-frequency report's two tables: their columns, in order
FREQUENCY = {
    "borrowers": (
        "borrower_id", "contacts", "calls", "connected", "most_connected_in_a_day",
        "most_dials_to_a_number_in_a_day", "days_over_a_limit",
    ),
    "collectors": (
        "collector_id", "calls", "connected", "talk_minutes", "borrowers_reached",
        "most_connected_to_a_borrower_in_a_day", "breaches",
    ),
}  # fmt: skip


def _frequency_pages(r: APIRouter, app: App, render: Render, officers: Any) -> None:
    from arrears.exports import FORMATS, export
    from arrears.service.queries.frequency import contact_frequency
    from arrears.web.labels import labeller

    def report(since: str, until: str, limit: int | None = 200) -> Any:
        end = parse_day(until) or app.today()
        start = parse_day(since) or end - timedelta(days=6)
        return contact_frequency(app, start, end, limit=limit)

    @r.get("/compliance/frequency")
    def frequency(request: Request, v: officers, since: str = "", until: str = "") -> HTMLResponse:
        try:
            found = report(since, until)
        except ServiceError as exc:
            return render(
                request, "frequency.html", v, status=422, problem=refusal(exc, v.lang), rep=None
            )
        return render(request, "frequency.html", v, rep=found, columns=FREQUENCY, problem=None)

    @r.get("/compliance/frequency/{which}.{fmt}")
    def frequency_file(
        v: officers, which: str, fmt: str, since: str = "", until: str = ""
    ) -> Response:
        if which not in FREQUENCY or fmt not in FORMATS:
            return Response(status_code=404)
        try:
            found = report(since, until, limit=None)  # the file holds every borrower
        except ServiceError as exc:
            return Response(refusal(exc, v.lang), status_code=422)
        label = labeller(v.lang)
        cols = FREQUENCY[which]
        rows = [[x[c] for c in cols] for x in getattr(found, which)]
        header = [label("frequency", c) for c in cols]
        data, kind = export(fmt, f"{which} {found.since}", header, rows)
        name = f"contact-frequency-{which}-{found.since}-{found.until}.{fmt}"
        return Response(
            data, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )


def _conduct_pages(r: APIRouter, app: App, render: Render, officers: Any) -> None:
    from arrears.service.conduct import alerts as conduct

    @r.get("/compliance/conduct")
    def conduct_queue(request: Request, v: officers, status: str = "open") -> HTMLResponse:
        showing = status if status in conduct.STATUSES else "open"
        rows = conduct.alerts(app, showing)
        return render(
            request,
            "conduct.html",
            v,
            rows=rows,
            showing=showing,
            statuses=conduct.STATUSES,
            breaches=conduct.breaches_by(app),
        )

    @r.post("/compliance/conduct/{alert_id}/review")
    def conduct_review(
        v: officers,
        alert_id: str,
        verdict: Annotated[str, Form(max_length=16)],
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        try:
            conduct.review(app, alert_id, by=v.user.username, verdict=verdict, note=note)
        except ServiceError as exc:
            return RedirectResponse(
                flash_to("/compliance/conduct", exc, v.lang, v.csrf), status_code=303
            )
        return RedirectResponse("/compliance/conduct?flash=saved", status_code=303)


def _audit_rows(
    app: App, q: str, kind: str, page: int
) -> tuple[list[dict[str, Any]], int, list[str]]:
    found = evidence_search.audit_search(
        app, q[:100], kind[:32], limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    kinds = evidence_search.audit_kinds(app)
    for x in found.rows:
        x["fields"] = readable(x["payload"])
    return found.rows, found.total, kinds


def readable(payload: str) -> list[tuple[str, str]]:
    """A log entry's record as field: value lines, nested fields by their dotted path, whole
    (a record cut at 300 characters proved nothing); text that is not JSON as one line."""
    try:
        data = json.loads(payload)
    except ValueError:
        return [("", payload)]
    out: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            said = ", ".join("—" if v is None else str(v) for v in value)
            out.append((prefix, said or "—"))
        elif isinstance(value, dict | list):
            out.append((prefix, json.dumps(value, ensure_ascii=False)))
        else:
            out.append((prefix, "—" if value is None else str(value)))

    walk("", data)
    return out


def _log_pages(r: APIRouter, app: App, render: Render, officers: Any) -> None:
    @r.get("/compliance/audit")
    def audit_log(
        request: Request, v: officers, q: str = "", kind: str = "", page: int = 1, verify: int = 0
    ) -> HTMLResponse:
        from arrears.service.staff.evidence_log import verify_log

        page = max(1, min(page, 100_000))
        rows, total, kinds = _audit_rows(app, q, kind, page)
        chain = verify_log(app) if verify else None
        return render(
            request,
            "audit.html",
            v,
            rows=rows,
            total=total,
            page=page,
            q=q,
            kind=kind,
            kinds=kinds,
            chain=chain,
            per_page=PER_PAGE,
        )

    @r.get("/compliance/gate")
    def gate(request: Request, v: officers, since: str = "", until: str = "") -> HTMLResponse:
        end = parse_day(until) or app.today()
        start = parse_day(since) or end - timedelta(days=30)
        rows = evidence_search.decisions_by_rule(app, start, end)
        _ = gettext(v.lang)
        title = _("Decisions by rule")
        chart = charts.bars({f"{x.rule}": x.count for x in rows[:15]}, title, codes=True)
        return render(request, "gate.html", v, rows=rows, chart=chart, since=start, until=end)


def _case_pages(r: APIRouter, app: App, render: Render, officers: Any) -> None:
    @r.get("/compliance/complaints")
    def complaints(
        request: Request, v: officers, status: str = "open", who: str = "all"
    ) -> HTMLResponse:
        from arrears.service.cases.complaints import owners

        showing = status if status in ("open", "escalated", "resolved") else None
        whose = {"mine": v.user.username, "nobody": ""}.get(who)
        rows = casework.complaints_by_deadline(app, status=showing, limit=200, owner=whose)
        now = app.clock()
        for x in rows:
            x["late"] = x["status"] != "resolved" and as_utc(x["sla_due_at"]) < now
            x["files"] = complaint_files.evidence_of(app, x["complaint_id"])
        return render(
            request,
            "complaints.html",
            v,
            rows=rows,
            showing=showing,
            who=who if whose is not None else "all",
            owners=owners(app),
            now=now,
        )

    @r.post("/compliance/complaints/{complaint_id}/assign")
    def assign(
        v: officers, complaint_id: str, owner: Annotated[str, Form(max_length=64)]
    ) -> Response:
        from arrears.service.cases.complaints import assign as do

        try:
            do(app, complaint_id, owner=owner, by=v.user.username)
        except ServiceError as exc:
            return RedirectResponse(
                flash_to("/compliance/complaints", exc, v.lang, v.csrf), status_code=303
            )
        return RedirectResponse("/compliance/complaints?flash=saved", status_code=303)

    @r.get("/compliance/complaint-files/{evidence_id}")
    def complaint_file(v: officers, evidence_id: str) -> Response:
        """A file a borrower attached to a complaint (the view is logged)."""
        found = complaint_files.evidence_file(app, evidence_id)
        if found is None:
            raise HTTPException(404, "no such file")
        facts, data = found
        log_access(app, v.user, facts["borrower_id"], f"complaint file {evidence_id}", True)
        return Response(
            data,
            media_type=facts["content_type"],
            headers={
                "Content-Disposition": evidence_download(facts),
                "X-Content-Type-Options": "nosniff",
            },
        )

    @r.post("/compliance/complaints/{complaint_id}/resolve")
    def resolve(
        v: officers,
        complaint_id: str,
        finding: Annotated[str, Form(max_length=16)],
        resolution: Annotated[str, Form(max_length=2000)],
    ) -> Response:
        from arrears.service.cases.complaints import resolve as do

        try:
            do(app, complaint_id, finding=finding, resolution=resolution, by=v.user.username)
        except ServiceError as exc:
            return RedirectResponse(
                flash_to("/compliance/complaints", exc, v.lang, v.csrf), status_code=303
            )
        return RedirectResponse("/compliance/complaints?flash=saved", status_code=303)

    @r.post("/compliance/complaints/escalate")
    def escalate(v: officers) -> Response:
        from arrears.service.cases.complaints import escalate as do

        done = do(app)
        n = len(done)
        said = translations(v.lang).ngettext(
            "%(num)d complaint escalated.", "%(num)d complaints escalated.", n
        ) % {"num": n}
        return RedirectResponse(flash_with("/compliance/complaints", said, v.csrf), status_code=303)

    _evidence_pages(r, app, officers)


def _evidence_pages(r: APIRouter, app: App, officers: Any) -> None:
    @r.get("/compliance/evidence/{loan_id}.pdf")
    def evidence_pdf(v: officers, loan_id: str, purpose: str = "audit") -> Response:
        from arrears.service.outreach.legal import PURPOSES, evidence_package

        if purpose not in PURPOSES:
            return Response(f"purpose: expected one of {', '.join(PURPOSES)}", status_code=422)
        day = app.today()
        try:
            pdf, _ = evidence_package(app, loan_id, day, purpose=purpose, locale=v.lang)
        except ServiceError:
            return Response("no such account", status_code=404)
        _logged(app, v, loan_id, f"evidence_pdf:{purpose}")
        name = f"evidence-{purpose}-{loan_id}-{day.isoformat()}.pdf"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @r.get("/compliance/evidence/{loan_id}.json")
    def evidence_json(v: officers, loan_id: str) -> Response:
        try:
            body = evidence(app, loan_id)
        except ServiceError:
            return JSONResponse({"detail": "no such account"}, status_code=404)
        _logged(app, v, loan_id, "evidence_json")
        return Response(
            json.dumps(body, ensure_ascii=False, indent=1, default=str),
            media_type="application/json",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="evidence-{loan_id}-{app.today().isoformat()}.json"'
                )
            },
        )


def _logged(app: App, v: Any, loan_id: str, what: str) -> None:
    from arrears.service.staff.users import log_access

    bid = borrower_of(app, loan_id)
    if bid:
        log_access(app, v.user, bid, what, True)


def evidence(app: App, loan_id: str) -> dict[str, Any]:
    """One account's evidence as data: the statement, every contact with its evidence hash and
    what was said, the gate's and the cases' audit entries, payments, promises, holds,
    complaints and arrangements."""
    from arrears.service.outreach.legal import evidence_hash
    from arrears.service.outreach.verify import CONTENT

    found = evidence_search.account_evidence(app, loan_id, app.today())
    contacts = [
        {
            **{k: v for k, v in r.items() if k != "destination_hash"},
            "content": app.cipher.open_text(CONTENT, r["content"]),
            "evidence_hash": evidence_hash(app, SimpleNamespace(**r)),
        }
        for r in found.contacts
    ]
    return {
        "loan_id": loan_id,
        "borrower_id": found.borrower_id,
        "as_of": app.today().isoformat(),
        "statement": found.statement,
        "contacts": contacts,
        "audit": found.audit,
        "payments": found.payments,
        "promises": found.promises,
        "holds": found.holds,
        "complaints": found.complaints,
        "arrangements": found.arrangements,
    }


def parse_day(text: str | None) -> date | None:
    """A date typed in a filter, or None when empty or not a date."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
