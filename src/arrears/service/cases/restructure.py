"""Extensions 展期, instalment plans 分期还款计划 and settlements: their terms under the
portfolio's rules, and their effect before anyone accepts them.

A request (what the collector or the borrower asks for: a new date, a number of parts, an
amount) becomes *terms* (what the ledger event needs: the dates, the fee, the rate) under the
portfolio's policy (``extension``, ``plan``, ``settlement`` in ``ARREARS_COLLECTIONS_POLICY_FILE``).
The effect is computed by replaying the loan with and without the trial event:

* ``schedule``: what the borrower is to pay, when (the moved instalments, the plan's parts,
  the settlement amount);
* ``total_cost``: the sum of it;
* ``baseline``: the same debt without the arrangement — the covered instalments as they would
  stand on the arrangement's last date with nothing paid (penalty included), or for a
  settlement the payoff today (everything due plus the principal not yet due);
* ``saving_to_borrower`` = baseline − total cost (negative: the arrangement costs more, e.g. an
  extension's fee and interest above the penalty it saves); ``cost_to_lender``: the same for an
  extension or a plan (penalty forgone net of fees), the discount for a settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from arrears.domain.delinquency import InstalmentState, Statement, statement
from arrears.domain.ledger import Extension, LedgerError, Loan, Plan, Settlement
from arrears.domain.money import round_half_up
from arrears.domain.schedule import add_months
from arrears.service.books.bands import Bands
from arrears.service.cases.policy import Policy
from arrears.service.errors import Invalid, LimitExceeded

KINDS = ("extension", "plan", "settlement")
IN_FORCE = ("in_force", "open")


@dataclass(frozen=True)
class Draft:
    """Terms ready for the ledger, and the sizes the approval limits are judged on."""

    kind: str
    terms: dict[str, Any]
    event: Extension | Plan | Settlement
    #: extension: days; plan: parts; settlement: the discount's share of the payoff
    size: Decimal


def owes(i: InstalmentState) -> int:
    """What an instalment still asks for: its unpaid amount and unpaid penalty."""
    penalty = i.penalty_accrued + i.penalty_carried - i.penalty_paid - i.waived_penalty
    return i.unpaid + penalty - i.moved_penalty


def _date(value: object, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise Invalid(
            f"{field}: expected a date YYYY-MM-DD, got {value!r}", field=str(field)
        ) from exc


def _int(value: object, field: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(f"{field}: expected a whole number, got {value!r}", field=str(field))
    try:
        n = int(value)
    except ValueError as exc:
        raise Invalid(f"{field}: expected a whole number, got {value!r}", field=str(field)) from exc
    if n < low:
        raise Invalid(f"{field}: must be at least {low}, got {n}", field=str(field))
    return n


def _common(before: Statement, min_dpd: int, kind: str) -> None:
    live = [a for a in before.arrangements if a.status in IN_FORCE]
    if live:
        a = live[0]
        raise Invalid(
            f"loan_id: {a.kind} {a.arrangement_id} is in force; one at a time", field="loan_id"
        )
    if before.dpd is None or before.dpd < min_dpd:
        dpd = "settled" if before.dpd is None else f"DPD {before.dpd}"
        raise Invalid(
            f"loan_id: a {kind} needs DPD >= {min_dpd}; the loan is {dpd}", field="loan_id"
        )


def draft(
    kind: str, ask: dict[str, Any], loan: Loan, before: Statement, today: date, policy: Policy
) -> Draft:
    """Terms for ``ask`` under ``policy``; refuses what the portfolio does not allow."""
    if kind == "extension":
        return _extension(ask, loan, before, today, policy)
    if kind == "plan":
        return _plan(ask, loan, before, today, policy)
    if kind == "settlement":
        return _settlement(ask, loan, before, today, policy)
    raise Invalid(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}", field="kind")


def _extension(
    ask: dict[str, Any], loan: Loan, before: Statement, today: date, policy: Policy
) -> Draft:
    rules = policy.extension
    _common(before, rules.min_dpd, "extension")
    until = _date(ask["until"], "until") if "until" in ask else None
    if until is None:
        until = today + timedelta(days=_int(ask.get("days"), "days", 1))
    days = (until - today).days
    if days < 1 or days > rules.max_days:
        raise LimitExceeded(
            f"until: must be 1 to {rules.max_days} days after {today}, got {until}", field="until"
        )
    done = sum(1 for a in before.arrangements if a.kind == "extension")
    if done >= rules.max_times:
        raise LimitExceeded(
            f"loan_id: {done} extension(s) already; the portfolio allows {rules.max_times}",
            field="loan_id",
        )
    moved = sum(i.unpaid for i in before.instalments if i.due_date <= today and i.unpaid > 0)
    fee = round_half_up(Fraction(moved) * Fraction(rules.fee_share))
    rate = loan.annual_rate if rules.rate is None else rules.rate
    terms = {"until": until.isoformat(), "fee": fee, "rate": str(rate)}
    return Draft("extension", terms, Extension("trial", today, until, fee, rate), Decimal(days))


def _plan(ask: dict[str, Any], loan: Loan, before: Statement, today: date, policy: Policy) -> Draft:
    rules = policy.plan
    _common(before, rules.min_dpd, "plan")
    parts = _int(ask.get("parts"), "parts", 1)
    if not rules.min_parts <= parts <= rules.max_parts:
        raise LimitExceeded(
            f"parts: {rules.min_parts} to {rules.max_parts}, got {parts}", field="parts"
        )
    first = _date(ask["first"], "first") if ask.get("first") else today + timedelta(days=7)
    if not today < first <= today + timedelta(days=rules.first_within_days):
        raise Invalid(
            f"first: must be 1 to {rules.first_within_days} days after {today}", field="first"
        )
    whole = bool(ask.get("whole_balance", False))
    if whole and not rules.whole_balance:
        raise Invalid(
            "whole_balance: the portfolio restructures the overdue amount only",
            field="whole_balance",
        )
    if before.overdue.principal + before.overdue.interest + before.overdue.fee < parts:
        raise Invalid("loan_id: nothing contractual is overdue to restructure", field="loan_id")
    dues = tuple(add_months(first, k) for k in range(parts))
    covered = before.total_due
    if whole:
        covered += sum(i.unpaid for i in before.instalments if i.due_date > today)
    fee = round_half_up(Fraction(covered) * Fraction(rules.fee_share))
    terms = {
        "dues": [d.isoformat() for d in dues],
        "whole_balance": whole,
        "fee": fee,
        "breach_after": rules.breach_after,
        "grace_days": rules.grace_days,
    }
    event = Plan("trial", today, dues, whole, fee, rules.breach_after, rules.grace_days)
    return Draft("plan", terms, event, Decimal(parts))


def payoff(before: Statement, today: date) -> int:
    """Everything due today plus the principal not yet due."""
    later = sum(
        i.principal - i.paid_principal - i.moved_principal
        for i in before.instalments
        if i.due_date > today
    )
    return before.total_due + later


def _settlement(
    ask: dict[str, Any], loan: Loan, before: Statement, today: date, policy: Policy
) -> Draft:
    rules = policy.settlement
    _common(before, rules.min_dpd, "settlement")
    amount = _int(ask.get("amount"), "amount", 1)
    pay_by = _date(ask.get("pay_by"), "pay_by")
    if not today <= pay_by <= today + timedelta(days=rules.max_days):
        raise LimitExceeded(
            f"pay_by: must be {today} to {rules.max_days} days after it", field="pay_by"
        )
    full = payoff(before, today)
    if amount > full:
        raise Invalid(f"amount: {amount} is more than the payoff {full}", field="amount")
    discount = Decimal(full - amount) / Decimal(full)
    if discount > rules.max_discount:
        least = full - int(Decimal(full) * rules.max_discount)
        raise LimitExceeded(
            f"amount: the portfolio forgives at most {rules.max_discount} of the "
            f"payoff {full}: at least {least}",
            field="amount",
        )
    terms = {"amount": amount, "pay_by": pay_by.isoformat()}
    return Draft(
        "settlement",
        terms,
        Settlement("trial", today, amount, pay_by),
        discount.quantize(Decimal("0.0001")),
    )


def event_for(kind: str, arrangement_id: str, on: date, terms: dict[str, Any]) -> Any:
    """The ledger event of stored terms, agreed on ``on``."""
    from arrears.store.audit import canonical
    from arrears.store.repository import arrangement_event

    try:
        return arrangement_event(kind, arrangement_id, on, canonical(terms))
    except LedgerError as exc:
        raise Invalid(f"terms: {exc} (agreed on {on})", field="terms") from exc


def effect(
    loan: Loan, d: Draft, today: date, bands: Bands, before: Statement | None = None
) -> dict[str, Any]:
    """What ``d`` would do, from the replay with and without it."""
    kw = {"buckets": bands.buckets, "stages": bands.stages}
    if before is None:
        before = statement(loan, today, **kw)  # type: ignore[arg-type]
    after = statement(loan.with_events([d.event]), today, **kw)  # type: ignore[arg-type]
    ev = d.event
    if isinstance(ev, Settlement):
        schedule: list[dict[str, Any]] = [{"due_date": ev.pay_by.isoformat(), "amount": ev.amount}]
        baseline = payoff(before, today)
        total = ev.amount
    else:
        mine = [i for i in after.instalments if i.arrangement_id == "trial"]
        if isinstance(ev, Extension):
            covered = {i.seq for i in mine}
            last = ev.until
        else:
            covered = {
                i.seq
                for i in after.instalments
                if i.moved_principal + i.moved_interest + i.moved_fee + i.moved_penalty > 0
            }
            last = ev.dues[-1]
        schedule = [
            {
                "due_date": i.due_date.isoformat(),
                "amount": owes(i),
                "principal": i.principal - i.paid_principal,
                "interest": i.interest - i.paid_interest - i.waived_interest,
                "fee": i.fee - i.paid_fee - i.waived_fee,
                "penalty": owes(i) - i.unpaid,
            }
            for i in mine
        ]
        total = sum(int(s["amount"]) for s in schedule)
        then = statement(loan, last, **kw)  # type: ignore[arg-type]
        baseline = sum(owes(i) for i in then.instalments if i.seq in covered)
    saving = baseline - total
    if isinstance(ev, Settlement):
        payments = [{**schedule[0], "arranged": True}]
    else:  # every payment left to make: the arrangement's and the regular instalments after it
        payments = [
            {"due_date": i.due_date.isoformat(), "amount": owes(i),
             "arranged": i.arrangement_id == "trial"}
            for i in sorted(after.instalments, key=lambda i: (i.due_date, i.seq))
            if owes(i) > 0
        ]  # fmt: skip
    return {
        "kind": d.kind,
        "as_of": today.isoformat(),
        "terms": d.terms,
        "schedule": schedule,
        "payments": payments,
        "total_cost": total,
        "baseline": baseline,
        "saving_to_borrower": saving,
        "cost_to_lender": saving,
        "total_due_before": before.total_due,
        "total_due_after": after.total_due,
        "dpd_before": before.dpd,
        "dpd_after": after.dpd,
        "stage_after": after.stage,
    }
