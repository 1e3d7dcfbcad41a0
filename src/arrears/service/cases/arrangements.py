"""Repayment arrangements: waivers (减免) of penalty, fees or interest, extensions 展期,
instalment plans 分期还款计划 and settlements (terms and effects: :mod:`.restructure`).

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

import math
import uuid
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from arrears.bootstrap import App
from arrears.domain.arranged import ArrangementState
from arrears.domain.codec import statement_to_dict
from arrears.domain.delinquency import statement
from arrears.domain.ledger import Loan, Waiver
from arrears.service.books.bands import bands_for
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.policy import Policy, load_policy
from arrears.service.cases.promises import supersede
from arrears.service.cases.restructure import IN_FORCE, KINDS, Draft, draft, effect
from arrears.service.errors import Invalid, NotFound
from arrears.service.outreach.pending import ArrangementAgreed, after_commit
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.repository import AGREED, LoanRepository
from arrears.store.repository import NotFound as Missing

COMPONENTS = ("penalty", "fee", "interest")


@dataclass(frozen=True)
class Proposal:
    arrangement_id: str
    status: str  # active | pending_approval
    effect: dict[str, Any]


def _owed(st: dict[str, Any]) -> dict[str, int]:
    """What is unpaid of each waivable component (past due and due today)."""
    o, d = st["overdue"], st["due_today"]
    return {
        "penalty": int(o["penalty"]),
        "fee": int(o["fee"]) + int(d["fee"]),
        "interest": int(o["interest"]) + int(d["interest"]),
    }


def preview_waiver(app: App, loan_id: str, amounts: dict[str, int]) -> dict[str, Any]:
    """The effect of waiving ``amounts`` today: before, after, saving and cost; nothing is
    written. Refuses a waiver of more than is unpaid."""
    require_current(app)
    bad = [k for k in amounts if k not in COMPONENTS]
    if bad:
        raise Invalid(f"{bad[0]}: only {', '.join(COMPONENTS)} can be waived", field=str(bad[0]))
    if any(v < 0 for v in amounts.values()) or not any(amounts.values()):
        raise Invalid(
            "amounts: give what to waive (fen, none negative, one above 0)", field="amounts"
        )
    today = app.today()
    before = statement_for_loan(app, loan_id, today)
    owed = _owed(before)
    for k, v in amounts.items():
        if v > owed[k]:
            raise Invalid(f"{k}: {v} is more than the {owed[k]} unpaid", field=str(k))
    with app.engine.connect() as conn:
        loan = LoanRepository(conn).get(loan_id)
    trial = Waiver("preview", today, **{k: amounts.get(k, 0) for k in COMPONENTS})
    bands = bands_for(app.settings)
    after = statement_to_dict(
        statement(
            replace(loan, waivers=(*loan.waivers, trial)),
            today,
            buckets=bands.buckets,
            stages=bands.stages,
        )
    )
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
    rules = rules_of(app, loan_id)
    limits = rules.waiver.get(role)
    if limits is None:
        return 0
    owed = _owed(statement_for_loan(app, loan_id, app.today()))[component]
    share: Decimal = getattr(limits, component)
    return math.floor(owed * share)


def rules_of(app: App, loan_id: str) -> Any:
    return policy_of(app, loan_id).approval


def policy_of(app: App, loan_id: str) -> Policy:
    with app.engine.connect() as conn:
        pid = conn.execute(
            select(t.loan.c.portfolio_id).where(t.loan.c.loan_id == loan_id)
        ).scalar()
    if pid is None:
        raise NotFound(f"loan_id: {loan_id} is not in the store", field="loan_id")
    return load_policy(app.settings.collections_policy_file).for_portfolio(pid)


def loan_of(app: App, loan_id: str) -> Loan:
    with app.engine.connect() as conn:
        try:
            return LoanRepository(conn).get(loan_id)
        except Missing as exc:
            raise NotFound(f"loan_id: {loan_id} is not in the store", field="loan_id") from exc


def _draft(app: App, loan_id: str, kind: str, ask: dict[str, Any]) -> tuple[Draft, dict[str, Any]]:
    require_current(app)
    policy = policy_of(app, loan_id)
    loan = loan_of(app, loan_id)
    today = app.today()
    bands = bands_for(app.settings)
    before = statement(loan, today, buckets=bands.buckets, stages=bands.stages)
    d = draft(kind, ask, loan, before, today, policy)
    return d, effect(loan, d, today, bands, before)


def preview(app: App, loan_id: str, kind: str, ask: dict[str, Any]) -> dict[str, Any]:
    """The effect of an arrangement asked for today; nothing is written."""
    if kind == "waiver":
        return preview_waiver(app, loan_id, ask)
    return _draft(app, loan_id, kind, ask)[1]


def _alone(rules: Any, role: str, d: Draft) -> bool:
    limits = rules.alone.get(role)
    if limits is None:
        return False
    if d.kind == "extension":
        return bool(d.size <= limits.extension_days)
    if d.kind == "plan":
        return bool(d.size <= limits.plan_parts)
    return bool(d.size <= limits.settlement_discount)


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
    return propose(app, loan_id, "waiver", amounts, by=by, role=role, reason=reason)


def propose(
    app: App,
    loan_id: str,
    kind: str,
    ask: dict[str, Any],
    *,
    by: str,
    role: str,
    reason: str,
) -> Proposal:
    """Propose an arrangement (waiver, extension, plan, settlement). Within ``role``'s own
    limits it is agreed at once; above them it waits for a second person's approval."""
    rules = rules_of(app, loan_id)
    roles = sorted(set(rules.waiver) | set(rules.alone))
    if role not in roles:
        raise Invalid(f"role: expected one of {', '.join(roles)}, got {role!r}", field="role")
    if not by:
        raise Invalid("by: the person proposing is named", field="by")
    if not reason.strip():
        raise Invalid("reason: say why (hardship, goodwill, complaint upheld ...)", field="reason")
    _no_waiting(app, loan_id)
    if kind == "waiver":
        eff = preview_waiver(app, loan_id, ask)
        alone = role in rules.waiver and _within(rules.waiver[role], eff)
        terms = eff["waive"]
    else:
        d, eff = _draft(app, loan_id, kind, ask)
        alone = _alone(rules, role, d)
        terms = d.terms
    arrangement_id = f"ar-{uuid.uuid4().hex[:16]}"
    now = app.clock()
    status = "active" if alone else "pending_approval"
    with app.engine.begin() as conn:
        conn.execute(
            insert(t.arrangement).values(
                arrangement_id=arrangement_id,
                loan_id=loan_id,
                kind=kind,
                status=status,
                starts_on=app.today(),
                ends_on=_ends_on(kind, terms),
                terms=audit.canonical(terms),
                effect=audit.canonical(eff),
                proposed_by=by,
                proposed_role=role,
                proposed_at=now,
                reason=reason,
                approved_by=by if alone else None,
                approved_at=now if alone else None,
            )
        )
        replaced = supersede(app, conn, loan_id, app.today(), kind, eff) if alone else []
        audit.record(
            conn,
            "arrangement_proposed",
            loan_id,
            now,
            {
                "arrangement_id": arrangement_id,
                "kind": kind,
                "by": by,
                "role": role,
                "status": status,
                "effect": eff,
                "superseded_promises": replaced,
            },
        )
        if alone and kind == "waiver":
            apply_waiver(conn, app, arrangement_id, loan_id, eff)
    if alone:
        after_commit(app, ArrangementAgreed(arrangement_id, kind, loan_id))
    return Proposal(arrangement_id, status, eff)


def _ends_on(kind: str, terms: dict[str, Any]) -> date | None:
    last = {"extension": "until", "settlement": "pay_by"}.get(kind)
    if last is not None:
        return date.fromisoformat(terms[last])
    if kind == "plan":
        return date.fromisoformat(terms["dues"][-1])
    return None


def _no_waiting(app: App, loan_id: str) -> None:
    ar = t.arrangement
    with app.engine.connect() as conn:
        waiting = conn.execute(
            select(ar.c.arrangement_id, ar.c.kind).where(
                ar.c.loan_id == loan_id, ar.c.status == "pending_approval"
            )
        ).first()
    if waiting is not None:
        raise Invalid(
            f"loan_id: {waiting.kind} {waiting.arrangement_id} is waiting for "
            "approval; approve or reject it first",
            field="loan_id",
        )


def apply_waiver(
    conn: Any, app: App, arrangement_id: str, loan_id: str, effect: dict[str, Any]
) -> None:
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
        )
    )


def review(app: App, day: date, loan_id: str | None = None) -> dict[str, int]:
    """Record what became of the agreed extensions, plans and settlements by the end of
    ``day``, as the replay decides it (completed, breached, kept, lapsed); each change is an
    audit entry (``arrangement_<status>``). Run by the cycle before each day (the active
    ones), and after a payment or a reversal on one loan (all of its agreed ones: a bounced
    payment puts a kept settlement back in force). Returns how many took each new status."""
    require_current(app)
    ar = t.arrangement
    q = select(ar.c.arrangement_id, ar.c.loan_id, ar.c.status).where(
        ar.c.kind.in_(KINDS), ar.c.starts_on <= day, ar.c.terms.is_not(None)
    )
    if loan_id is None:
        q = q.where(ar.c.status == "active")
    else:
        q = q.where(ar.c.loan_id == loan_id, ar.c.status.in_(AGREED))
    with app.engine.connect() as conn:
        rows = conn.execute(q).all()
        stored = {r.arrangement_id: r.status for r in rows}
        repo = LoanRepository(conn)
        changes: list[tuple[str, str, ArrangementState]] = []
        for lid in sorted({r.loan_id for r in rows}):
            for a in statement(repo.get(lid), day, explain=False).arrangements:
                now_status = "active" if a.status in IN_FORCE else a.status
                if a.arrangement_id in stored and stored[a.arrangement_id] != now_status:
                    changes.append((lid, now_status, a))
    counts: dict[str, int] = {}
    if not changes:
        return counts
    now = app.clock()
    with app.engine.begin() as conn:
        for _, status, a in changes:
            conn.execute(
                update(ar).where(ar.c.arrangement_id == a.arrangement_id).values(status=status)
            )
            counts[status] = counts.get(status, 0) + 1
        audit.append(
            conn,
            [
                audit.Entry(
                    kind=f"arrangement_{status}",
                    subject=lid,
                    rulebook="",
                    at=now,
                    payload={
                        "arrangement_id": a.arrangement_id,
                        "kind": a.kind,
                        "on": (a.on or day).isoformat(),
                        "missed": a.missed,
                    },
                )
                for lid, status, a in changes
            ],
        )
    return counts


def arrangements_of(app: App, loan_id: str) -> list[dict[str, Any]]:
    """A loan's arrangements, oldest first (every kind and status)."""
    require_current(app)
    ar = t.arrangement
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(ar).where(ar.c.loan_id == loan_id).order_by(ar.c.proposed_at, ar.c.starts_on)
        ).mappings()
        return [dict(r) for r in rows]
