"""The compliance officer's pages: the evidence log with search and chain verification, the
gate's decisions by rule, complaints against their SLA (resolve, escalate), and the evidence
export of one account (PDF and JSON).

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations at
run time.
"""

import json
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import func, or_, select

from arrears.bootstrap import App
from arrears.service.cases import evidence as complaint_files
from arrears.service.errors import ServiceError
from arrears.service.staff.users import log_access
from arrears.store import tables as t
from arrears.store.db import as_utc
from arrears.web.console import charts
from arrears.web.console.session import Render

PER_PAGE = 50


def compliance_pages(r: APIRouter, app: App, render: Render, officers: Any) -> None:
    _log_pages(r, app, render, officers)
    _case_pages(r, app, render, officers)


def _audit_rows(
    app: App, q: str, kind: str, page: int
) -> tuple[list[dict[str, Any]], int, list[str]]:
    a = t.audit_log
    where = []
    if kind:
        where.append(a.c.kind == kind[:32])
    if q:
        like = f"%{q[:100]}%"
        where.append(or_(a.c.subject.like(like), a.c.payload.like(like)))
    with app.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(a).where(*where)).scalar() or 0
        rows = [dict(x) for x in conn.execute(
            select(a.c.seq, a.c.at, a.c.kind, a.c.subject, a.c.rulebook, a.c.payload, a.c.hash)
            .where(*where).order_by(a.c.seq.desc())
            .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).mappings()]  # fmt: skip
        kinds = [k for (k,) in conn.execute(select(a.c.kind).distinct().order_by(a.c.kind))]
    for x in rows:
        x["payload"] = x["payload"][:300]
    return rows, int(total), kinds


def _log_pages(r: APIRouter, app: App, render: Render, officers: Any) -> None:
    @r.get("/compliance/audit")
    def audit_log(request: Request, v: officers, q: str = "", kind: str = "", page: int = 1,
                  verify: int = 0) -> HTMLResponse:  # fmt: skip
        from arrears.service.staff.evidence_log import verify_log

        page = max(1, min(page, 100_000))
        rows, total, kinds = _audit_rows(app, q, kind, page)
        chain = verify_log(app) if verify else None
        return render(request, "audit.html", v, rows=rows, total=total, page=page, q=q,
                      kind=kind, kinds=kinds, chain=chain, per_page=PER_PAGE)  # fmt: skip

    @r.get("/compliance/gate")
    def gate(request: Request, v: officers, since: str = "", until: str = "") -> HTMLResponse:
        end = parse_day(until) or app.today()
        start = parse_day(since) or end - timedelta(days=30)
        pa_ = t.plan_action
        with app.engine.connect() as conn:
            by_rule = conn.execute(
                select(pa_.c.rule, pa_.c.status, func.count()).where(
                    pa_.c.business_date >= start, pa_.c.business_date <= end,
                    pa_.c.rule.is_not(None),
                ).group_by(pa_.c.rule, pa_.c.status).order_by(func.count().desc())
            ).all()  # fmt: skip
        rows = [{"rule": r_, "status": s, "count": int(n)} for r_, s, n in by_rule]
        chart = charts.bars({f"{x['rule']}": x["count"] for x in rows[:15]}, "decisions by rule")
        return render(request, "gate.html", v, rows=rows, chart=chart, since=start, until=end)


def _case_pages(r: APIRouter, app: App, render: Render, officers: Any) -> None:
    @r.get("/compliance/complaints")
    def complaints(request: Request, v: officers, status: str = "open") -> HTMLResponse:
        c = t.complaint
        with app.engine.connect() as conn:
            q = select(c).order_by(c.c.sla_due_at)
            if status in ("open", "escalated", "resolved"):
                q = q.where(c.c.status == status)
            rows = [dict(x) for x in conn.execute(q.limit(200)).mappings()]
        now = app.clock()
        for x in rows:
            x["late"] = x["status"] != "resolved" and as_utc(x["sla_due_at"]) < now
            x["files"] = complaint_files.evidence_of(app, x["complaint_id"])
        return render(request, "complaints.html", v, rows=rows, showing=status, now=now)

    @r.get("/compliance/complaint-files/{evidence_id}")
    def complaint_file(v: officers, evidence_id: str) -> Response:
        """A file a borrower attached to a complaint (the view is logged)."""
        found = complaint_files.evidence_file(app, evidence_id)
        if found is None:
            raise HTTPException(404, "no such file")
        facts, data = found
        log_access(app, v.user, facts["borrower_id"], f"complaint file {evidence_id}", True)
        return Response(data, media_type=facts["content_type"], headers={
            "Content-Disposition": f'attachment; filename="{facts["evidence_id"]}"',
            "X-Content-Type-Options": "nosniff"})  # fmt: skip

    @r.post("/compliance/complaints/{complaint_id}/resolve")
    def resolve(
        v: officers, complaint_id: str,
        finding: Annotated[str, Form(max_length=16)],
        resolution: Annotated[str, Form(max_length=2000)],
    ) -> Response:  # fmt: skip
        from arrears.service.cases.complaints import resolve as do

        try:
            do(app, complaint_id, finding=finding, resolution=resolution, by=v.user.username)
        except ServiceError as exc:
            return RedirectResponse(f"/compliance/complaints?flash={exc}", status_code=303)
        return RedirectResponse("/compliance/complaints?flash=saved", status_code=303)

    @r.post("/compliance/complaints/escalate")
    def escalate(v: officers) -> Response:
        from arrears.service.cases.complaints import escalate as do

        done = do(app)
        return RedirectResponse(f"/compliance/complaints?flash={len(done)} escalated",
                                status_code=303)  # fmt: skip

    _evidence_pages(r, app, officers)


def _evidence_pages(r: APIRouter, app: App, officers: Any) -> None:
    @r.get("/compliance/evidence/{loan_id}.pdf")
    def evidence_pdf(v: officers, loan_id: str) -> Response:
        from arrears.service.outreach.agency import legal_package

        try:
            pdf, _ = legal_package(app, loan_id, app.today())
        except ServiceError:
            return Response("no such account", status_code=404)
        _logged(app, v, loan_id, "evidence_pdf")
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="evidence-{loan_id}.pdf"'})  # fmt: skip

    @r.get("/compliance/evidence/{loan_id}.json")
    def evidence_json(v: officers, loan_id: str) -> Response:
        try:
            body = evidence(app, loan_id)
        except ServiceError:
            return JSONResponse({"detail": "no such account"}, status_code=404)
        _logged(app, v, loan_id, "evidence_json")
        return Response(json.dumps(body, ensure_ascii=False, indent=1, default=str),
                        media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="evidence-{loan_id}.json"'})  # fmt: skip


def _logged(app: App, v: Any, loan_id: str, what: str) -> None:
    from arrears.service.staff.users import log_access

    with app.engine.connect() as conn:
        bid = conn.execute(select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)).scalar()
    if bid:
        log_access(app, v.user, bid, what, True)


def evidence(app: App, loan_id: str) -> dict[str, Any]:
    """One account's evidence as data: the statement, every contact with its evidence hash and
    what was said, the gate's and the cases' audit entries, payments, promises, holds,
    complaints and arrangements."""
    from arrears.service.books.statements import statement_for_loan
    from arrears.service.outreach.agency import evidence_hash
    from arrears.service.outreach.verify import CONTENT

    st = statement_for_loan(app, loan_id, app.today())
    ca, a = t.contact_attempt, t.audit_log
    with app.engine.connect() as conn:
        bid = conn.execute(select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)).scalar()
        contacts = [
            {**{k: v for k, v in dict(r._mapping).items() if k != "destination_hash"},
             "content": app.cipher.open_text(CONTENT, r.content),
             "evidence_hash": evidence_hash(app, r)}
            for r in conn.execute(select(ca).where(
                ca.c.borrower_id == bid, or_(ca.c.loan_id == loan_id, ca.c.loan_id.is_(None))
            ).order_by(ca.c.at))
        ]  # fmt: skip
        audit = [dict(r) for r in conn.execute(
            select(a.c.seq, a.c.at, a.c.kind, a.c.payload, a.c.hash)
            .where(a.c.subject.in_((loan_id, bid))).order_by(a.c.seq)).mappings()]  # fmt: skip

        def rows(table: Any, col: Any, key: str) -> list[dict[str, Any]]:
            return [dict(x) for x in conn.execute(select(table).where(col == key)).mappings()]

        return {"loan_id": loan_id, "borrower_id": bid, "as_of": app.today().isoformat(),
                "statement": st, "contacts": contacts, "audit": audit,
                "payments": rows(t.payment, t.payment.c.loan_id, loan_id),
                "promises": rows(t.promise, t.promise.c.loan_id, loan_id),
                "holds": rows(t.hold, t.hold.c.borrower_id, str(bid)),
                "complaints": rows(t.complaint, t.complaint.c.borrower_id, str(bid)),
                "arrangements": rows(t.arrangement, t.arrangement.c.loan_id, loan_id)}  # fmt: skip


def parse_day(text: str | None) -> date | None:
    """A date typed in a filter, or None when empty or not a date."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
