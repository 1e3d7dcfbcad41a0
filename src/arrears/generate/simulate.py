"""Days of business, simulated on a generated portfolio so the console has a history to show.
The book's delinquency snapshot is stored for the first day (roll and cure rates start there);
then on each day, as if it were that day, the cycle runs, the dispatcher sends the plan through
the configured channels at 10:00, agents work their call queues (outcomes, some promises),
promised money mostly arrives when due, and a few other borrowers pay. Deterministic for a
seed.

Everything goes through the service layer, exactly as the real day would; only the clock is
moved (``App.clock``), and it is put back afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.channels.profiles import build, read
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.payments import post_payment
from arrears.service.cases.promises import Part, make_promise
from arrears.service.conduct.outcomes import record_outcome
from arrears.service.daily.cycle import run_cycle, strategy_from
from arrears.service.errors import ServiceError
from arrears.service.outreach.dispatch import dispatch
from arrears.service.outreach.state import Options
from arrears.service.outreach.worklist import items
from arrears.store import tables as t

CALL_QUEUES = ("early_callback", "mid_calls", "late_calls", "legal_desk")
AGENTS = ("C0007", "C0012", "C0023")


@dataclass
class Simulated:
    days: int = 0
    sent: int = 0
    calls: int = 0
    promises: int = 0
    payments: int = 0


def simulate(
    app: App,
    days: list[date],
    *,
    seed: int = 7,
    calls_per_queue: int = 12,
    pay_share: float = 0.02,
    progress: Callable[[str], None] | None = None,
) -> Simulated:
    rng = random.Random(seed)
    zone = ZoneInfo(app.settings.business_timezone)
    real = app.clock
    out = Simulated()
    s = app.settings
    adapters = build(read(s.providers_file), s.outbox_dir, s.outbox_files)
    try:
        if days:  # the book as the period starts, for roll and cure rates
            from arrears.service.daily.snapshots import portfolio_report

            app.clock = lambda: datetime.combine(days[0], time(9), zone)
            portfolio_report(app, days[0])
        for day in days:
            at = datetime.combine(day, time(10), zone)
            app.clock = lambda at=at: at  # type: ignore[misc]
            if progress:
                progress(f"{day}: cycle, dispatch, calls, payments")
            run_cycle(app, day, strategy=strategy_from(app, None))
            out.sent += dispatch(app, adapters, Options(day=day)).sent
            _calls(app, day, rng, calls_per_queue, out)
            app.clock = lambda at=at: at + timedelta(hours=8)  # type: ignore[misc]
            _payments(app, day, rng, pay_share, out)
            out.days += 1
    finally:
        app.clock = real
        for adapter in {id(x): x for x in adapters.values()}.values():
            adapter.close()
    return out


def _calls(app: App, day: date, rng: random.Random, per_queue: int, out: Simulated) -> None:
    for queue in CALL_QUEUES:
        for item in items(app, queue, day, limit=per_queue):
            result = rng.choices(
                ("conversation", "no_answer", "busy", "voicemail"), weights=(45, 35, 12, 8)
            )[0]
            agent = rng.choice(AGENTS)
            note = "借款人表示下周发工资后还款" if result == "conversation" else None
            try:
                record_outcome(app, item.action_id, collector_id=agent, result=result, note=note)
            except ServiceError:
                continue
            out.calls += 1
            if result == "conversation" and rng.random() < 0.6:
                due = int(statement_for_loan(app, item.loan_id, day)["total_due"])
                if due <= 0:
                    continue
                when = day + timedelta(days=rng.randint(1, 3))
                try:
                    make_promise(
                        app, item.loan_id, [Part(when, due)], source="agent_call", made_by=agent
                    )
                    out.promises += 1
                except ServiceError:
                    pass


def _payments(app: App, day: date, rng: random.Random, share: float, out: Simulated) -> None:
    """Promises due today are kept three times in four; a few other late borrowers pay."""
    pr, st = t.promise, t.account_stage
    with app.engine.connect() as conn:
        due = conn.execute(
            select(pr.c.loan_id, pr.c.amount).where(pr.c.due_on == day, pr.c.status == "pending")
        ).all()
        late = list(conn.execute(select(st.c.loan_id).order_by(st.c.loan_id)).scalars())
    payers = {loan: amount for loan, amount in due if rng.random() < 0.75}
    for loan in rng.sample(late, k=min(len(late), int(len(late) * share))):
        owed = int(statement_for_loan(app, loan, day)["total_due"])
        if owed > 0:
            payers.setdefault(loan, owed if rng.random() < 0.7 else max(owed // 2, 1))
    for loan, amount in sorted(payers.items()):
        try:
            post_payment(app, loan, int(amount), day, source="simulation")
            out.payments += 1
        except ServiceError:
            continue
