"""What a borrower may arrange alone in the portal, and the arranging: a promise to pay, an
extension, an instalment plan, or a hardship request. The limits are the portfolio's policy;
an extension or a plan within the ``api`` role's automatic limits (``approval.alone``) is
agreed at once, one above them waits for a person's approval (maker-checker). A hardship
request holds collection (kind ``hardship``: where the rulebook says so, no penalty accrues
while it is in force) for ``portal.hardship_days`` while a person reviews it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases import arrangements
from arrears.service.cases.hold_records import start_hold
from arrears.service.cases.policy import Policy, load_policy
from arrears.service.cases.promises import Part, make_promise
from arrears.service.errors import Invalid
from arrears.store import tables as t

KINDS = ("promise", "extension", "plan", "hardship")
ROLE = "api"  # the portal's automatic limits are the integrations'


def _policy(app: App, loan_id: str) -> Policy:
    with app.engine.connect() as conn:
        pf = conn.execute(select(t.loan.c.portfolio_id).where(t.loan.c.loan_id == loan_id))
        portfolio = str(pf.scalar())
    return load_policy(app.settings.collections_policy_file).for_portfolio(portfolio)


def options(app: App, loan_id: str) -> dict[str, Any]:
    """Each kind's limits today, and whether the loan may have it at all."""
    today = app.today()
    st = statement_for_loan(app, loan_id, today)
    pol = _policy(app, loan_id)
    due, dpd = int(st["total_due"]), max(int(st["dpd"] or 0), 0)
    pr = pol.promise
    least = due if due <= pr.min_amount else max(pr.min_amount, math.ceil(due * pr.min_share))
    alone = pol.approval.alone.get(ROLE)
    ext, plan = pol.extension, pol.plan
    times = sum(1 for a in st["arrangements"] if a["kind"] == "extension")
    return {
        "total_due": due,
        "dpd": dpd,
        "today": today,
        "promise": {
            "ok": due > 0,
            "least": least,
            "most": due,
            "last": today + timedelta(days=pr.max_days_out),
        },
        "extension": {
            "ok": dpd >= ext.min_dpd and times < ext.max_times,
            "max_days": ext.max_days,
            "alone": alone.extension_days if alone else 0,
        },
        "plan": {
            "ok": dpd >= plan.min_dpd,
            "min_parts": plan.min_parts,
            "max_parts": plan.max_parts,
            "alone": alone.plan_parts if alone else 0,
            "last_first": today + timedelta(days=plan.first_within_days),
        },
        "hardship": {"ok": due > 0, "days": pol.portal.hardship_days},
    }


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"{field}: expected a date (YYYY-MM-DD), got {value!r}", field=str(field)
        ) from None


def _whole(value: str, field: str) -> int:
    if not value.strip().isdigit():
        raise Invalid(f"{field}: expected a whole number, got {value!r}", field=str(field))
    return int(value)


def to_fen(value: str, field: str) -> int:
    """An amount typed in yuan (up to two decimals) in fen."""
    text = value.strip().replace(",", "")
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or len(frac) > 2 or (frac and not frac.isdigit()):
        raise Invalid(
            f"{field}: expected an amount such as 1234.56, got {value!r}", field=str(field)
        )
    return int(whole) * 100 + int(frac.ljust(2, "0") or 0)


def ask_of(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The terms a form asks for, checked for shape (the policy checks the rest)."""
    if kind == "promise":
        return {
            "due_on": _day(form.get("due_on", ""), "due_on"),
            "amount": to_fen(form.get("amount", ""), "amount"),
        }
    if kind == "extension":
        return {"days": _whole(form.get("days", ""), "days")}
    if kind == "plan":
        return {
            "parts": _whole(form.get("parts", ""), "parts"),
            "first": _day(form.get("first", ""), "first").isoformat(),
        }
    if kind == "hardship":
        what = form.get("what", "").strip()
        if len(what) < 5:
            raise Invalid("what: tell us in a few words what happened", field="what")
        return {"what": what[:2000]}
    raise Invalid(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}", field="kind")


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: str  # promised | active | pending_approval | hardship
    ref: str
    effect: dict[str, Any] | None


def preview(app: App, loan_id: str, kind: str, ask: dict[str, Any]) -> dict[str, Any] | None:
    """What an extension or a plan would do (None for a promise or a hardship request,
    whose effect the page says in words); refuses what the policy does not allow."""
    if kind in ("extension", "plan"):
        effect = arrangements.preview(app, loan_id, kind, ask)
        pol = _policy(app, loan_id).approval.alone.get(ROLE)
        size = ask["days"] if kind == "extension" else ask["parts"]
        limit = (pol.extension_days if kind == "extension" else pol.plan_parts) if pol else 0
        return {**effect, "needs_approval": size > limit}
    if kind == "promise":
        today = app.today()
        opts = options(app, loan_id)["promise"]
        if not today <= ask["due_on"] <= opts["last"]:
            raise Invalid(f"due_on: between {today} and {opts['last']}", field="due_on")
        if not opts["least"] <= ask["amount"] <= opts["most"]:
            raise Invalid(f"amount: between {opts['least']} and {opts['most']} fen", field="amount")
    return None


def arrange(app: App, borrower_id: str, loan_id: str, kind: str, ask: dict[str, Any]) -> Outcome:
    effect = preview(app, loan_id, kind, ask)
    if kind == "promise":
        ids = make_promise(
            app, loan_id, [Part(ask["due_on"], ask["amount"])], source="portal", made_by=borrower_id
        )
        return Outcome(kind, "promised", ids[0], None)
    if kind == "hardship":
        days = _policy(app, loan_id).portal.hardship_days
        hold = start_hold(
            app,
            "hardship",
            loan_id=loan_id,
            borrower_id=borrower_id,
            ends_at=app.clock() + timedelta(days=days),
            reason=f"hardship request (portal): {ask['what']}",
            by=f"portal:{borrower_id}",
        )
        return Outcome(kind, "hardship", hold, None)
    done = arrangements.propose(
        app,
        loan_id,
        kind,
        ask,
        by=f"portal:{borrower_id}",
        role=ROLE,
        reason="asked by the borrower in the portal",
    )
    return Outcome(kind, done.status, done.arrangement_id, effect)
