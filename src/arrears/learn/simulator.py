"""The borrower-response simulator on the real decision path: each simulated day runs the real
cycle (plan, gate, capacities) on a real store, the dispatcher's second look (the full gate,
asked again at send time) passes or stops each planned contact, the contacts that go are
recorded as evidence like any other, and the world's hidden borrowers answer them
(:mod:`arrears.learn.respond`): payments are posted to the ledger, promises taken, complaints
filed (each holds the account, and the gate honours it the next day).

A run is one policy in one world for ``days`` days on a copy of a generated book (the same book
and the same random numbers for every policy in a world, so two policies differ by what they
did, not by luck). Only the delivery itself is skipped: a message is recorded as delivered
instead of being rendered and handed to a provider.

What a run measures (:class:`Lived`), on the accounts that *enter* collection (fall one day
past due) in the run's first days, each followed for the same number of days from its entry
(90 when the run is long enough: :func:`follow_days`): the arrears at entry and what was paid
of it within those days (the 90-day recovery), the contacts and complaints in them, and all of
it by hidden type; over the whole run, the contacts the second look stopped, rule breaks found
afterwards in the evidence (a contact made while a hold covered the borrower, or over a
rulebook's daily limit of connected calls) and cost. The accounts already in collection on the
first day (most of a book's arrears sit in legal and with agencies, where every strategy does
the same) are measured too, apart (:attr:`Lived.stock`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import and_, insert, select, update

from arrears.bootstrap import App, bootstrap
from arrears.cycle import snapshot
from arrears.cycle.accounts import delinquency_of
from arrears.cycle.run import Scorer
from arrears.ids import SEP
from arrears.learn.respond import Book, chance, keeps, respond
from arrears.learn.worlds import TYPES, World
from arrears.service.books.bands import bands_for
from arrears.service.cases.complaints import file_complaint
from arrears.service.cases.payments import post_payment
from arrears.service.cases.promises import Part, make_promise
from arrears.service.daily.cycle import run_cycle
from arrears.service.errors import ServiceError
from arrears.service.outreach.pending import recheck
from arrears.settings import Settings
from arrears.store import tables as t
from arrears.strategy.attributes import SCORED_CHANNELS
from arrears.strategy.model import Strategy

#: what a complaint costs the lender, in minor units: an assumption (docs/LEARNING.md), the
#: handling, the regulator's attention and the goodwill, 500 yuan
COMPLAINT_COST = 50_000
#: what each channel costs the lender (minor units: fen), an assumption documented in
#: docs/LEARNING.md: an SMS 5 fen, a letter 3 yuan, an agent call 4 yuan of a collector's time
COST = {
    "sms": 5,
    "push": 1,
    "email": 1,
    "letter": 300,
    "robocall": 30,
    "agent_call": 400,
    "visit": 8000,
    "agency": 0,  # paid as commission on what it recovers
    "legal_referral": 50000,
}
#: the contact channel of each strategy channel, as the evidence records it
EVIDENCE = {"agent_call": "call"}
#: reminders: words sent that remind (a letter before legal action escalates instead)
REMINDERS = frozenset({"sms", "push", "email", "robocall", "letter"})
#: credible escalation: a visit, an agency, legal referral, or a demand or legal letter
ESCALATION = frozenset({"visit", "agency", "legal_referral"})
ESCALATION_TEMPLATES = frozenset({"demand_letter", "legal_notice_letter"})
#: Qifu Technology's day-1 delinquency (about 5.5%): an instalment falling due is paid on time
#: otherwise (docs/LEARNING.md, calibration)
ON_TIME = 0.945
ZONE = "Asia/Shanghai"
#: what a collector notes after a conversation (the wrap-up's disposition and reason), by the
#: borrower's hidden type: people say why they are behind. An assumption (docs/LEARNING.md):
#: the note tells the type this often; otherwise it is a plain right-party contact
DISCLOSED = 0.7
NOTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "forgets": ("promise", ("forgot",)),
    "hardship": ("hardship", ("job_loss", "income_drop", "illness", "business_failure")),
    "strategic": ("refused", ("other",)),
    "unreachable": ("right_party", ("other",)),
    "never": ("refused", ("over_indebted",)),
}


#: each account entering collection is followed this many days from its entry (the 90-day
#: recovery), when the run is long enough (:func:`follow_days`)
FOLLOW = 90


def follow_days(days: int) -> tuple[int, int]:
    """(the days at the start of a run of ``days`` in which entering accounts are measured,
    the days each is followed): a run of 120 days measures the accounts entering in its first
    30, each for 90 days; a run of 90 days or fewer splits itself in halves."""
    if days > FOLLOW:
        return days - FOLLOW, FOLLOW
    window = max(days // 2, 1)
    return window, max(days - window, 1)


@dataclass
class Lived:
    """One policy's run in one world. ``accounts`` to ``by_type``: the accounts entering
    collection in the run's first ``window`` days, each over its first ``follow`` days."""

    world: str
    policy: str
    days: int
    accounts: int = 0  # entering collection in the window
    owed: int = 0  # their arrears on the day each entered (minor units)
    recovered: int = 0  # what they paid of it within the days followed
    contacts: int = 0  # contacts made to them within the days followed
    complaints: int = 0  # complaints they made within the days followed
    stopped: int = 0  # contacts the second look stopped at send time (the whole run)
    rule_breaks: int = 0  # the whole run
    cost: int = 0  # what their contacts cost within the days followed
    cost_all: int = 0  # what every contact of the run cost
    window: int = 0
    follow: int = 0
    #: cumulative share recovered, by day since entry (the day of entry first)
    curve: list[float] = field(default_factory=list)
    #: by hidden type: accounts, owed, recovered, contacts, complaints
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    #: the accounts already in collection on the first day, over the whole run: accounts,
    #: owed, recovered, contacts, complaints
    stock: dict[str, int] = field(default_factory=dict)
    #: the run's decision log with its outcomes (when asked for: what a model learns from)
    log: Any = None
    #: what each option of each account's choice would truly have brought in, by day (when
    #: asked for: what off-policy estimates are held to, :mod:`arrears.learn.coverage`)
    truth: Any = None

    @property
    def recovery(self) -> float:
        return self.recovered / self.owed if self.owed else 0.0

    @property
    def contacts_per_account(self) -> float:
        return self.contacts / self.accounts if self.accounts else 0.0

    @property
    def complaints_per_10k(self) -> float:
        return 10_000 * self.complaints / self.contacts if self.contacts else 0.0

    @property
    def cost_per_yuan(self) -> float:
        return self.cost / self.recovered if self.recovered else 0.0


def make_book(folder: Path, loans: int, seed: int, as_of: date) -> Path:
    """A generated book (with its history up to ``as_of``) in a fresh SQLite store: the
    template every run of every world copies."""
    from arrears.generate.portfolio import Options, generate
    from arrears.service.daily.ingestion import ingest_files
    from arrears.service.store import init_store

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "book.db"
    db.unlink(missing_ok=True)
    app = bootstrap(_settings(db, folder))
    init_store(app)
    data = folder / "data"
    shutil.rmtree(data, ignore_errors=True)
    generate(data, Options(loans=loans, seed=seed, as_of=as_of, fmt="csv", workers=1))
    ingest_files(app, sorted(data.iterdir()))
    app.engine.dispose()
    shutil.rmtree(data, ignore_errors=True)
    return db


def _settings(db: Path, folder: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{db}",
        outbox_dir=folder / "outbox",
        outbox_files=False,
    )


def live(
    world: World,
    strategy: Strategy,
    book: Path,
    start: date,
    days: int,
    *,
    scorer: Scorer | None = None,
    policy: str | None = None,
    workdir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    keep_log: bool = False,
    scorer_of: Callable[[Book, dict[str, int]], Scorer] | None = None,
    truth: bool = False,
) -> Lived:
    """Run ``strategy`` (with ``scorer`` for its model scores) in ``world`` for ``days`` days
    from ``start`` on a copy of ``book`` (:func:`make_book`, made up to the day before). With
    ``scorer_of``, the scorer is made from the run's hidden borrowers and their loans' places
    instead (:class:`arrears.learn.oracle.Oracle`: a diagnosis of the strategy's ceiling).
    With ``truth``, :attr:`Lived.truth` holds what each choice's every option would truly have
    brought in that day (:meth:`_Run.truth`)."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        db = Path(tmp) / "run.db"
        shutil.copyfile(book, db)
        app = bootstrap(_settings(db, Path(tmp)))
        try:
            run = _Run(app, world, strategy, scorer, policy or strategy.name)
            run.keep_truth = truth
            if scorer_of is not None:
                run.scorer = scorer_of(run.book, run.index)
            lived = run.go(start, days, progress)
            if keep_log:
                from arrears.service.queries.decisions import decisions_with_outcomes

                lived.log = decisions_with_outcomes(app)
            return lived
        finally:
            app.engine.dispose()


class _Run:
    def __init__(
        self, app: App, world: World, strategy: Strategy, scorer: Scorer | None, policy: str
    ) -> None:
        self.app, self.world, self.strategy, self.scorer = app, world, strategy, scorer
        with app.engine.connect() as conn:
            rows = conn.execute(
                select(t.loan.c.loan_id, t.loan.c.borrower_id).order_by(t.loan.c.loan_id)
            ).all()
        self.loans = [r[0] for r in rows]
        self.borrower = {r[0]: r[1] for r in rows}
        self.index = {loan: i for i, loan in enumerate(self.loans)}
        self.kinds = world.types(len(self.loans))
        self.book = Book(world, self.kinds)
        # the same stream for every policy in this world: common random numbers
        self.rng = np.random.default_rng([world.seed, 0xB0B])
        self.zone = ZoneInfo(ZONE)
        self.out = Lived(world.name, policy, 0)
        self.bands = bands_for(app.settings)
        #: the steps that are options of a choice, and whether a letter among them escalates
        self.choice_steps = {s.id for s in strategy.steps if s.group is not None}
        self.letter_escalates = any(
            s.group is not None and s.channel == "letter" and s.template in ESCALATION_TEMPLATES
            for s in strategy.steps
        )
        self.keep_truth = False
        self.truths: list[pa.Table] = []

    def _at(self, day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), self.zone)

    def _set_clock(self, day: date, hour: int) -> None:
        at = self._at(day, hour)
        self.app.clock = lambda: at

    def _due(self, day: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each loan's days past due, everything due now, and whether an instalment falls due
        today, before the day's payments."""
        snap = snapshot.from_store(self.app.engine, day)
        n = len(self.loans)
        pos = np.array([self.index[x] for x in snap.loans["loan_id"].to_pylist()], np.int64)
        inst = snap.instalments
        falling = pc.equal(inst["due_date"], pa.scalar(day, pa.date32()))
        today = np.zeros(n, bool)
        today[pos[inst["loan_idx"].filter(falling).to_numpy()]] = True
        d = delinquency_of(snap, self.bands.buckets)
        where = np.array([self.index[x] for x in d["loan_id"].to_pylist()], np.int64)
        dpd, due = np.full(n, -999, np.int64), np.zeros(n, np.int64)
        dpd[where] = pc.fill_null(d["dpd"], -999).to_numpy(zero_copy_only=False)
        due[where] = pc.fill_null(d["total_due"], 0).to_numpy(zero_copy_only=False)
        return dpd, due, today

    def go(self, start: date, days: int, progress: Callable[[int], None] | None) -> Lived:
        out = self.out
        n = len(self.loans)
        out.window, out.follow = follow_days(days)
        stock = _Cohort(n, days)  # in collection on the first day, over the whole run
        entry = _Cohort(n, out.follow)  # entering in the window, each over its days followed
        # the six days before: reminders and contacts, for habituation and annoyance
        week_reminders = np.zeros((6, n), np.int64)
        week_contacts = np.zeros((6, n), np.int64)
        for k in range(days):
            day = start + timedelta(days=k)
            self._set_clock(day, 8)
            dpd, due, falls_due = self._due(day)
            if k == 0:
                # in collection before the run: entered before it (those entering today are
                # measured with the others that enter)
                stock.enter((dpd >= 2) & (due > 0), due, k)
            if k < out.window:
                # each account once, and never one of the stock (cured and fallen behind
                # again, it would enter in one policy's run and not the other's)
                fresh = (entry.since < 0) & (stock.since < 0)
                entry.enter((dpd == 1) & (due > 0) & fresh, due, k)
            self._set_clock(day, 9)
            run_cycle(self.app, day, strategy=self.strategy, scorer=self.scorer)
            made = self._contact(day)
            week_before = week_reminders.sum(axis=0)
            answers = respond(
                self.book,
                self.rng,
                reminders=made["reminders"],
                calls=made["calls"],
                escalation=made["escalation"],
                offer_when_reached=True,
                recent_reminders=week_before,
                recent_contacts=week_contacts.sum(axis=0),
            )
            week_reminders[k % 6] = made["reminders"]
            week_contacts[k % 6] = made["count"]
            self._record_calls(day, made["call_rows"], answers.reached)
            if self.keep_truth:
                self.truths.append(self.truth(day, dpd, due, made, week_before))
            self._set_clock(day, 18)
            pay = np.zeros(n, np.int64)
            late = (dpd >= 1) & (due > 0)
            pay = np.where(late & answers.paid, due, pay)
            on_time = (dpd <= 0) & falls_due & (due > 0) & (self.rng.random(len(due)) < ON_TIME)
            pay = np.where(on_time, due, pay)
            pay = np.maximum(pay, self._kept_promises(day, due))
            posted = self._post(day, pay)
            self._promises(day, answers.promised & late & ~(pay > 0), due)
            filed = self._complaints(day, answers.complained & (made["count"] > 0))
            for cohort in (stock, entry):
                cohort.day(k, posted, made["count"], filed, made["cost"])
            out.cost += int(made["cost"].sum())
            if progress:
                progress(1)
        out.days = days
        kinds = np.array(self.kinds)
        got = entry.totals()
        out.accounts, out.owed, out.recovered, out.contacts, out.complaints = got[:5]
        out.cost, out.cost_all = got[5], out.cost
        out.curve = entry.curve()
        for kind in TYPES:
            got = entry.totals(kinds == kind)
            out.by_type[kind] = dict(zip(_Cohort.FIGURES, got, strict=True))
        out.stock = dict(zip(_Cohort.FIGURES, stock.totals(), strict=True))
        out.rule_breaks = rule_breaks(self.app, start, start + timedelta(days=days))
        if self.truths:
            out.truth = pa.concat_tables(self.truths)
        return out

    def truth(
        self, day: date, dpd: np.ndarray, due: np.ndarray, made: dict[str, Any], before: Any
    ) -> pa.Table:
        """For each account in arrears, what each option of a choice would truly bring in today
        (its chance of paying after the day's other contacts and that option, times what is
        due: :func:`arrears.learn.respond.chance`), whether the day brought contacts other than
        the choice's, and whether the second look stopped the choice's contact."""
        late = np.flatnonzero((dpd >= 1) & (due > 0))
        cols: dict[str, Any] = {
            "loan_id": pa.array([self.loans[i] for i in late], pa.string()),
            "business_date": pa.array([day] * len(late), pa.date32()),
            "others": pa.array(made["other_count"][late]),
            "stopped": pa.array(made["choice_stopped"][late]),
        }
        for option in ("none", *SCORED_CHANNELS):
            sent = made["other_reminders"].copy()
            dialled = made["other_calls"].copy()
            escalated = made["other_escalation"].copy()
            if option in ("agent_call", "visit"):
                dialled += 1
            if option == "visit" or (option == "letter" and self.letter_escalates):
                escalated[:] = True
            elif option in REMINDERS:
                sent += 1
            p = chance(self.book, reminders=sent, calls=dialled, escalation=escalated,
                       recent_reminders=before)  # fmt: skip
            cols[f"truth_{option}"] = pa.array((p * due)[late])
        return pa.table(cols)

    def _post(self, day: date, pay: np.ndarray) -> np.ndarray:
        """The day's payments posted to the ledger; what each account paid."""
        posted = np.zeros(len(self.loans), np.int64)
        for i in np.flatnonzero(pay > 0):
            try:
                post_payment(self.app, self.loans[i], int(pay[i]), day, source="simulation")
            except ServiceError:
                continue
            posted[i] = int(pay[i])
        return posted

    def _contact(self, day: date) -> dict[str, Any]:
        """The day's planned contacts, through the second look; those it lets go are recorded
        as made (messages delivered; calls and visits answered later by the world)."""
        pa_ = t.plan_action
        with self.app.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(pa_).where(and_(pa_.c.business_date == day, pa_.c.status == "planned"))
                ).all()
            )
        n = len(self.loans)
        reminders, calls = np.zeros(n, np.int64), np.zeros(n, np.int64)
        escalation, count = np.zeros(n, bool), np.zeros(n, np.int64)
        # the same, of the contacts that were not a choice's (for the truth of each option)
        o_reminders, o_calls = np.zeros(n, np.int64), np.zeros(n, np.int64)
        o_escalation, o_count = np.zeros(n, bool), np.zeros(n, np.int64)
        go = self._second_look(day, rows)
        cost = np.zeros(n, np.int64)
        stopped = np.zeros(n, bool)
        went = {r.action_id for r in go}
        cut = [
            r.loan_id for r in rows if r.action_id not in went and r.step_id in self.choice_steps
        ]
        stopped[[self.index[x] for x in cut if x in self.index]] = True
        attempts, call_rows = [], []
        for r in go:
            i = self.index.get(r.loan_id)
            if i is None:
                continue
            cost[i] += COST.get(r.channel, 0)
            self.out.by_channel[r.channel] = self.out.by_channel.get(r.channel, 0) + 1
            targets = [(reminders, calls, escalation, count)]
            if r.step_id not in self.choice_steps:
                targets.append((o_reminders, o_calls, o_escalation, o_count))
            for arrays in targets:
                _tally(arrays, i, r.channel, r.template)
            if r.step_id not in self.choice_steps and r.channel in ("agency", "legal_referral"):
                o_count[i] += 1  # not a contact, but it escalates: the day is not the choice's
            if r.channel in ("agent_call", "visit"):
                call_rows.append((i, r))
            elif r.channel in REMINDERS:
                attempts.append(self._attempt(r, day, "delivered"))
        self._write(attempts, [r.action_id for r in go if r.channel not in ("agent_call", "visit")])
        return {
            "reminders": reminders,
            "calls": calls,
            "escalation": escalation,
            "count": count,
            "call_rows": call_rows,
            "other_reminders": o_reminders,
            "other_calls": o_calls,
            "other_escalation": o_escalation,
            "other_count": o_count,
            "choice_stopped": stopped,
            "cost": cost,
        }

    def _second_look(self, day: date, rows: list[Any]) -> list[Any]:
        """The planned actions the dispatcher's second look (the full gate, now) lets go."""
        if not rows:
            return []
        verdicts = {v.action_id: v for v in recheck(self.app, rows, self._at(day, 10))}
        go = []
        for r in rows:
            v = verdicts.get(r.action_id)
            if v is not None and v.outcome != "send":
                self.out.stopped += 1
                continue
            go.append(r)
        return go

    def _attempt(self, r: Any, day: date, result: str) -> dict[str, Any]:
        return {
            "attempt_id": f"sim{SEP}{r.action_id}",
            "borrower_id": r.borrower_id,
            "loan_id": r.loan_id,
            "channel": EVIDENCE.get(r.channel, r.channel),
            "at": max(_aware(r.window_start), self._at(day, 10)),
            "direction": "outbound",
            "role": "debtor",
            "result": result,
            "action_id": r.action_id,
            "template": r.template,
            "collector_id": "simulator",
            "provider": "simulator",
            "disposition": None,
            "reason": None,
        }

    def _write(self, attempts: list[dict[str, Any]], sent: list[str]) -> None:
        if not attempts and not sent:
            return
        pa_ = t.plan_action
        with self.app.engine.begin() as conn:
            if attempts:
                conn.execute(insert(t.contact_attempt), attempts)
            for chunk in range(0, len(sent), 500):
                ids = sent[chunk : chunk + 500]
                conn.execute(
                    update(pa_)
                    .where(pa_.c.action_id.in_(ids))
                    .values(status="sent", sent_at=self.app.clock())
                )

    def _record_calls(self, day: date, call_rows: list[Any], reached: np.ndarray) -> None:
        # the wrap-up's note draws from its own stream (one draw per account a day), so the
        # answers' common random numbers stay the same whatever was called
        note = np.random.default_rng([self.world.seed, 0xD15C, day.toordinal()])
        tells, pick = note.random(len(self.loans)), note.random(len(self.loans))
        attempts = []
        for i, r in call_rows:
            row = self._attempt(r, day, "conversation" if reached[i] else "no_answer")
            if reached[i]:
                disposition, reasons = NOTES[self.kinds[i]]
                if tells[i] < DISCLOSED:
                    row |= {"disposition": disposition,
                            "reason": reasons[int(pick[i] * len(reasons))]}  # fmt: skip
                else:
                    row["disposition"] = "right_party"
            attempts.append(row)
        self._write(attempts, [r.action_id for _, r in call_rows])

    def _kept_promises(self, day: date, due: np.ndarray) -> np.ndarray:
        pr = t.promise
        with self.app.engine.connect() as conn:
            rows = conn.execute(
                select(pr.c.loan_id, pr.c.amount).where(
                    and_(pr.c.due_on == day, pr.c.status == "pending")
                )
            ).all()
        falling = np.zeros(len(self.loans), bool)
        amount = np.zeros(len(self.loans), np.int64)
        for loan, value in rows:
            i = self.index.get(loan)
            if i is not None:
                falling[i] = True
                amount[i] += int(value)
        kept = keeps(self.book, self.rng, falling)
        return np.where(kept, np.minimum(amount, np.maximum(due, 0)), 0)

    def _promises(self, day: date, promised: np.ndarray, due: np.ndarray) -> None:
        for i in np.flatnonzero(promised & (due > 0)):
            try:
                make_promise(
                    self.app,
                    self.loans[i],
                    [Part(day + timedelta(days=3), int(due[i]))],
                    source="agent_call",
                    made_by="simulator",
                )
            except ServiceError:
                continue

    def _complaints(self, day: date, complained: np.ndarray) -> np.ndarray:
        out = np.zeros(len(self.loans), np.int64)
        for i in np.flatnonzero(complained):
            loan = self.loans[i]
            try:
                file_complaint(
                    self.app,
                    borrower_id=self.borrower[loan],
                    category="too_many_calls",
                    description="模拟：联系太频繁 (simulated: contacted too often)",
                    source="portal",
                    loan_id=loan,
                )
            except ServiceError:
                continue
            out[i] = 1
        return out


def _tally(arrays: tuple[np.ndarray, ...], i: int, channel: str, template: str | None) -> None:
    """Count a contact made to account ``i`` in (reminders, calls, escalation, contacts)."""
    reminders, calls, escalation, count = arrays
    if channel in ESCALATION or template in ESCALATION_TEMPLATES:
        escalation[i] = True
    elif channel in REMINDERS:
        reminders[i] += 1
    if channel in ("agent_call", "visit"):
        calls[i] += 1
    if channel not in ("agency", "legal_referral"):
        count[i] += 1


class _Cohort:
    """Accounts followed from the day each entered, for ``follow`` days: their arrears then,
    what they paid of it (by day since entry), their contacts and complaints."""

    FIGURES = ("accounts", "owed", "recovered", "contacts", "complaints", "cost")

    def __init__(self, n: int, follow: int) -> None:
        self.follow = follow
        self.since = np.full(n, -1, np.int64)  # the day each entered; -1: not in the cohort
        self.owed = np.zeros(n, np.int64)
        self.paid = np.zeros(n, np.int64)
        self.contacts = np.zeros(n, np.int64)
        self.complaints = np.zeros(n, np.int64)
        self.cost = np.zeros(n, np.int64)
        self.by_age = np.zeros(follow, np.int64)

    def enter(self, which: np.ndarray, due: np.ndarray, k: int) -> None:
        self.since[which] = k
        self.owed[which] = due[which]

    def day(
        self,
        k: int,
        paid: np.ndarray,
        contacts: np.ndarray,
        complaints: np.ndarray,
        cost: np.ndarray | None = None,
    ) -> None:
        age = k - self.since
        on = (self.since >= 0) & (age < self.follow)
        got = np.where(on, np.minimum(paid, self.owed - self.paid), 0)
        self.paid += got
        np.add.at(self.by_age, age[on], got[on])
        self.contacts += np.where(on, contacts, 0)
        self.complaints += np.where(on, complaints, 0)
        if cost is not None:
            self.cost += np.where(on, cost, 0)

    def totals(self, where: np.ndarray | None = None) -> tuple[int, int, int, int, int, int]:
        m = self.since >= 0 if where is None else (self.since >= 0) & where
        return (
            int(m.sum()),
            int(self.owed[m].sum()),
            int(self.paid[m].sum()),
            int(self.contacts[m].sum()),
            int(self.complaints[m].sum()),
            int(self.cost[m].sum()),
        )

    def curve(self) -> list[float]:
        owed = int(self.owed[self.since >= 0].sum())
        return [float(v) / owed if owed else 0.0 for v in np.cumsum(self.by_age)]


def rule_breaks(app: App, start: date, end: date) -> int:
    """Contacts in the evidence from ``start`` to ``end`` that broke a rule, found afterwards
    and independently of the plan: made while a hold covered the borrower (every kind the
    rulebook honours; the simulator's complaints are holds), or connected calls to a borrower
    beyond the cn rulebook's daily limit."""
    from arrears.compliance.rulebook import load as load_rulebook

    book = load_rulebook("cn")
    zone = ZoneInfo(ZONE)
    since = datetime.combine(start, time(0), zone)
    until = datetime.combine(end, time(0), zone)
    ca, h = t.contact_attempt, t.hold
    with app.engine.connect() as conn:
        made = conn.execute(
            select(ca.c.borrower_id, ca.c.loan_id, ca.c.channel, ca.c.at, ca.c.result).where(
                and_(ca.c.at >= since, ca.c.at < until, ca.c.direction == "outbound")
            )
        ).all()
        holds = conn.execute(
            select(h.c.borrower_id, h.c.loan_id, h.c.kind, h.c.starts_at, h.c.ends_at)
        ).all()
    held: dict[str, list[Any]] = defaultdict(list)
    for row in holds:
        if row.kind in book.holds.kinds:
            held[row.borrower_id].append(row)
    breaks = 0
    connected: Counter[tuple[str, date]] = Counter()
    limit = book.frequency.connected_calls_per_person_per_day
    for c in made:
        at = _aware(c.at)
        for row in held.get(c.borrower_id, ()):
            about = row.loan_id is None or c.loan_id is None or row.loan_id == c.loan_id
            ends = None if row.ends_at is None else _aware(row.ends_at)
            if about and _aware(row.starts_at) <= at and (ends is None or at < ends):
                breaks += 1
                break
        if c.channel == "call" and c.result == "conversation":
            connected[(c.borrower_id, at.astimezone(zone).date())] += 1
    if limit is not None:
        breaks += sum(max(n - limit, 0) for n in connected.values())
    return breaks


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
