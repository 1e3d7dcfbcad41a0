"""The second look at pending actions: each is judged again as the cycle would judge it now, and
cancelled, moved or left to send. The dispatcher asks before every message (:func:`recheck`).
The use cases of cases and the borrower's portal report an event (:data:`Event`: a payment
posted, a hold started, a promise made, an arrangement agreed, preferences changed) to
:func:`after_commit` once their transaction has committed; which actions each event reaches,
and the note it leaves, is said here once, so what they make pointless is cancelled before
anyone sends it."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, select, update

from arrears.bootstrap import App
from arrears.compliance import gate
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rulebook import load as load_rulebook
from arrears.cycle import snapshot
from arrears.cycle.book_delinquency import loan_from_rows
from arrears.cycle.scalar_engine import Account, History
from arrears.domain.codec import statement_to_dict
from arrears.domain.delinquency import statement
from arrears.service.books.bands import bands_for

#: the contact point each channel sends to (push goes to the borrower's app account)
from arrears.service.outreach.state import CANCELLED, Report
from arrears.store import tables as t
from arrears.store.db import as_utc
from arrears.strategy.expr import Lit, evaluate, truthy
from arrears.strategy.model import Step, Strategy
from arrears.strategy.model import load as load_strategy


@dataclass(frozen=True)
class Verdict:
    """What the second look decided for an action: send, cancel (with the rule) or move."""

    action_id: str
    outcome: str  # send | cancel | move
    rule: str | None = None
    move_to: datetime | None = None


class Judge:
    """Judges actions as the cycle would now, from a fresh read of their accounts."""

    def __init__(self, app: App, day: date, loan_ids: Sequence[str]) -> None:
        self.app = app
        self.snap = snapshot.from_store(app.engine, day, threads=2, loans=loan_ids)
        self.history = History(self.snap)
        self.bands = bands_for(app.settings)
        self.rows = {r["loan_id"]: (i, r) for i, r in enumerate(self.snap.loans.to_pylist())}
        self.books: dict[str, Rulebook] = {}
        self.accounts: dict[tuple[str, str], Account] = {}
        self.statements: dict[str, dict[str, Any]] = {}

    def account(self, loan_id: str, strategy: Strategy) -> Account | None:
        key = (loan_id, strategy.name)
        if key in self.accounts:
            return self.accounts[key]
        found = self.rows.get(loan_id)
        if found is None:
            return None
        idx, row = found
        row = {**row, "_idx": idx}
        loan = loan_from_rows(
            row,
            self.history.inst.get(idx, []),
            self.history.pays.get(idx, []),
            self.snap.events.get(loan_id, ()),
        )
        s = statement(loan, self.snap.as_of, buckets=self.bands.buckets, explain=False)
        self.statements[loan_id] = statement_to_dict(s)
        book = self.books.setdefault(row["rulebook"], load_rulebook(row["rulebook"]))
        acct = Account(row, s, self.history, self.snap, strategy, book)
        self.accounts[key] = acct
        return acct

    def judge(self, a: Any, strategy: Strategy, now: datetime) -> Verdict:
        acct = self.account(a.loan_id, strategy)
        if acct is None:
            return Verdict(a.action_id, "cancel", "dispatch.loan_gone")
        if acct.stage is None:
            rule = "dispatch.paid" if acct.s.total_due == 0 else "dispatch.left_collection"
            return Verdict(a.action_id, "cancel", rule)
        for sup in strategy.suppressions:
            if a.channel in sup.channels and truthy(evaluate(sup.when, acct.env)):
                return Verdict(a.action_id, "cancel", f"suppression.{sup.name}")
        step = step_of(strategy, a.step_id, a.channel)
        found = acct.refusals(step, now)
        if not found:
            return Verdict(a.action_id, "send")
        later = gate.earliest(acct.request(step, now), acct.book, found)
        if later is not None and later < as_utc(a.window_end):
            return Verdict(a.action_id, "move", found[0].rule, later)
        return Verdict(a.action_id, "cancel", found[0].rule)


def step_of(strategy: Strategy, step_id: str, channel: str) -> Step:
    for s in strategy.steps:
        if s.id == step_id:
            return s
    # the strategy changed since the plan was made: judge the action as a bare step
    return Step(
        id=step_id,
        stage="",
        segment="all",
        order=0,
        channel=channel,
        template=None,
        queue=None,
        pool=None,
        priority=Lit(0),
        when=None,
        on_days=(),
        every=None,
        from_day=None,
        to_day=None,
        experiment=None,
        arm=None,
        collectors=None,
    )


def strategies_of(app: App, conn: Connection, run_ids: set[int]) -> dict[int, Strategy]:
    cr = t.cycle_run
    rows = conn.execute(select(cr.c.run_id, cr.c.strategy).where(cr.c.run_id.in_(run_ids))).all()
    names = {r.run_id: r.strategy for r in rows}
    out = {}
    for run_id in run_ids:
        name = names.get(run_id) or app.settings.strategy
        try:
            out[run_id] = strategy_named(name)
        except Exception:  # the run's strategy is gone: the settings' one judges
            out[run_id] = strategy_named(app.settings.strategy)
    return out


@functools.lru_cache(maxsize=16)
def strategy_named(name: str) -> Strategy:
    return load_strategy(name)


def recheck(app: App, actions: Sequence[Any], now: datetime) -> list[Verdict]:
    """The second look at ``actions`` (plan_action rows) at ``now``."""
    if not actions:
        return []
    return list(judge_actions(app, actions, now)[0].values())


def apply_verdicts(
    app: App,
    conn: Connection,
    verdicts: Sequence[Verdict],
    worker: str | None,
    report: Report,
    note: str | None = None,
) -> None:
    """Cancel or move actions still planned (leased by ``worker`` when given); ``note`` says
    what prompted it (a payment's reversal restores what the payment cancelled)."""
    pa_ = t.plan_action
    for v in verdicts:
        if v.outcome == "send":
            continue
        cond = [pa_.c.action_id == v.action_id, pa_.c.status == "planned"]
        if worker is not None:
            cond.append(pa_.c.lease_owner == worker)
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if v.outcome == "cancel":
            values |= {"status": CANCELLED, "rule": v.rule, "last_error": note}
        else:
            assert v.move_to is not None
            # in UTC: SQLite would keep the wall-clock time of any other offset
            values |= {"window_start": as_utc(v.move_to), "last_error": f"moved by {v.rule}"}
        done = conn.execute(update(pa_).where(and_(*cond)).values(**values)).rowcount
        if not done:
            report.fenced += 1
            continue
        if v.outcome == "cancel":
            report.cancelled += 1
            report.cancelled_ids[v.action_id] = v.rule or ""
        else:
            report.moved += 1
        report.by_rule[v.rule or ""] += 1


def _look(
    app: App,
    note: str,
    *,
    loan_id: str | None = None,
    borrower_id: str | None = None,
    since: date | None = None,
    loan_ids: Sequence[str] = (),
) -> Report:
    """Judge a loan's (or a borrower's) pending actions of ``since`` (today) and later again
    now: those the event makes pointless or forbidden are cancelled, noting ``note``.
    ``claimed`` in the report: how many were judged."""
    pa_ = t.plan_action
    cond = [pa_.c.status == "planned", pa_.c.business_date >= (since or app.today())]
    if loan_id is not None:
        cond.append(pa_.c.loan_id == loan_id)
    if borrower_id is not None:
        cond.append(pa_.c.borrower_id == borrower_id)
    if loan_ids:
        cond.append(pa_.c.loan_id.in_(sorted(loan_ids)))
    with app.engine.connect() as conn:
        pending = conn.execute(select(pa_).where(*cond)).all()
    report = Report(claimed=len(pending))
    verdicts = recheck(app, pending, app.clock())
    with app.engine.begin() as conn:
        apply_verdicts(app, conn, verdicts, None, report, note=note)
    return report


# ------------------------------------------------------------------------------------------
# the events use cases report once their transaction has committed


@dataclass(frozen=True)
class PaymentPosted:
    """The loan's pending actions from the payment's date on."""

    payment_id: str
    loan_id: str
    paid_on: date


@dataclass(frozen=True)
class HoldStarted:
    """The borrower's pending actions (a hold on one debt still stops the person's contact
    under some rules, so all of them are judged)."""

    hold_id: str
    borrower_id: str


@dataclass(frozen=True)
class PromiseMade:
    group_id: str
    loan_id: str


@dataclass(frozen=True)
class ArrangementAgreed:
    """A waiver, extension, plan or settlement in force."""

    arrangement_id: str
    kind: str
    loan_id: str


@dataclass(frozen=True)
class PreferencesChanged:
    borrower_id: str


@dataclass(frozen=True)
class Placed:
    """Loans placed with an agency: the in-house plan stops working them (the strategy's
    ``placed_with_agency`` suppression)."""

    loan_ids: tuple[str, ...]


Event = PaymentPosted | HoldStarted | PromiseMade | ArrangementAgreed | PreferencesChanged | Placed


def after_commit(app: App, event: Event) -> Report:
    """What ``event`` makes pointless or forbidden among pending actions, cancelled now. Call
    it after the transaction that made the event has committed: the second look reads the
    store as it now is, in transactions of its own."""
    match event:
        case PaymentPosted(payment_id, loan_id, paid_on):
            return _look(app, f"after payment {payment_id}", loan_id=loan_id, since=paid_on)
        case HoldStarted(hold_id, borrower_id):
            return _look(app, f"after hold {hold_id}", borrower_id=borrower_id)
        case PromiseMade(group_id, loan_id):
            return _look(app, f"after promise {group_id}", loan_id=loan_id)
        case ArrangementAgreed(arrangement_id, kind, loan_id):
            return _look(app, f"after {kind} {arrangement_id}", loan_id=loan_id)
        case PreferencesChanged(borrower_id):
            return _look(app, "after the borrower's preferences", borrower_id=borrower_id)
        case Placed(loan_ids):
            return _look(app, "after placement with an agency", loan_ids=loan_ids)


def judge_actions(
    app: App, rows: Sequence[Any], now: datetime
) -> tuple[dict[str, Verdict], dict[str, dict[str, Any]]]:
    """Verdicts by action id, and the statements the judge computed (for rendering)."""
    with app.engine.connect() as conn:
        strategies = strategies_of(app, conn, {a.run_id for a in rows})
    verdicts: dict[str, Verdict] = {}
    statements: dict[str, dict[str, Any]] = {}
    by_day: dict[date, list[Any]] = {}
    for a in rows:
        by_day.setdefault(a.business_date, []).append(a)
    for day, group in by_day.items():
        judge = Judge(app, day, [a.loan_id for a in group])
        for a in group:
            verdicts[a.action_id] = judge.judge(a, strategies[a.run_id], now)
        statements |= judge.statements
    return verdicts, statements
