"""The compliance review queue of conduct alerts (a contact recorded outside the rules, a
break-glass, and later a call's quality inspection): listed oldest first, each confirmed or
dismissed once by a reviewer with a note, the review in the hash-chained evidence log.
Confirmed breaches count against the collector and the agency (:func:`breaches_by`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from arrears.bootstrap import App
from arrears.service.errors import Conflict, Invalid, NotFound
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc

STATUSES = ("open", "confirmed", "dismissed")
VERDICTS = ("confirmed", "dismissed")
#: the shortest note a review accepts
MIN_NOTE = 5


def alerts(app: App, status: str | None = "open", limit: int = 200) -> list[dict[str, Any]]:
    """Alerts of ``status`` (all when None), oldest first."""
    require_current(app)
    if status is None:
        return _rows(app, limit=limit)
    if status not in STATUSES:
        raise Invalid(f"status: expected one of {', '.join(STATUSES)}", field="status")
    return _rows(app, t.conduct_alert.c.status == status, limit=limit)


def alerts_of_call(app: App, attempt_id: str) -> list[dict[str, Any]]:
    """The alerts raised about one call (its QA alert, a breach), oldest first."""
    return _rows(app, t.conduct_alert.c.attempt_id == attempt_id)


def _rows(app: App, *where: Any, limit: int = 200) -> list[dict[str, Any]]:
    a = t.conduct_alert
    q = select(a).where(*where).order_by(a.c.raised_at, a.c.alert_id).limit(limit)
    with app.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    for r in rows:
        r["raised_at"] = as_utc(r["raised_at"])
        r["reviewed_at"] = as_utc(r["reviewed_at"]) if r["reviewed_at"] else None
        r["rules"] = json.loads(r["rules"])
    return rows


def review(app: App, alert_id: str, *, by: str, verdict: str, note: str) -> None:
    """Confirm or dismiss an open alert, once, with a note (audited)."""
    require_current(app)
    if verdict not in VERDICTS:
        raise Invalid(f"verdict: expected one of {', '.join(VERDICTS)}", field="verdict")
    said = " ".join(note.split())
    if len(said) < MIN_NOTE:
        raise Invalid(f"note: say why (at least {MIN_NOTE} characters)", field="note")
    a = t.conduct_alert
    now = app.clock()
    with app.engine.begin() as conn:
        found = conn.execute(
            select(a.c.status, a.c.loan_id).where(a.c.alert_id == alert_id)
        ).first()
        if found is None:
            raise NotFound(f"alert_id: {alert_id} is not an alert", field="alert_id")
        moved = conn.execute(
            update(a)
            .where(a.c.alert_id == alert_id, a.c.status == "open")
            .values(status=verdict, reviewed_by=by, reviewed_at=now, review_note=said)
        ).rowcount
        if moved != 1:  # reviewed already (perhaps a moment ago, by someone else)
            raise Conflict(f"alert_id: {alert_id} was reviewed already", field="alert_id")
        audit.append(
            conn,
            [
                audit.Entry(
                    kind="conduct_review",
                    subject=found.loan_id or alert_id,
                    rulebook="",
                    payload={"alert_id": alert_id, "verdict": verdict, "by": by, "note": said},
                    at=now,
                )
            ],
        )


@dataclass(frozen=True)
class Breaches:
    """Confirmed conduct breaches by collector and by agency, most first."""

    by_collector: list[tuple[str, int]]
    by_agency: list[tuple[str, int]]


def breaches_by(app: App) -> Breaches:
    require_current(app)
    a = t.conduct_alert
    confirmed = a.c.status == "confirmed"
    with app.engine.connect() as conn:
        people = conn.execute(
            select(a.c.collector_id, func.count())
            .where(confirmed, a.c.collector_id.is_not(None))
            .group_by(a.c.collector_id)
            .order_by(func.count().desc(), a.c.collector_id)
        ).all()
        agencies = conn.execute(
            select(a.c.agency, func.count())
            .where(confirmed, a.c.agency.is_not(None))
            .group_by(a.c.agency)
            .order_by(func.count().desc(), a.c.agency)
        ).all()
    return Breaches([(str(c), int(n)) for c, n in people], [(str(g), int(n)) for g, n in agencies])
