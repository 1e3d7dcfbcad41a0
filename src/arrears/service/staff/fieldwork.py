"""The field agent's day sheet: today's home visits assigned to them, in route order, with what
they need at the door.

* **Assignment.** Each planned visit of a queue goes to one of the field agents who work that
  queue, by a stable hash of the visit's id (the same agent all day, however often the sheet
  is opened); the second collector is whoever goes with them, named at the wrap-up.
* **Route order.** By postal code, then the address: postal codes are laid out by area (China's
  six digits, US ZIP codes), so neighbouring stops share their leading digits. A lender with
  geocodes would plug a real router in here.
* **Need to know.** The address and the name are in clear only for the agent the visit is
  assigned to (the view is logged); anyone else who may see the sheet (a supervisor) reads them
  masked.
* **The gate.** Each stop says whether a visit is allowed now (hours, agreed window, holds,
  two collectors), as the gate answers; the wrap-up is judged again when it is recorded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.conduct.contacts import judge
from arrears.service.errors import Forbidden
from arrears.service.staff.masking import mask
from arrears.service.staff.users import Staff, log_access, work_queues
from arrears.store import tables as t

_POSTCODE = re.compile(r"(\d{5,6})(?!.*\d{5,6})")


@dataclass(frozen=True)
class Stop:
    order: int
    action_id: str
    loan_id: str
    name: str
    address: str
    window_start: datetime
    window_end: datetime
    stage: str
    allowed_now: bool
    why_not: str  # the gate's reasons when not allowed now (in the reader's language)
    masked: bool


def _agents(app: App) -> dict[str, list[str]]:
    """The field agents working each queue (by username, sorted)."""
    su = t.staff_user
    out: dict[str, list[str]] = {}
    with app.engine.connect() as conn:
        rows = conn.execute(select(su).where(su.c.role == "field_agent")).mappings().all()
    for r in rows:
        queues = tuple(q for q in (r["queues"] or "").split(",") if q) or ("field",)
        for q in queues:
            out.setdefault(q, []).append(str(r["username"]))
    return {q: sorted(v) for q, v in out.items()}


def assignee(action_id: str, agents: list[str]) -> str | None:
    """The agent a visit goes to: stable for the visit's id."""
    if not agents:
        return None
    n = int.from_bytes(hashlib.sha256(action_id.encode()).digest()[:8], "big")
    return agents[n % len(agents)]


def route_key(address: str) -> tuple[str, str]:
    found = _POSTCODE.search(address)
    return (found.group(1) if found else "~", address)


def day_sheet(
    app: App, user: Staff, day: date, agent: str | None = None, lang: str = "en"
) -> list[Stop]:
    """``agent``'s visits on ``day`` in route order (``user``'s own when None). A field agent
    sees only their own sheet, in clear; a supervisor or admin sees any agent's, masked."""
    whose = agent or user.username
    if user.role == "field_agent" and whose != user.username:
        raise Forbidden("agent: a field agent sees their own day sheet only", field="agent")
    if user.role not in ("field_agent", "supervisor", "admin"):
        raise Forbidden(f"role: a {user.role} has no day sheet", field="role")
    in_clear = whose == user.username
    agents = _agents(app)
    queues = work_queues(user) if user.role == "field_agent" else tuple(agents)
    pa_, cp, b = t.plan_action, t.contact_point, t.borrower
    with app.engine.connect() as conn:
        visits = (
            conn.execute(
                select(pa_).where(
                    pa_.c.business_date == day,
                    pa_.c.channel == "visit",
                    pa_.c.status == "planned",
                    pa_.c.queue.in_(queues),
                )
            )
            .mappings()
            .all()
        )
        mine = [v for v in visits if assignee(v["action_id"], agents.get(v["queue"], [])) == whose]
        stops = []
        for v in mine:
            place = conn.execute(
                select(cp.c.value_enc)
                .where(cp.c.borrower_id == v["borrower_id"], cp.c.kind == "address")
                .order_by(cp.c.is_primary.desc(), cp.c.contact_id)
            ).first()
            name_enc = conn.execute(
                select(b.c.name_enc).where(b.c.borrower_id == v["borrower_id"])
            ).scalar()
            address = app.cipher.decrypt("contact_point.value", place.value_enc) if place else ""
            name = app.cipher.decrypt("borrower.name", name_enc) or ""
            stops.append((route_key(address or ""), v, address or "", name))
    stops.sort(key=lambda s: s[0])
    out = []
    now = app.clock()
    for i, (_, v, address, name) in enumerate(stops, start=1):
        j = judge(app, v["loan_id"], "visit", now, collectors=2)
        allowed = j is not None and j.allowed
        out.append(
            Stop(
                order=i,
                action_id=v["action_id"],
                loan_id=v["loan_id"],
                name=name if in_clear else str(mask(name, "name") or ""),
                address=address if in_clear else str(mask(address, "address") or ""),
                window_start=v["window_start"],
                window_end=v["window_end"],
                stage=v["stage"],
                allowed_now=allowed,
                why_not="" if allowed or j is None else j.reasons(lang),
                masked=not in_clear,
            )
        )
        if in_clear:
            log_access(app, user, v["borrower_id"], "day_sheet", True)
    return out
