"""The scalar account engine: one account at a time, through the domain and the real compliance
gate. Simple on purpose, and used in production as well as in tests:

* **in production** its :class:`Account` is how one account is judged now: the dispatcher's
  second look before every message and after every payment, hold or promise
  (:mod:`arrears.service.outreach.pending`), and the console's "may I call now?"
  (:mod:`arrears.service.outreach.call_state`);
* **in tests and benchmarks** :func:`reference_plan` is the oracle the vectorised cycle is held
  equal to (action for action, on random portfolios) and the baseline of ``scripts/bench
  cycle``.

Each account: the statement by :func:`arrears.domain.delinquency.statement`; the attributes
from the snapshot's rows; the segment and steps by the scalar expression evaluator; the first
suppression that applies; then, for each remaining action, :func:`arrears.compliance.gate
.violations` on an attempt at the opening of the action's window, with the account's history as
events. Queues and pools are then cut to capacity by priority.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from arrears.compliance import gate
from arrears.compliance.facts import Attempt, Event, Person, Request, Violation
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rulebook import load as load_rulebook
from arrears.compliance.rules import holds as holds_rule
from arrears.cycle.accounts import bucket, local_instant, parse_window, send_window, share_paid
from arrears.cycle.book_delinquency import loan_from_rows
from arrears.cycle.draws import draws
from arrears.cycle.plan import CONTACT, MEDIUM, PERSON_HOLDS, POINT_KIND, SHIFT
from arrears.cycle.snapshot import PLACEMENT, WAIVER, Snapshot
from arrears.domain.delinquency import BandTable, Statement, statement
from arrears.ids import action_id
from arrears.strategy.expr import evaluate, truthy
from arrears.strategy.model import ALL_SEGMENTS, NONE, Step, Strategy

MIDNIGHT = datetime.min.time()


def _group(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return out


class History:
    """The snapshot's activity tables, grouped for one-account-at-a-time lookups."""

    def __init__(self, snap: Snapshot) -> None:
        self.inst = _group(snap.instalments.to_pylist(), "loan_idx")
        self.pays = _group(snap.payments.to_pylist(), "loan_idx")
        self.borrowers = {r["borrower_id"]: r for r in snap.borrowers.to_pylist()}
        self.points = _group(snap.points.to_pylist(), "borrower_id")
        self.contacts = _group(snap.contacts.to_pylist(), "borrower_id")
        self.promises = _group(snap.promises.to_pylist(), "loan_id")
        self.holds = _group(snap.holds.to_pylist(), "borrower_id")
        held = snap.arrangements.to_pylist()
        self.plans = {r["loan_id"] for r in held if r["kind"] not in (WAIVER, PLACEMENT)}
        self.placed = {r["loan_id"] for r in held if r["kind"] == PLACEMENT}
        self.stages = {r["loan_id"]: r for r in snap.stages.to_pylist()}


def _agreed(channel: str, borrower: dict[str, Any], points: list[dict[str, Any]]) -> bool:
    consents = borrower["consents"]
    if consents is not None and channel not in consents.split(","):
        return False
    kind = POINT_KIND.get(MEDIUM[channel])
    if kind is None:
        return True
    mine = [p for p in points if p["kind"] == kind]
    medium = MEDIUM[channel]
    return not (mine and all(medium in (p["opt_outs"] or "").split(",") for p in mine))


def _hold_active(h: dict[str, Any], at: datetime) -> bool:
    return bool(h["starts_at"] <= at and (h["ends_at"] is None or at < h["ends_at"]))


def _about(row_loan: str | None, loan_id: str) -> bool:
    return row_loan is None or row_loan == loan_id


class Account:
    """One loan's attributes, as the strategy and the gate see them."""

    def __init__(
        self,
        row: dict[str, Any],
        s: Statement,
        h: History,
        snap: Snapshot,
        strategy: Strategy,
        book: Rulebook,
    ) -> None:
        self.row, self.s, self.book = row, s, book
        loan_id, bid = row["loan_id"], row["borrower_id"]
        self.borrower = h.borrowers[bid]
        tz = ZoneInfo(self.borrower["timezone"])
        self.tz = tz
        as_of = snap.as_of
        self.agreed = parse_window(self.borrower["contact_window"])
        self.win = send_window(as_of, tz, self.agreed, book)
        self.day = (
            local_instant(as_of, MIDNIGHT, tz),
            local_instant(as_of + timedelta(days=1), MIDNIGHT, tz),
        )
        self.contacts = h.contacts.get(bid, [])
        self.points = h.points.get(bid, [])
        self.holds = [
            x
            for x in h.holds.get(bid, [])
            if x["kind"] in PERSON_HOLDS or _about(x["loan_id"], loan_id)
        ]
        stage = strategy.stage_of(s.dpd)
        prior = h.stages.get(loan_id)
        same = prior is not None and prior["stage"] == stage
        promises = h.promises.get(loan_id, [])
        ws, d0 = self.win[0], self.day[0]
        m7 = local_instant(as_of - timedelta(days=7), MIDNIGHT, tz)
        debtor_out = [
            c for c in self.contacts if c["role"] == "debtor" and c["direction"] == "outbound"
        ]
        last = max(debtor_out, key=lambda c: c["at"], default=None)
        pays = h.pays.get(row["_idx"], [])
        said = [c for c in self.contacts if c["loan_id"] in (None, loan_id)]
        paid_today = sum(int(p["amount"]) for p in pays if p["paid_on"] == as_of)
        self.env: dict[str, Any] = {
            "dpd": s.dpd,
            "days_in_stage": (as_of - prior["since"]).days if same and prior else 0,
            "bucket": s.bucket,
            "total_due": s.total_due,
            "overdue_principal": s.overdue.principal,
            "overdue_penalty": s.overdue.penalty,
            "outstanding_principal": s.outstanding_principal,
            "score": row["score"],
            "broken_promises": sum(
                1
                for p in promises
                if p["status"] == "broken"
                and p["settled_on"] is not None
                and p["settled_on"] >= as_of - timedelta(days=90)
            ),
            "promise_active": any(p["status"] == "pending" for p in promises),
            "plan_active": loan_id in h.plans,
            "placed_with_agency": loan_id in h.placed,
            "hold_active": any(_hold_active(x, ws) for x in self.holds),
            "paid_today": any(p["paid_on"] == as_of for p in pays),
            "paid_today_amount": paid_today,
            "paid_today_share": share_paid(paid_today, s.total_due),
            "last_contact_result": None if last is None else last["result"],
            "delinquency_reason": _latest(said, "reason"),
            "last_disposition": _latest(said, "disposition"),
            "contacts_last_7d": sum(1 for c in debtor_out if m7 <= c["at"] < d0),
            "connected_calls_today": sum(
                1
                for c in debtor_out
                if c["channel"] in ("call", "robocall")
                and c["result"] in ("connected", "conversation")
                and d0 <= c["at"] <= ws
            ),
            "consent_sms": _agreed("sms", self.borrower, self.points),
            "consent_push": _agreed("push", self.borrower, self.points),
            "consent_email": _agreed("email", self.borrower, self.points),
            "consent_call": _agreed("agent_call", self.borrower, self.points),
            "consent_letter": _agreed("letter", self.borrower, self.points),
            "locale": self.borrower["locale"],
            "preferred_channel": self.borrower.get("preferred_channel") or "",
            "product": row["product"],
            "portfolio": row["portfolio_id"],
        }
        self.stage = stage

    def events(self, channel: str, at: datetime) -> list[Event]:
        """The history the gate sees for an action on ``channel`` at ``at``."""
        bid = self.row["borrower_id"]
        out = [
            Event(
                kind=c["channel"],
                at=c["at"],
                direction=c["direction"],
                result=c["result"],
                person_id=bid if c["role"] == "debtor" else f"{bid}/{c['role']}",
                debt_ids=() if c["loan_id"] is None else (c["loan_id"],),
                role=c["role"],
            )
            for c in self.contacts
        ]
        for x in self.holds:
            if not _hold_active(x, at):
                continue  # a released or later hold is not in the history at ``at``
            debts = () if x["loan_id"] is None else (x["loan_id"],)
            if x["kind"] in PERSON_HOLDS or x["kind"] == "dispute":  # a dispute on file: written
                out.append(Event(kind=x["kind"], at=x["starts_at"], debt_ids=debts, written=True))
            else:
                out.append(
                    Event(
                        kind="hold",
                        at=x["starts_at"],
                        hold=x["kind"],
                        until=x["ends_at"],
                        debt_ids=debts,
                    )
                )
        if channel in MEDIUM and not _agreed(channel, self.borrower, self.points):
            out.append(
                Event(
                    kind="opt_out", at=at - timedelta(days=1), medium=MEDIUM[channel], person_id=bid
                )
            )
        return out

    def window(self, step: Step) -> tuple[datetime, datetime]:
        """When the step may be carried out today: the hours' window for a contact the
        rulebook's hours cover, the local day otherwise."""
        contact = CONTACT.get(step.channel)
        in_hours = contact is not None and contact in self.book.hours.channels
        return self.win if in_hours else self.day

    def request(self, step: Step, at: datetime) -> Request:
        """The gate's request for carrying out ``step`` at ``at``."""
        attempt = Attempt(
            channel=CONTACT.get(step.channel) or "letter",
            at=at,
            person_id=self.row["borrower_id"],
            debt_ids=(self.row["loan_id"],),
            role="debtor",
            collectors=step.collectors,
        )
        person = Person(timezones=(self.borrower["timezone"],), agreed_window=self.agreed)
        return Request(attempt, person, tuple(self.events(step.channel, at)))

    def refusals(self, step: Step, at: datetime) -> list[Violation]:
        """The rules refusing ``step`` at ``at`` (none: allowed)."""
        req = self.request(step, at)
        if CONTACT.get(step.channel) is None:  # agency, legal referral: holds still stop them
            return holds_rule.check(req, self.book) if self.book.applies("holds") else []
        return gate.violations(req, self.book)

    def blocked_by(self, step: Step) -> tuple[datetime, datetime, str | None]:
        """(window start, window end, the first rule refusing) for one of this account's steps."""
        ws, we = self.window(step)
        if step.channel == NONE:  # doing nothing: no rule refuses it
            return ws, we, None
        found = self.refusals(step, ws)
        return ws, we, (found[0].rule if found else None)


def _segment(env: dict[str, Any], strategy: Strategy) -> str:
    for name, node in strategy.segments[:-1]:
        if truthy(evaluate(node, env)):
            return name
    return strategy.segments[-1][0]


def _steps(acct: Account, segment: str, strategy: Strategy) -> list[Step]:
    out = []
    dpd = acct.env["dpd"]
    for step in strategy.steps:
        if step.stage != acct.stage or (step.segment not in (ALL_SEGMENTS, segment)):
            continue
        if not step.fires_on(dpd):
            continue
        if step.when is not None and not truthy(evaluate(step.when, acct.env)):
            continue
        if step.experiment is not None:
            e = next(x for x in strategy.experiments if x.name == step.experiment)
            if e.arm_for(bucket(e.salt, acct.row["loan_id"])) != step.arm:
                continue
        out.append(step)
    return out


def reference_plan(
    snap: Snapshot,
    strategy: Strategy,
    *,
    buckets: BandTable,
    quarantined: dict[str, str] | None = None,
) -> pa.Table:
    """The day's plan, computed one account at a time (the oracle). An account whose ledger
    does not replay, or that is in a collection stage without a borrower or a known timezone,
    gets no action; it is added to ``quarantined`` (loan id -> reason) when given."""
    h = History(snap)
    books: dict[str, Rulebook] = {}
    actions: list[dict[str, Any]] = []
    sick = quarantined if quarantined is not None else {}
    for idx, row in enumerate(snap.loans.to_pylist()):
        row["_idx"] = idx
        try:
            loan = loan_from_rows(
                row, h.inst.get(idx, []), h.pays.get(idx, []), snap.events.get(row["loan_id"], ())
            )
            s = statement(loan, snap.as_of, buckets=buckets, explain=False)
        except Exception as exc:  # quarantined, as the cycle does
            sick[row["loan_id"]] = f"{type(exc).__name__}: {exc}"
            continue
        if strategy.stage_of(s.dpd) is None:
            continue
        borrower = h.borrowers.get(row["borrower_id"])
        if borrower is None or not _known_zone(borrower["timezone"]):
            sick[row["loan_id"]] = "no send window"
            continue
        book = books.setdefault(row["rulebook"], load_rulebook(row["rulebook"]))
        acct = Account(row, s, h, snap, strategy, book)
        segment = _segment(acct.env, strategy)
        steps = _steps(acct, segment, strategy)
        mine = [_action(acct, step, segment, strategy, snap.as_of) for step in steps]
        actions += _choose(mine, strategy, snap.as_of)
    _cut(actions, {**strategy.queues, **strategy.pools})
    for a in actions:
        del a["_lane"]
    actions = [a for a in actions if a["channel"] != NONE]
    actions.sort(key=lambda a: (a["loan_id"], a["step_order"]))
    return pa.Table.from_pylist(actions)


def _choose(actions: list[dict[str, Any]], strategy: Strategy, as_of: date) -> list[dict[str, Any]]:
    """One account's actions with each choice down to the option taken (no model scores: the
    first compliant option listed, or for the stage's exploration share one drawn with the
    keyed draws of :mod:`arrears.cycle.draws`), as :func:`arrears.cycle.plan._choose` does."""
    out: list[dict[str, Any]] = []
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in actions:
        step = a["_step"]
        if step.group is None:
            out.append(a)
        else:
            groups[step.group].append(a)
    for options in groups.values():
        options.sort(key=lambda a: a["_step"].option)
        ok = [a for a in options if a["status"] in ("planned", "skipped")]
        if not ok:
            out.append(options[0])
            continue
        first = options[0]["_step"]
        u = draws(f"{strategy.name}|{as_of.isoformat()}", [options[0]["loan_id"]])[0]
        shift = (first.order - first.option) * SHIFT
        eps = strategy.explore.get(first.stage, 0.0)
        explored = (u[0] + shift) % 1.0 < eps
        pick = int(((u[1] + shift) % 1.0) * len(ok))
        out.append(ok[pick] if explored else ok[0])
    for a in out:
        del a["_step"]
    return out


def _known_zone(name: str | None) -> bool:
    try:
        ZoneInfo(str(name))
    except (ValueError, KeyError):
        return False
    return name is not None


def _action(
    acct: Account, step: Step, segment: str, strategy: Strategy, as_of: date
) -> dict[str, Any]:
    priority = evaluate(step.priority, acct.env)
    suppressed = next(
        (
            f"suppression.{s.name}"
            for s in strategy.suppressions
            if step.channel in s.channels and truthy(evaluate(s.when, acct.env))
        ),
        None,
    )
    ws, we, blocked = acct.blocked_by(step)
    loan_id = acct.row["loan_id"]
    return {
        "action_id": action_id(as_of, loan_id, step.id),
        "business_date": as_of,
        "loan_id": loan_id,
        "borrower_id": acct.row["borrower_id"],
        "portfolio_id": acct.row["portfolio_id"],
        "stage": acct.stage,
        "segment": segment,
        "step_id": step.id,
        "step_order": step.order,
        "channel": step.channel,
        "template": step.template,
        "queue": step.queue,
        "pool": step.pool,
        "locale": acct.env["locale"],
        "priority": 0.0 if priority is None else float(priority),
        "experiment": step.experiment,
        "arm": step.arm,
        "window_start": ws,
        "window_end": we,
        "status": "suppressed" if suppressed else ("blocked" if blocked else "planned"),
        "rule": suppressed or blocked,
        **({"status": "skipped", "rule": None} if step.channel == NONE else {}),
        "_lane": step.queue or step.pool,
        "_step": step,
    }


def _cut(actions: list[dict[str, Any]], capacity: dict[str, int]) -> None:
    lanes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in actions:
        if a["status"] == "planned" and a["_lane"] is not None:
            lanes[a["_lane"]].append(a)
    for lane, items in lanes.items():
        items.sort(key=lambda a: (-a["priority"], a["loan_id"], a["step_order"]))
        for a in items[capacity.get(lane, len(items)) :]:
            a["status"], a["rule"] = "cut", f"capacity.{lane}"


def _latest(contacts: list[dict[str, Any]], key: str) -> str | None:
    """The ``key`` of the latest contact that has one (what the borrower said last)."""
    found = [c for c in contacts if c.get(key)]
    return max(found, key=lambda c: c["at"])[key] if found else None
