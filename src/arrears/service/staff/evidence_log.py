"""Evidence: record gate decisions, verify the chain, purge what is past retention."""

from __future__ import annotations

from datetime import UTC, datetime, time
from datetime import date as Date
from typing import Any

from arrears.bootstrap import App
from arrears.compliance.facts import Decision, Request
from arrears.compliance.rulebook import load
from arrears.compliance.wire import decision_to_dict
from arrears.service.store import require_current
from arrears.store import audit


def record_decision(app: App, request: dict[str, Any], req: Request, decision: Decision) -> int:
    """Append one gate decision (the request as given and the decision) to the evidence log."""
    require_current(app)
    entry = audit.Entry(
        kind="gate_decision",
        subject=req.attempt.person_id,
        rulebook=decision.rulebook,
        payload={"request": request, "decision": decision_to_dict(decision)},
        at=app.clock(),
    )
    with app.engine.begin() as conn:
        return audit.append(conn, [entry])


def verify_log(app: App) -> audit.Verification:
    require_current(app)
    with app.engine.connect() as conn:
        return audit.verify(conn)


def _retention(rulebook: str) -> int:
    try:
        return load(rulebook).retention_years
    except ValueError:
        return 3  # an unknown rulebook keeps the longest shipped retention


def purge_log(app: App, before: Date) -> int:
    """Remove entries dated before ``before`` that are past their rulebook's retention."""
    require_current(app)
    cutoff = datetime.combine(before, time(0), tzinfo=UTC)
    with app.engine.begin() as conn:
        return audit.purge(conn, cutoff, _retention, app.clock())
