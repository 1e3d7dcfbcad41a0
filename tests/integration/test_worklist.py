"""Agent calls from a worklist: the queue in priority order, an outcome recorded once (the
item leaves the queue, a re-run of the day keeps it), a threatening note refused."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.conduct.outcomes import record_outcome
from arrears.service.daily.cycle import run_cycle
from arrears.service.errors import ServiceError
from arrears.service.outreach.worklist import items
from arrears.store import tables as t
from arrears.strategy.model import load
from tests.conftest import PlanBook

DAY = date(2026, 11, 23)


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(600, 5, DAY)


def test_a_collector_works_the_queue_in_priority_order(planned: App) -> None:
    queue = items(planned, "early_callback", DAY, limit=500)
    assert queue, "the default strategy plans early call-backs on this portfolio"
    assert [q.priority for q in queue] == sorted((q.priority for q in queue), reverse=True)
    assert {q.channel for q in queue} == {"agent_call"}
    with planned.engine.connect() as conn:
        zones = dict(conn.execute(select(t.borrower.c.borrower_id, t.borrower.c.timezone)).all())
    assert all(q.timezone == zones[q.borrower_id] for q in queue)  # shown beside the window
    first = queue[0]
    attempt = record_outcome(
        planned,
        first.action_id,
        collector_id="C0007",
        result="conversation",
        note="客户承诺本周五还款",
    )
    after = items(planned, "early_callback", DAY, limit=500)
    assert first.action_id not in {q.action_id for q in after} and len(after) == len(queue) - 1
    with planned.engine.connect() as conn:
        row = conn.execute(
            select(t.contact_attempt).where(t.contact_attempt.c.attempt_id == attempt)
        ).one()
    assert (row.channel, row.result, row.collector_id) == ("call", "conversation", "C0007")
    assert row.action_id == first.action_id and row.content.startswith("enc1:")  # sealed
    assert planned.cipher.open_text("contact_attempt.content", row.content) == "客户承诺本周五还款"
    assert "客户" not in row.content
    with pytest.raises(ServiceError, match="already done"):
        record_outcome(planned, first.action_id, collector_id="C0008", result="no_answer")
    run_cycle(planned, DAY, strategy=load("default"))  # a re-run of the day keeps the worked item
    again = items(planned, "early_callback", DAY, limit=500)
    assert first.action_id not in {q.action_id for q in again}
    with planned.engine.connect() as conn:
        status = conn.execute(
            select(t.plan_action.c.status).where(t.plan_action.c.action_id == first.action_id)
        ).scalar_one()
    assert status == "done"


def test_a_threatening_note_is_refused_and_nothing_is_written(planned: App) -> None:
    first = items(planned, "early_callback", DAY, limit=1)[0]
    with pytest.raises(ServiceError, match="note: prohibited language: threat"):
        record_outcome(
            planned,
            first.action_id,
            collector_id="C0007",
            result="conversation",
            note="再不还钱就弄死你",
        )
    with pytest.raises(ServiceError, match="result: expected one of"):
        record_outcome(planned, first.action_id, collector_id="C0007", result="great")
    assert items(planned, "early_callback", DAY, limit=1)[0].action_id == first.action_id
    with pytest.raises(ServiceError, match="not in the plan"):
        record_outcome(planned, "nope", collector_id="C0007", result="busy")
