"""Repayment arrangements, starting with waivers (减免) of penalty, fees or interest.

Every proposal shows its effect before anything changes (:func:`preview_waiver`: the statement
now and as it would be, the saving to the borrower and the cost to the lender). A proposal
within the proposer's own limits (the policy's ``approval.waiver``: by default a collector up to
30% of the unpaid penalty; a supervisor all of it, all fees and 20% of the interest) takes effect
at once. Above them it waits for a second person (maker–checker): someone else, in an approving
role (``approval.approvers``). An accepted waiver is a ledger event the replay applies
(:class:`arrears.domain.ledger.Waiver`), so the statement, the cycle and the dispatcher all see
it, and the statement lists what was waived.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from arrears.bootstrap import App
from arrears.domain.codec import statement_to_dict
from arrears.domain.delinquency import statement
from arrears.domain.ledger import Waiver
from arrears.service.dispatch import second_look
from arrears.service.errors import ServiceError
from arrears.service.policy import load_policy
from arrears.service.statements import statement_for_loan
from arrears.service.store import require_current
from arrears.service.tables import bands_for
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.repository import LoanRepository

COMPONENTS = ("penalty", "fee", "interest")


@dataclass(frozen=True)
class Proposal:
    arrangement_id: str
    status: str  # active | pending_approval
    effect: dict[str, Any]


def _owed(st: dict[str, Any]) -> dict[str, int]:
    """What is unpaid of each waivable component (past due and due today)."""
    o, d = st["overdue"], st["due_today"]
    return {"penalty": int(o["penalty"]), "fee": int(o["fee"]) + int(d["fee"]),
            "interest": int(o["interest"]) + int(d["interest"])}  # fmt: skip


def preview_waiver(app: App, loan_id: str, amounts: dict[str, int]) -> dict[str, Any]:
    """The effect of waiving ``amounts`` today: before, after, saving and cost; nothing is
    written. Refuses a waiver of more than is unpaid."""
    require_current(app)
    bad = [k for k in amounts if k not in COMPONENTS]
    if bad:
        raise ServiceError(f"{bad[0]}: only {', '.join(COMPONENTS)} can be waived")
    if any(v < 0 for v in amounts.values()) or not any(amounts.values()):
        raise ServiceError("amounts: give what to waive (fen, none negative, one above 0)")
    today = app.today()
    before = statement_for_loan(app, loan_id, today)
    owed = _owed(before)
    for k, v in amounts.items():
        if v > owed[k]:
            raise ServiceError(f"{k}: {v} is more than the {owed[k]} unpaid")
    with app.engine.connect() as conn:
        loan = LoanRepository(conn).get(loan_id)
    trial = Waiver("preview", today, **{k: amounts.get(k, 0) for k in COMPONENTS})
    bands = bands_for(app.settings)
    after = statement_to_dict(statement(replace(loan, waivers=(*loan.waivers, trial)), today,
                                        buckets=bands.buckets, stages=bands.stages))  # fmt: skip
    saving = int(before["total_due"]) - int(after["total_due"])
    return {
        "as_of": today.isoformat(),
        "waive": {k: amounts.get(k, 0) for k in COMPONENTS},
        "share_of_unpaid": {
            k: str((Decimal(amounts.get(k, 0)) / owed[k]).quantize(Decimal("0.0001")))
            if owed[k]
            else "0"
            for k in COMPONENTS
        },
        "total_due_before": int(before["total_due"]),
        "total_due_after": int(after["total_due"]),
        "saving_to_borrower": saving,
        "cost_to_lender": saving,  # charges forgiven are income the lender gives up
        "dpd_after": after["dpd"],
    }


def _within(limits: Any, effect: dict[str, Any]) -> bool:
    shares = effect["share_of_unpaid"]
    return all(Decimal(shares[k]) <= getattr(limits, k) for k in COMPONENTS)


def largest_allowed(app: App, loan_id: str, role: str, component: str) -> int:
    """The most ``role`` may waive of ``component`` alone on ``loan_id`` today (fen)."""
    rules = _rules(app, loan_id)
    limits = rules.waiver.get(role)
    if limits is None:
        return 0
    owed = _owed(statement_for_loan(app, loan_id, app.today()))[component]
    share: Decimal = getattr(limits, component)
    return math.floor(owed * share)


def _rules(app: App, loan_id: str) -> Any:
    with app.engine.connect() as conn:
        pid = conn.execute(
            select(t.loan.c.portfolio_id).where(t.loan.c.loan_id == loan_id)
        ).scalar()
    if pid is None:
        raise ServiceError(f"loan_id: {loan_id} is not in the store")
    return load_policy(app.settings.collections_policy_file).for_portfolio(pid).approval


def propose_waiver(
    app: App,
    loan_id: str,
    amounts: dict[str, int],
    *,
    by: str,
    role: str,
    reason: str,
) -> Proposal:
    """Propose a waiver; it takes effect at once within ``role``'s limits, else it waits for a
    second person's approval."""
    rules = _rules(app, loan_id)
    if role not in rules.waiver:
        raise ServiceError(f"role: expected one of {', '.join(rules.waiver)}, got {role!r}")
    if not by:
        raise ServiceError("by: the person proposing is named")
    if not reason.strip():
        raise ServiceError("reason: say why (hardship, goodwill, complaint upheld ...)")
    effect = preview_waiver(app, loan_id, amounts)
    alone = _within(rules.waiver[role], effect)
    arrangement_id = f"ar-{uuid.uuid4().hex[:16]}"
    now = app.clock()
    with app.engine.begin() as conn:
        conn.execute(
            insert(t.arrangement).values(
                arrangement_id=arrangement_id, loan_id=loan_id, kind="waiver",
                status="active" if alone else "pending_approval", starts_on=app.today(),
                terms=audit.canonical(effect["waive"]), effect=audit.canonical(effect),
                proposed_by=by, proposed_role=role, proposed_at=now, reason=reason,
                approved_by=by if alone else None, approved_at=now if alone else None,
            )
        )  # fmt: skip
        audit.append(conn, [audit.Entry(kind="arrangement_proposed", subject=loan_id,
                                        rulebook="", at=now,
                                        payload={"arrangement_id": arrangement_id,
                                                 "kind": "waiver", "by": by, "role": role,
                                                 "effect": effect})])  # fmt: skip
        if alone:
            _apply(conn, app, arrangement_id, loan_id, effect)
    if alone:
        second_look(app, loan_id=loan_id, note=f"after waiver {arrangement_id}")
    return Proposal(arrangement_id, "active" if alone else "pending_approval", effect)


def _apply(conn: Any, app: App, arrangement_id: str, loan_id: str, effect: dict[str, Any]) -> None:
    w = effect["waive"]
    conn.execute(
        insert(t.waiver).values(
            waiver_id=f"wv-{arrangement_id}",
            loan_id=loan_id,
            on=app.today(),
            penalty=w["penalty"],
            fee=w["fee"],
            interest=w["interest"],
            arrangement_id=arrangement_id,
        )  # fmt: skip
    )


def approve(app: App, arrangement_id: str, *, by: str, role: str) -> Proposal:
    """The second person's approval: never the proposer, always an approving role. The effect
    is computed again now (the account may have changed since the proposal)."""
    require_current(app)
    ar = t.arrangement
    with app.engine.connect() as conn:
        row = conn.execute(select(ar).where(ar.c.arrangement_id == arrangement_id)).first()
    if row is None:
        raise ServiceError(f"arrangement_id: {arrangement_id} is not in the store")
    if row.status != "pending_approval":
        raise ServiceError(f"arrangement_id: {arrangement_id} is {row.status}, not waiting")
    if by == row.proposed_by:
        raise ServiceError(f"by: {by} proposed it; a second person must approve (maker-checker)")
    rules = _rules(app, row.loan_id)
    if role not in rules.approvers:
        raise ServiceError(
            f"role: a {role} cannot approve; approvers: {', '.join(rules.approvers)}"
        )
    effect = preview_waiver(app, row.loan_id, json.loads(row.terms))
    now = app.clock()
    with app.engine.begin() as conn:
        done = conn.execute(
            update(ar).where(ar.c.arrangement_id == arrangement_id,
                             ar.c.status == "pending_approval")
            .values(status="active", approved_by=by, approved_at=now,
                    effect=audit.canonical(effect))
        ).rowcount  # fmt: skip
        if done != 1:
            raise ServiceError(f"arrangement_id: {arrangement_id} was decided meanwhile")
        _apply(conn, app, arrangement_id, row.loan_id, effect)
        audit.append(conn, [audit.Entry(kind="arrangement_approved", subject=row.loan_id,
                                        rulebook="", at=now,
                                        payload={"arrangement_id": arrangement_id, "by": by,
                                                 "role": role})])  # fmt: skip
    second_look(app, loan_id=row.loan_id, note=f"after waiver {arrangement_id}")
    return Proposal(arrangement_id, "active", effect)


def reject(app: App, arrangement_id: str, *, by: str, reason: str) -> None:
    require_current(app)
    ar = t.arrangement
    now = app.clock()
    with app.engine.begin() as conn:
        done = conn.execute(
            update(ar).where(ar.c.arrangement_id == arrangement_id,
                             ar.c.status == "pending_approval")
            .values(status="rejected", approved_by=by, approved_at=now, reason=reason)
        ).rowcount  # fmt: skip
        if done != 1:
            raise ServiceError(f"arrangement_id: {arrangement_id} is not waiting for approval")
