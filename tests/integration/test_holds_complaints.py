"""Holds and complaints through the service layer: a hold stops the debt's pending actions at
once and the next cycle's plan; a complaint about a contact puts the debt on hold (as the
policy says for its category), runs its SLA to escalation, and its upheld finding ends the hold
and counts against the collector and the template per 10,000 contacts."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.channels.outbox import Outbox
from arrears.service.cases.complaints import escalate, file_complaint, rates, resolve
from arrears.service.cases.hold_records import end_hold, start_hold
from arrears.service.daily.cycle import run_cycle
from arrears.service.errors import ServiceError
from arrears.service.outreach.dispatch import dispatch
from arrears.service.outreach.state import Options
from arrears.service.queries.casework import complaint_state
from arrears.store import tables as t
from arrears.store.db import as_utc
from arrears.strategy.model import load
from tests.conftest import FIXED_NOW, PlanBook
from tests.support.clock import Clock, plan_rows

DAY = date(2026, 11, 23)


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(1500, 23, DAY, clock=Clock())


def _hold(app: App, hold_id: str) -> Any:
    with app.engine.connect() as conn:
        return conn.execute(select(t.hold).where(t.hold.c.hold_id == hold_id)).one()


def test_a_hold_stops_the_debt_now_and_in_the_next_plan(planned: App) -> None:
    sms = plan_rows(planned, status="planned", channel="sms")
    target, other = sms[0], next(a for a in sms if a.borrower_id != sms[0].borrower_id)
    hold_id = start_hold(
        planned, "dispute", loan_id=target.loan_id, reason="says paid in cash", by="C0007"
    )
    now = {a.action_id: a for a in plan_rows(planned)}
    assert now[target.action_id].status == "cancelled"
    assert str(now[target.action_id].rule).startswith("cn.holds")
    assert now[other.action_id].status == "planned"  # another debt is untouched
    h = _hold(planned, hold_id)
    assert (h.kind, h.loan_id, h.created_by, h.ends_at) == (
        "dispute",
        target.loan_id,
        "C0007",
        None,
    )
    run_cycle(planned, DAY + timedelta(days=1), strategy=load("default"))
    tomorrow = plan_rows(planned, loan_id=target.loan_id, business_date=DAY + timedelta(days=1))
    assert all(a.status != "planned" for a in tomorrow)
    end_hold(planned, hold_id, reason="verified", by="S0001")
    with pytest.raises(ServiceError, match="ended at"):
        end_hold(planned, hold_id, reason="again")
    # a cease request covers the person, whichever loan it was given with
    cease = start_hold(planned, "cease_request", loan_id=other.loan_id)
    assert _hold(planned, cease).loan_id is None
    with pytest.raises(ServiceError, match="kind: expected one of"):
        start_hold(planned, "holiday", loan_id=other.loan_id)
    with pytest.raises(ServiceError, match="ends_at: .* is not in the future"):
        start_hold(planned, "hardship", loan_id=other.loan_id, ends_at=FIXED_NOW)
    with pytest.raises(ServiceError, match="give the loan"):
        start_hold(planned, "hardship")


def test_a_complaint_holds_the_debt_runs_its_sla_and_counts_against_who_it_is_about(
    planned: App, tmp_path: Path
) -> None:
    box = Outbox(tmp_path / "outbox")
    dispatch(
        planned,
        dict.fromkeys(("sms", "push", "email", "letter", "robocall"), box),
        Options(worker="w"),
    )
    ca = t.contact_attempt
    with planned.engine.connect() as conn:
        sent = conn.execute(
            select(ca)
            .where(ca.c.action_id.is_not(None), ca.c.channel == "sms")
            .order_by(ca.c.attempt_id)
        ).all()
    contact = sent[0]
    other = next(c for c in sent if c.borrower_id != contact.borrower_id)
    pending = plan_rows(planned, status="planned", loan_id=contact.loan_id)
    with pytest.raises(ServiceError, match="was not a contact with"):
        file_complaint(
            planned,
            borrower_id=contact.borrower_id,
            category="threats",
            description="x",
            source="portal",
            attempt_ids=[other.attempt_id],
        )
    with pytest.raises(ServiceError, match="category: expected one of"):
        file_complaint(
            planned,
            borrower_id=contact.borrower_id,
            category="rude",
            description="x",
            source="portal",
        )
    with pytest.raises(ServiceError, match="taken_by"):
        file_complaint(
            planned,
            borrower_id=contact.borrower_id,
            category="insults",
            description="x",
            source="collector",
        )
    cid = file_complaint(
        planned,
        borrower_id=contact.borrower_id,
        loan_id=contact.loan_id,
        category="threats",
        description="短信里说要上门，我很害怕",
        source="portal",
        attempt_ids=[contact.attempt_id],
    )
    with planned.engine.connect() as conn:
        linked = conn.execute(select(t.complaint_attempt.c.attempt_id)).scalars().all()
    row = complaint_state(planned, cid)
    assert (row.status, row.collector_id, row.template) == ("open", "SYS-001", contact.template)
    assert as_utc(row.sla_due_at) == FIXED_NOW + timedelta(days=15)
    assert linked == [contact.attempt_id]
    hold = _hold(planned, row.hold_id)
    assert (hold.kind, hold.loan_id) == ("complaint", contact.loan_id)
    after = {a.action_id: a.status for a in plan_rows(planned, loan_id=contact.loan_id)}
    assert all(after[a.action_id] == "cancelled" for a in pending)
    # too many calls does not hold the debt under the default policy
    mild = file_complaint(
        planned,
        borrower_id=other.borrower_id,
        category="too_many_calls",
        description="每天都打",
        source="api",
    )
    clock: Clock = planned.clock  # type: ignore[assignment]
    clock.at = FIXED_NOW + timedelta(days=9)
    assert escalate(planned) == []
    clock.at = FIXED_NOW + timedelta(days=10)
    assert sorted(escalate(planned)) == sorted([cid, mild])
    resolve(
        planned,
        cid,
        finding="upheld",
        resolution="template wording changed; apology sent",
        by="Q0001",
    )
    assert as_utc(_hold(planned, row.hold_id).ends_at) == clock.at
    with pytest.raises(ServiceError, match="resolved already"):
        resolve(planned, cid, finding="upheld", resolution="again", by="Q0001")
    found = {(r.by, r.key): r for r in rates(planned, FIXED_NOW - timedelta(days=1), clock.at)}
    sys = found[("collector", "SYS-001")]
    assert sys.complaints == 1 and sys.contacts >= len(sent)
    assert sys.per_10k == pytest.approx(10_000 / sys.contacts)
    assert found[("template", str(contact.template))].complaints == 1


def test_a_complaint_gets_an_owner_once_concurrently_and_only_a_fit_one(planned: App) -> None:
    """Only an active compliance officer owns a complaint (those who open the complaints
    pages: not a supervisor, not a collector); two people assigning
    it at once leave one owner and an entry each in the evidence log; giving it to its owner
    again writes nothing; a resolved complaint keeps its owner."""
    from concurrent.futures import ThreadPoolExecutor

    from arrears.service.cases.complaints import assign, owners
    from arrears.service.errors import Conflict, Invalid
    from arrears.service.queries.casework import complaints_by_deadline
    from arrears.service.staff.users import add_user

    for name, role in (("zhao", "compliance"), ("qian", "compliance"), ("wang", "supervisor"),
                       ("chen", "collector")):  # fmt: skip
        add_user(planned, username=name, password="correct-horse-battery", role=role)
    assert owners(planned) == ["qian", "zhao"]
    loan = plan_rows(planned, status="planned")[0]
    cid = file_complaint(
        planned, borrower_id=loan.borrower_id, loan_id=loan.loan_id, category="too_many_calls",
        description="called four times", source="portal",
    )  # fmt: skip
    for nobody in ("chen", "wang"):
        with pytest.raises(Invalid, match=f"owner: '{nobody}' is not an active compliance"):
            assign(planned, cid, owner=nobody, by="zhao")
    with pytest.raises(Invalid):
        assign(planned, cid, owner="nobody", by="zhao")

    def log() -> list[Any]:
        with planned.engine.connect() as conn:
            return list(
                conn.execute(
                    select(t.audit_log.c.payload).where(t.audit_log.c.kind == "complaint_assigned")
                ).scalars()
            )

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda o: assign(planned, cid, owner=o, by="sun"), ["zhao", "qian"]))
    (row,) = [c for c in complaints_by_deadline(planned, status=None, limit=50) if
              c["complaint_id"] == cid]  # fmt: skip
    assert row["owner"] in ("zhao", "qian") and row["assigned_by"] == "sun"
    assert len(log()) == 2
    # one after the other: the second entry names the first owner as the one it replaced
    assert '"was":null' in log()[0].replace(
        " ", ""
    ) and f'"was":"{"qian" if row["owner"] == "zhao" else "zhao"}"' in log()[1].replace(" ", "")
    assign(planned, cid, owner=row["owner"], by="sun")  # again: nothing new
    assert len(log()) == 2
    mine = complaints_by_deadline(planned, status=None, limit=50, owner=row["owner"])
    assert [c["complaint_id"] for c in mine] == [cid]
    nobodys = complaints_by_deadline(planned, status=None, limit=50, owner="")
    assert cid not in {c["complaint_id"] for c in nobodys}
    resolve(planned, cid, finding="not_upheld", resolution="calls were within the rules", by="qian")
    with pytest.raises(Conflict, match="resolved already"):
        assign(planned, cid, owner="zhao", by="qian")
