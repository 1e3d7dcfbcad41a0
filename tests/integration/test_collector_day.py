"""The collector's day, end to end through the store: what a call came to (the disposition) and
the borrower's reason, with what follows (a dispute starts a hold; the reason becomes a strategy
attribute); a call-back at a chosen time, gated like any call and kept by a re-run; unworked
calls carried over by the strategy's rule, then expired; nothing half-written on a refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.service.conduct.dispositions import Wrap
from arrears.service.conduct.outcomes import record_outcome
from arrears.service.daily.cycle import run_cycle
from arrears.service.errors import ServiceError
from arrears.service.outreach.worklist import items
from arrears.store import tables as t
from arrears.strategy.model import load, loads
from tests.conftest import FIXED_NOW, PlanBook
from tests.support.clock import Clock, plan_rows

DAY = date(2026, 11, 23)
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUE = "early_callback"
STEERED = """
strategy: steered
version: "1"
title: {zh-CN: 按原因分组, en: By reason}
stages:
  - {name: overdue, from: 1}
segments:
  - {name: lost_job, when: 'delinquency_reason == "job_loss"'}
  - {name: other}
queues:
  q: {capacity: 100000}
treatments:
  overdue:
    lost_job:
      - {every: 1, from_day: 1, channel: agent_call, queue: q}
    other:
      - {every: 1, from_day: 1, channel: agent_call, queue: q}
"""


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(600, 5, DAY, clock=Clock())


def _first(app: App, n: int = 0) -> Any:
    queue = items(app, QUEUE, DAY, limit=500)
    assert len(queue) > n, "the default strategy plans early call-backs on this portfolio"
    return queue[n]


def _attempts(app: App) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.contact_attempt)).scalar_one())


def test_a_disposition_and_a_reason_are_kept_and_steer_the_next_plan(planned: App) -> None:
    item = _first(planned)
    attempt = record_outcome(
        planned,
        item.action_id,
        collector_id="C0007",
        result="conversation",
        note="客户说上月被裁员，下周找到工作后还款",
        wrap=Wrap("right_party", "job_loss"),
    )
    with planned.engine.connect() as conn:
        row = conn.execute(
            select(t.contact_attempt).where(t.contact_attempt.c.attempt_id == attempt)
        ).one()
    assert (row.disposition, row.reason) == ("right_party", "job_loss")
    # a strategy may now segment on what the borrower said
    steered = loads(STEERED, "steered.yaml")
    clock: Clock = planned.clock  # type: ignore[assignment]
    clock.at = FIXED_NOW + timedelta(days=1)
    run_cycle(planned, DAY + timedelta(days=1), strategy=steered)
    segments = {
        a.segment
        for a in plan_rows(planned, loan_id=item.loan_id, business_date=DAY + timedelta(1))
    }
    others = {
        a.segment
        for a in plan_rows(planned, business_date=DAY + timedelta(1))
        if a.loan_id != item.loan_id
    }
    assert segments == {"lost_job"}, segments
    assert "lost_job" not in others


def test_a_dispute_starts_a_hold_and_stops_the_accounts_contacts(planned: App) -> None:
    item = _first(planned)
    record_outcome(
        planned,
        item.action_id,
        collector_id="C0007",
        result="conversation",
        note="客户称已结清，对欠款有异议",
        wrap=Wrap("dispute", "dispute"),
    )
    with planned.engine.connect() as conn:
        holds = conn.execute(
            select(t.hold.c.kind, t.hold.c.loan_id, t.hold.c.created_by).where(
                t.hold.c.borrower_id == item.borrower_id
            )
        ).all()
    assert [(h.kind, h.loan_id, h.created_by) for h in holds] == [
        ("dispute", item.loan_id, "C0007")
    ]
    left = [a for a in plan_rows(planned, loan_id=item.loan_id) if a.status == "planned"]
    assert left == [], [(a.action_id, a.channel) for a in left]


#: wrap-ups that do not hold together, and what the refusal says
INCOHERENT = [
    ("no_answer", Wrap("right_party"), "nobody answered, so it cannot be right_party"),
    ("busy", Wrap("promise"), "nobody answered"),
    ("conversation", Wrap("third_party", "job_loss"), "only the borrower gives a reason"),
    ("conversation", Wrap(None, "illness"), "only the borrower gives a reason"),
    ("conversation", Wrap("happy"), "disposition: expected one of"),
    ("conversation", Wrap("right_party", "bored"), "reason: expected one of"),
]


def test_a_wrap_up_that_does_not_hold_together_writes_nothing(planned: App) -> None:
    item = _first(planned)
    before = _attempts(planned)
    for result, wrap, said in INCOHERENT:
        with pytest.raises(ServiceError, match=said):
            record_outcome(planned, item.action_id, collector_id="C0007", result=result, wrap=wrap)
    assert _attempts(planned) == before
    assert item.action_id in {q.action_id for q in items(planned, QUEUE, DAY, limit=500)}


def test_a_call_back_at_a_chosen_time_is_a_timed_item_gated_like_any_call(planned: App) -> None:
    item = _first(planned)
    before = _attempts(planned)
    tz = ZoneInfo(_timezone(planned, item.borrower_id))
    at_night = datetime.combine(DAY, datetime.min.time(), tz).replace(hour=23)
    with pytest.raises(ServiceError, match="hours"):
        record_outcome(
            planned,
            item.action_id,
            collector_id="C0007",
            result="conversation",
            wrap=Wrap("right_party", call_back_at=at_night),
        )
    with pytest.raises(ServiceError, match="must lie after now"):
        record_outcome(
            planned,
            item.action_id,
            collector_id="C0007",
            result="conversation",
            wrap=Wrap("right_party", call_back_at=FIXED_NOW - timedelta(hours=1)),
        )
    assert _attempts(planned) == before  # both refused before anything was written
    three_pm = datetime.combine(DAY, datetime.min.time(), tz).replace(hour=15)
    record_outcome(
        planned,
        item.action_id,
        collector_id="C0007",
        result="conversation",
        note="客户在开会，下午三点再打",
        wrap=Wrap("right_party", call_back_at=three_pm),
    )
    queue = items(planned, QUEUE, DAY, limit=500)
    backs = [q for q in queue if q.call_back]
    assert [(q.loan_id, q.window_start) for q in backs] == [
        (item.loan_id, three_pm.astimezone(UTC))
    ]
    run_cycle(planned, DAY, strategy=load("default"))  # a re-run of the day keeps it
    again = [q for q in items(planned, QUEUE, DAY, limit=500) if q.call_back]
    assert [q.action_id for q in again] == [backs[0].action_id]


def _timezone(app: App, borrower_id: str) -> str:
    with app.engine.connect() as conn:
        return str(
            conn.execute(
                select(t.borrower.c.timezone).where(t.borrower.c.borrower_id == borrower_id)
            ).scalar_one()
        )


def test_unworked_calls_are_carried_over_then_expire(planned: App) -> None:
    unworked = {q.action_id for q in items(planned, QUEUE, DAY, limit=500)}
    assert unworked
    worked = _first(planned)
    record_outcome(planned, worked.action_id, collector_id="C0007", result="no_answer")
    unworked.discard(worked.action_id)
    clock: Clock = planned.clock  # type: ignore[assignment]
    next_day = DAY + timedelta(days=1)
    clock.at = FIXED_NOW + timedelta(days=1)
    run_cycle(planned, next_day, strategy=load("default"))
    by_id = {a.action_id: a for a in plan_rows(planned) if a.action_id in unworked}
    carried = {i for i, a in by_id.items() if a.status == "planned"}
    expired = {i: a.rule for i, a in by_id.items() if a.status == "expired"}
    assert carried | set(expired) == unworked, "every unworked call is carried or expired"
    assert carried, "the default strategy carries an unworked call one day"
    for i in carried:
        assert (by_id[i].business_date, by_id[i].carried_from) == (next_day, DAY)
    assert all(
        r in ("carry_over.replanned", "carry_over.left_collection") or r.startswith("suppression.")
        for r in expired.values()
    ), expired
    shown = {q.action_id: q for q in items(planned, QUEUE, next_day, limit=1000)}
    assert carried <= set(shown) and all(shown[i].carried_from == DAY for i in carried)
    assert worked.action_id not in shown
    # a re-run of the day keeps what it carried; the day after, they expire
    run_cycle(planned, next_day, strategy=load("default"))
    assert carried <= {q.action_id for q in items(planned, QUEUE, next_day, limit=1000)}
    clock.at = FIXED_NOW + timedelta(days=2)
    run_cycle(planned, next_day + timedelta(days=1), strategy=load("default"))
    rows = {a.action_id: a for a in plan_rows(planned) if a.action_id in carried}
    assert {(a.status, a.rule) for a in rows.values()} == {("expired", "carry_over.expired")}


def test_a_re_run_of_the_day_judges_again_what_it_carried(planned: App, tmp_path: Path) -> None:
    """What the day's first run carried over is not left alone by a re-run: run again with a
    strategy that carries nothing, the carried calls expire and leave the queue."""
    from importlib import resources

    unworked = {q.action_id for q in items(planned, QUEUE, DAY, limit=500)}
    clock: Clock = planned.clock  # type: ignore[assignment]
    next_day = DAY + timedelta(days=1)
    clock.at = FIXED_NOW + timedelta(days=1)
    run_cycle(planned, next_day, strategy=load("default"))
    carried = {
        a.action_id for a in plan_rows(planned)
        if a.action_id in unworked and a.status == "planned"
    }  # fmt: skip
    assert carried
    shipped = (resources.files("arrears.strategy") / "strategies" / "default.yaml").read_text()
    strict = tmp_path / "strict.yaml"
    no_calls = shipped.replace("carry_over: {agent_call: 1, visit: 2}", "carry_over: {visit: 2}")
    assert no_calls != shipped
    strict.write_text(no_calls, encoding="utf-8")
    run_cycle(planned, next_day, strategy=load(strict))
    rows = {a.action_id: a for a in plan_rows(planned) if a.action_id in carried}
    assert {(a.status, a.rule) for a in rows.values()} == {("expired", "carry_over.expired")}
    assert not carried & {q.action_id for q in items(planned, QUEUE, next_day, limit=1000)}
