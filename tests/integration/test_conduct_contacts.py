"""A person's contact goes through the gate as a message does: an agent call's outcome recorded
for 04:09 local time is refused with the reason and when it becomes allowed (nothing written);
where the lender's policy records such contacts, it is a breach with a conduct alert; a visit
needs two collectors; every outcome is in the hash-chained evidence log with the gate's answer;
two collectors recording the same item at once write it once."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.service.conduct.outcomes import record_outcome
from arrears.service.errors import Conflict, Invalid, ServiceError
from arrears.service.outreach.worklist import items
from arrears.service.staff.evidence_log import verify_log
from arrears.store import tables as t
from tests.conftest import PlanBook

DAY = date(2026, 11, 23)
NIGHT = datetime(2026, 11, 22, 20, 9, tzinfo=UTC)  # 04:09 on the 23rd in Shanghai
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(600, 5, DAY, clock=lambda: NOON)


def _first(app: App) -> str:
    queue = items(app, "early_callback", DAY, limit=1)
    assert queue, "the default strategy plans early call-backs on this portfolio"
    return queue[0].action_id


def _counts(app: App) -> tuple[int, int, int]:
    with app.engine.connect() as conn:
        return (
            int(conn.execute(select(func.count()).select_from(t.contact_attempt)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(t.audit_log)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(t.conduct_alert)).scalar_one()),
        )


def _breach_policy(app: App, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("default:\n  conduct: {out_of_policy_contact: record_as_breach}\n")
    app.settings = app.settings.model_copy(update={"collections_policy_file": path})


def test_an_outcome_recorded_for_a_call_at_night_is_refused_and_nothing_is_written(
    planned: App,
) -> None:
    action = _first(planned)
    before = _counts(planned)
    with pytest.raises(Conflict) as info:
        record_outcome(planned, action, collector_id="C0007", result="conversation", at=NIGHT)
    message = str(info.value)
    assert info.value.field == "at"
    assert "04:09" in message and "Asia/Shanghai" in message and "cn.hours" in message
    assert "allowed from 2026-11-23 08:00" in message and "nothing was recorded" in message
    assert _counts(planned) == before
    assert items(planned, "early_callback", DAY, limit=1)[0].action_id == action


def test_the_lenders_policy_may_record_it_as_a_breach_with_an_alert(
    planned: App, tmp_path: Path
) -> None:
    _breach_policy(planned, tmp_path)
    action = _first(planned)
    attempt = record_outcome(planned, action, collector_id="C0007", result="no_answer", at=NIGHT)
    with planned.engine.connect() as conn:
        row = conn.execute(
            select(t.contact_attempt).where(t.contact_attempt.c.attempt_id == attempt)
        ).one()
        alert = conn.execute(select(t.conduct_alert)).one()
        entry = conn.execute(select(t.audit_log).where(t.audit_log.c.kind == "agent_contact")).one()
    assert row.breach is True and row.result == "no_answer"
    assert (alert.kind, alert.status, alert.attempt_id) == (
        "out_of_policy_contact",
        "open",
        attempt,
    )
    assert alert.collector_id == "C0007" and "cn.hours" in alert.rules
    assert "规则不允许" in alert.detail_zh
    payload = json.loads(entry.payload)
    assert payload["breach"] is True and payload["gate"]["allowed"] is False
    assert "cn.hours.contact_window" in payload["gate"]["rules"] or any(
        r.startswith("cn.hours") for r in payload["gate"]["rules"]
    )


def test_every_outcome_is_evidence_in_the_chain(planned: App) -> None:
    action = _first(planned)
    note = "客户承诺本周五还款"
    attempt = record_outcome(
        planned, action, collector_id="C0007", result="conversation", note=note
    )
    with planned.engine.connect() as conn:
        entry = conn.execute(select(t.audit_log).where(t.audit_log.c.kind == "agent_contact")).one()
    payload = json.loads(entry.payload)
    assert payload["attempt_id"] == attempt and payload["collectors"] == ["C0007"]
    assert payload["note_sha256"] == hashlib.sha256(note.encode()).hexdigest()
    assert payload["gate"]["allowed"] is True and payload["breach"] is False
    assert note not in entry.payload  # the words are sealed in the contact, their hash here
    assert verify_log(planned).ok


def test_a_visit_needs_two_collectors(planned: App) -> None:
    with planned.engine.connect() as conn:
        visit = conn.execute(
            select(t.plan_action.c.action_id).where(
                t.plan_action.c.channel == "visit", t.plan_action.c.status == "planned"
            )
        ).scalar()
    if visit is None:  # the default strategy plans visits late; make one of a call
        action = _first(planned)
        with planned.engine.begin() as conn:
            conn.execute(
                t.plan_action.update()
                .where(t.plan_action.c.action_id == action)
                .values(channel="visit")
            )
        visit = action
    with pytest.raises(Conflict, match="visit_collectors"):
        record_outcome(planned, visit, collector_id="F001", result="conversation")
    with pytest.raises(Invalid, match="another person"):
        record_outcome(
            planned, visit, collector_id="F001", result="conversation", companion_id="F001"
        )
    attempt = record_outcome(
        planned, visit, collector_id="F001", result="conversation", companion_id="F002"
    )
    with planned.engine.connect() as conn:
        row = conn.execute(
            select(t.contact_attempt).where(t.contact_attempt.c.attempt_id == attempt)
        ).one()
    assert (row.channel, row.collector_id, row.companion_id) == ("visit", "F001", "F002")


def test_two_collectors_recording_the_same_item_at_once_write_it_once(planned: App) -> None:
    action = _first(planned)
    before = _counts(planned)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def go(who: str) -> None:
        barrier.wait()
        try:
            record_outcome(planned, action, collector_id=who, result="conversation")
            results.append("ok")
        except ServiceError as exc:
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=go, args=(f"C00{k}",)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results.count("ok") == 1 and set(results) <= {"ok", "Conflict"}
    contacts, entries, _ = _counts(planned)
    assert (contacts, entries) == (before[0] + 1, before[1] + 1)
    assert verify_log(planned).ok


def test_the_apis_outcome_endpoint_applies_the_same_gate(planned: App) -> None:
    import httpx

    from arrears.service.staff.users import create_token
    from arrears.web.app import create_app
    from tests.support.servers import serve_asgi

    action = _first(planned)
    token = create_token(planned, "core-banking", ["read", "write"])
    headers = {"Authorization": f"Bearer {token}"}
    body = {"collector_id": "C0007", "result": "conversation"}
    planned.clock = lambda: NIGHT
    with serve_asgi(create_app(planned)) as url:
        night = httpx.post(f"{url}/api/v1/actions/{action}/outcome", json=body, headers=headers)
        assert night.status_code == 422, night.text
        assert night.json()["field"] == "at" and "allowed from" in night.json()["detail"]
        planned.clock = lambda: NOON
        noon = httpx.post(f"{url}/api/v1/actions/{action}/outcome", json=body, headers=headers)
        assert noon.status_code == 201, noon.text
        again = httpx.post(f"{url}/api/v1/actions/{action}/outcome", json=body, headers=headers)
        assert again.status_code == 422 and "already" in again.json()["detail"]


def test_borrowers_never_see_staff_notes(planned: App) -> None:
    from arrears.service.borrower.portal import history, recent_contacts

    first = items(planned, "early_callback", DAY, limit=1)[0]
    note = "客户说下周发工资后还款，语气平和"
    attempt = record_outcome(
        planned, first.action_id, collector_id="C0007", result="conversation", note=note
    )
    seen = history(planned, first.borrower_id, first.loan_id)["contacts"]
    mine = [c for c in seen if c["attempt_id"] == attempt]
    assert mine and mine[0]["content"] is None and mine[0]["channel"] == "call"
    recent = [c for c in recent_contacts(planned, first.borrower_id) if c["attempt_id"] == attempt]
    assert recent and recent[0]["content"] is None
    assert note not in json.dumps(seen, default=str, ensure_ascii=False)
