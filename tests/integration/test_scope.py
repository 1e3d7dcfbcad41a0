"""Need to know: a collector opens the accounts of their queues and their own work; any other
account needs a stated reason (break-glass), logged, raised to compliance and good for the day;
an agency user sees only what is placed with it; supervisors see every account. Concurrent
break-glass requests each leave their own trace."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.errors import Forbidden, Invalid, NotFound
from arrears.service.staff.account_view import account, can_see
from arrears.service.staff.scope import break_glass
from arrears.service.staff.users import Staff
from arrears.store import tables as t
from tests.conftest import FIXED_NOW, PlanBook

DAY = date(2026, 11, 23)
CHEN = Staff("u-chen", "chen", "Chen", "collector", None, "C0007", ("early_callback",))
BOSS = Staff("u-wang", "wang", "Wang", "supervisor", None, None)
AGENT = Staff("u-ag", "north", "North", "agency", "AG-NORTH", None)


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(600, 5, DAY, clock=lambda: FIXED_NOW)


def _loans(app: App) -> tuple[str, str]:
    """A loan planned in early_callback, and one planned only in other queues."""
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        mine = conn.execute(
            select(pa_.c.loan_id).where(pa_.c.queue == "early_callback").limit(1)
        ).scalar_one()
        ours = select(pa_.c.loan_id).where(pa_.c.queue == "early_callback")
        other = conn.execute(
            select(t.loan.c.loan_id).where(t.loan.c.loan_id.not_in(ours)).limit(1)
        ).scalar_one()
    return mine, other


def test_a_collector_opens_their_queue_and_needs_a_reason_for_the_rest(planned: App) -> None:
    mine, other = _loans(planned)
    assert can_see(planned, CHEN, mine)
    assert not can_see(planned, CHEN, other)
    with pytest.raises(NotFound):
        account(planned, CHEN, other)  # the service refuses whatever the page does
    assert can_see(planned, BOSS, other)
    with pytest.raises(Invalid, match="reason"):
        break_glass(planned, CHEN, other, "  look  ")
    with pytest.raises(NotFound):
        break_glass(planned, CHEN, "NO-SUCH-LOAN", "the borrower called the hotline")
    with pytest.raises(Forbidden):
        break_glass(planned, BOSS, other, "supervisors need no break-glass")
    grant = break_glass(planned, CHEN, other, "borrower called the hotline about this loan")
    assert can_see(planned, CHEN, other) and account(planned, CHEN, other).loan_id == other
    with planned.engine.connect() as conn:
        alert = conn.execute(
            select(t.conduct_alert).where(t.conduct_alert.c.kind == "break_glass")
        ).one()
        logged = conn.execute(
            select(t.access_log.c.what).where(t.access_log.c.user_id == CHEN.user_id)
        ).scalars()
        what = set(logged)
    assert alert.loan_id == other and grant in alert.rules and "hotline" in alert.detail
    assert alert.status == "open" and "break_glass" in what
    planned.clock = lambda: FIXED_NOW + timedelta(days=1)  # the grant lasts the day
    assert not can_see(planned, CHEN, other)


def test_an_agency_user_sees_only_what_is_placed_with_it(planned: App) -> None:
    mine, other = _loans(planned)
    assert not can_see(planned, AGENT, mine)
    with planned.engine.begin() as conn:
        borrower = conn.execute(
            select(t.loan.c.borrower_id).where(t.loan.c.loan_id == other)
        ).scalar_one()
        conn.execute(
            t.placement.insert().values(
                placement_id="pl-1",
                loan_id=other,
                borrower_id=borrower,
                agency="AG-NORTH",
                placed_on=DAY,
                recall_by=DAY + timedelta(days=30),
                balance=1,
                status="placed",
                file="f.csv",
            )
        )
    assert can_see(planned, AGENT, other) and not can_see(planned, AGENT, mine)
    with pytest.raises(Forbidden):
        break_glass(planned, AGENT, mine, "an agency may not break the glass")


def test_concurrent_break_glass_requests_each_leave_a_trace(planned: App) -> None:
    _, other = _loans(planned)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def go(k: int) -> None:
        barrier.wait()
        try:
            break_glass(planned, CHEN, other, f"borrower called the hotline, ticket {k}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(k,)) for k in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    with planned.engine.connect() as conn:
        grants = conn.execute(select(t.access_grant)).all()
        alerts = conn.execute(
            select(t.conduct_alert).where(t.conduct_alert.c.kind == "break_glass")
        ).all()
    assert len(grants) == 3 and len(alerts) == 3
    assert {g.reason[-8:] for g in grants} == {f"ticket {k}" for k in range(3)}


def test_masked_roles_see_no_personal_data_inside_what_people_wrote(planned: App) -> None:
    from arrears.service.conduct.outcomes import record_outcome
    from arrears.service.outreach.worklist import items

    item = items(planned, "early_callback", DAY, limit=1)[0]
    with planned.engine.connect() as conn:
        sealed = conn.execute(
            select(t.borrower.c.name_enc).where(t.borrower.c.borrower_id == item.borrower_id)
        ).scalar_one()
    name = planned.cipher.decrypt("borrower.name", sealed)
    assert name
    note = f"{name}接听，称新号码13998765432，周五还款"
    record_outcome(planned, item.action_id, collector_id="C0007", result="conversation", note=note)
    seen = " ".join(str(e["detail"]) for e in account(planned, CHEN, item.loan_id).timeline)
    assert name not in seen and "13998765432" not in seen and "139****5432" in seen
    officer = Staff("u-zhao", "zhao", "Zhao", "compliance", None, None)
    full = " ".join(str(e["detail"]) for e in account(planned, officer, item.loan_id).timeline)
    assert name in full and "13998765432" in full


def _phone_of(app: App, loan_id: str) -> str:
    with app.engine.connect() as conn:
        enc = conn.execute(
            select(t.contact_point.c.value_enc)
            .join(t.loan, t.loan.c.borrower_id == t.contact_point.c.borrower_id)
            .where(
                t.loan.c.loan_id == loan_id,
                t.contact_point.c.kind == "phone",
                t.contact_point.c.owner_role == "borrower",
            )
        ).first()
    assert enc is not None
    return str(app.cipher.decrypt("contact_point.value", enc.value_enc))


def test_search_finds_by_any_key_and_lists_only_what_the_user_may_open(planned: App) -> None:
    from arrears.service.staff.search import search

    mine, other = _loans(planned)
    phone = "".join(ch for ch in _phone_of(planned, mine) if ch.isdigit())
    for typed in (phone, f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}", f" {phone} "):
        hits = search(planned, CHEN, typed)
        assert mine in {h.loan_id for h in hits} and {h.matched for h in hits} == {"phone"}
    assert [h.loan_id for h in search(planned, CHEN, mine)] == [mine]
    assert search(planned, CHEN, other) == []  # not theirs: no hint that it exists
    assert [h.loan_id for h in search(planned, BOSS, other)] == [other]
    assert search(planned, AGENT, mine) == []  # not placed with the agency
    assert search(planned, BOSS, "13800000000-not-a-number") == []
    with pytest.raises(Invalid, match="q: give a loan reference"):
        search(planned, BOSS, "   ")
    with planned.engine.connect() as conn:
        logged = conn.execute(
            select(t.access_log.c.what).where(t.access_log.c.what == "search")
        ).all()
    assert len(logged) == 3  # each lookup by phone that found something, logged
