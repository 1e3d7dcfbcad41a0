"""The supervisor's page: today's queues against their capacity, the team with what each
worked and agreed, assignment of queues, and how each agency is doing.

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations at
run time.
"""

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import and_, func, select

from arrears.bootstrap import App
from arrears.service.errors import ServiceError
from arrears.store import tables as t
from arrears.web.console.session import Render


def supervisor_pages(r: APIRouter, app: App, render: Render, approvers: Any) -> None:
    @r.get("/supervise")
    def supervise(request: Request, v: approvers) -> HTMLResponse:
        return render(request, "supervise.html", v, queues=queues(app), team=team(app),
                      agencies=agencies(app), day=app.today())  # fmt: skip

    @r.post("/supervise/assign")
    def assign(
        v: approvers, username: Annotated[str, Form(max_length=64)],
        queues_: Annotated[str, Form(alias="queues", max_length=200)] = "",
    ) -> Response:  # fmt: skip
        from arrears.service.staff.users import assign_queues

        names = [q.strip() for q in queues_.split(",") if q.strip()]
        try:
            assign_queues(app, username, names)
        except ServiceError as exc:
            return RedirectResponse(f"/supervise?flash={exc}", status_code=303)
        return RedirectResponse("/supervise?flash=saved", status_code=303)


def queues(app: App) -> list[dict[str, Any]]:
    """Each queue today: capacity (the strategy's), planned, worked, still to work."""
    from arrears.strategy.model import load

    capacity = load(app.settings.strategy).queues
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(pa_.c.queue, pa_.c.status, func.count()).where(
                pa_.c.business_date == app.today(), pa_.c.queue.is_not(None)
            ).group_by(pa_.c.queue, pa_.c.status)
        ).all()  # fmt: skip
    out: dict[str, dict[str, Any]] = {
        q: {"queue": q, "capacity": c, "planned": 0, "done": 0, "other": 0}
        for q, c in capacity.items()
    }
    for q, status, n in rows:
        row = out.setdefault(q, {"queue": q, "capacity": None, "planned": 0, "done": 0,
                                 "other": 0})  # fmt: skip
        key = status if status in ("planned", "done") else "other"
        row[key] += int(n)
    return sorted(out.values(), key=lambda x: x["queue"])


def team(app: App) -> list[dict[str, Any]]:
    """Collectors and field agents: queues, contacts today, promises taken in 30 days and how
    many were kept, complaints about them in 30 days."""
    u, ca, pr, c = t.staff_user, t.contact_attempt, t.promise, t.complaint
    zone = ZoneInfo(app.settings.business_timezone)
    day0 = datetime.combine(app.today(), time(0), zone)
    month = day0 - timedelta(days=30)
    with app.engine.connect() as conn:
        people = conn.execute(select(u).where(u.c.role.in_(("collector", "field_agent")))
                              .order_by(u.c.username)).mappings().all()  # fmt: skip
        out = []
        for p in people:
            cid = p["collector_id"] or p["username"]
            today = conn.execute(select(func.count()).where(
                ca.c.collector_id == cid, ca.c.at >= day0)).scalar() or 0  # fmt: skip
            taken: dict[str, int] = {
                str(k): int(n)
                for k, n in conn.execute(
                    select(pr.c.status, func.count())
                    .where(pr.c.made_by == cid, pr.c.made_at >= month)
                    .group_by(pr.c.status)
                ).all()
            }
            complaints = conn.execute(select(func.count()).where(
                c.c.collector_id == cid, c.c.received_at >= month)).scalar() or 0  # fmt: skip
            decided = sum(n for k, n in taken.items() if k != "pending")
            out.append({"username": p["username"], "name": p["display_name"], "role": p["role"],
                        "collector_id": cid, "queues": p["queues"] or "", "contacts_today": today,
                        "promises": sum(taken.values()),
                        "kept": int(taken.get("kept", 0)), "decided": decided,
                        "complaints": complaints})  # fmt: skip
    return out


def agencies(app: App) -> list[dict[str, Any]]:
    """Each agency: accounts placed now, balance placed, collected on them since placement."""
    pl, pay = t.placement, t.payment
    with app.engine.connect() as conn:
        placed = conn.execute(
            select(pl.c.agency, func.count(), func.sum(pl.c.balance))
            .where(pl.c.status == "placed").group_by(pl.c.agency)
        ).all()  # fmt: skip
        got = dict(conn.execute(
            select(pl.c.agency, func.sum(pay.c.amount))
            .select_from(pl.join(pay, and_(pay.c.loan_id == pl.c.loan_id,
                                           pay.c.paid_on >= pl.c.placed_on)))
            .where(pay.c.status == "posted").group_by(pl.c.agency)
        ).all())  # fmt: skip
    return [{"agency": a, "accounts": int(n), "balance": int(b or 0),
             "collected": int(got.get(a, 0) or 0),
             "rate": (int(got.get(a, 0) or 0) / int(b)) if b else None}
            for a, n, b in placed]  # fmt: skip
