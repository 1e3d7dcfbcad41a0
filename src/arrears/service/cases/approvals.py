"""Four eyes on arrangements above a role's limits: the waiting proposal is approved or rejected
by a second person (never the proposer) of an approving role, after its effect is worked out
again on the loan as it now is; both are recorded in the evidence log, and an approval puts
the arrangement in force at once."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from arrears.bootstrap import App
from arrears.domain.delinquency import statement
from arrears.service.books.bands import bands_for
from arrears.service.cases.arrangements import (
    Proposal,
    apply_waiver,
    loan_of,
    preview_waiver,
    rules_of,
)
from arrears.service.cases.promises import supersede
from arrears.service.cases.restructure import IN_FORCE, Draft, effect, event_for
from arrears.service.errors import Conflict, Forbidden, Invalid, NotFound
from arrears.service.outreach.pending import ArrangementAgreed, after_commit
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t


def effect_again(app: App, row: Any) -> dict[str, Any]:
    """The effect of a waiting proposal as it would be agreed today."""
    terms = json.loads(row.terms)
    if row.kind == "waiver":
        return preview_waiver(app, row.loan_id, terms)
    loan = loan_of(app, row.loan_id)
    today = app.today()
    bands = bands_for(app.settings)
    before = statement(loan, today, buckets=bands.buckets, stages=bands.stages)
    live = [a for a in before.arrangements if a.status in IN_FORCE]
    if live:
        raise Conflict(
            f"arrangement_id: {live[0].kind} {live[0].arrangement_id} came into force meanwhile",
            field="arrangement_id",
        )
    ev = event_for(row.kind, "trial", today, terms)
    return effect(loan, Draft(row.kind, terms, ev, Decimal(0)), today, bands, before)


def waiting(app: App, arrangement_id: str, by: str, role: str, verb: str) -> Any:
    """The proposal a second person may ``verb`` (approve or reject): waiting, not theirs
    (maker-checker), and they in an approving role."""
    require_current(app)
    ar = t.arrangement
    with app.engine.connect() as conn:
        row = conn.execute(select(ar).where(ar.c.arrangement_id == arrangement_id)).first()
    if row is None:
        raise NotFound(
            f"arrangement_id: {arrangement_id} is not in the store", field="arrangement_id"
        )
    if row.status != "pending_approval":
        raise Conflict(
            f"arrangement_id: {arrangement_id} is {row.status}, not waiting", field="arrangement_id"
        )
    if by == row.proposed_by:
        must = "approve" if verb == "approve" else "decide"
        raise Invalid(
            f"by: {by} proposed it; a second person must {must} (maker-checker)", field="by"
        )
    rules = rules_of(app, row.loan_id)
    if role not in rules.approvers:
        raise Forbidden(
            f"role: a {role} cannot {verb}; approvers: {', '.join(rules.approvers)}", field="role"
        )
    return row


def approve(app: App, arrangement_id: str, *, by: str, role: str) -> Proposal:
    """The second person's approval: never the proposer, always an approving role. The effect
    is computed again now (the account may have changed since the proposal), and the
    arrangement is agreed as of today."""
    ar = t.arrangement
    row = waiting(app, arrangement_id, by, role, "approve")
    eff = effect_again(app, row)
    now = app.clock()
    with app.engine.begin() as conn:
        done = conn.execute(
            update(ar)
            .where(ar.c.arrangement_id == arrangement_id, ar.c.status == "pending_approval")
            .values(
                status="active",
                approved_by=by,
                approved_at=now,
                starts_on=app.today(),
                effect=audit.canonical(eff),
            )
        ).rowcount
        if done != 1:
            raise Conflict(
                f"arrangement_id: {arrangement_id} was decided meanwhile", field="arrangement_id"
            )
        if row.kind == "waiver":
            apply_waiver(conn, app, arrangement_id, row.loan_id, eff)
        replaced = supersede(app, conn, row.loan_id, app.today(), row.kind, eff)
        audit.record(
            conn,
            "arrangement_approved",
            row.loan_id,
            now,
            {
                "arrangement_id": arrangement_id,
                "by": by,
                "role": role,
                "kind": row.kind,
                "superseded_promises": replaced,
            },
        )
    after_commit(app, ArrangementAgreed(arrangement_id, row.kind, row.loan_id))
    return Proposal(arrangement_id, "active", eff)


def reject(app: App, arrangement_id: str, *, by: str, role: str, reason: str) -> None:
    """The second person's refusal, under the same four-eyes rule as an approval (never the
    proposer, always an approving role), recorded in the evidence log."""
    ar = t.arrangement
    row = waiting(app, arrangement_id, by, role, "reject")
    now = app.clock()
    with app.engine.begin() as conn:
        done = conn.execute(
            update(ar)
            .where(ar.c.arrangement_id == arrangement_id, ar.c.status == "pending_approval")
            .values(status="rejected", approved_by=by, approved_at=now, reason=reason)
        ).rowcount
        if done != 1:
            raise Conflict(
                f"arrangement_id: {arrangement_id} was decided meanwhile", field="arrangement_id"
            )
        audit.record(
            conn,
            "arrangement_rejected",
            row.loan_id,
            now,
            {
                "arrangement_id": arrangement_id,
                "by": by,
                "role": role,
                "kind": row.kind,
                "reason": reason,
            },
        )
