"""The contact-frequency report: per borrower on the borrower's own local days (an evening
call in Urumqi is that day, not the next), connected calls and dials to one number against the
rulebook's limits, lender and agencies together; per collector, calls, talk time, borrowers
reached and breaches. The page and its files are for compliance alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from arrears.bootstrap import App
from arrears.service.errors import Invalid
from arrears.service.queries.frequency import contact_frequency
from arrears.store import tables as t
from tests.conftest import PlanBook
from tests.support.clock import Clock, plan_rows

DAY = date(2026, 11, 23)


@pytest.fixture
def book(plan_book: PlanBook) -> App:
    return plan_book(300, 5, DAY, clock=Clock())


def _calls(app: App, borrower: str, at: list[datetime], *, collector: str, number: str,
           result: str = "conversation", breach: bool = False, role: str = "debtor",
           direction: str = "outbound") -> None:  # fmt: skip
    with app.engine.begin() as conn:
        for k, when in enumerate(at):
            conn.execute(
                insert(t.contact_attempt).values(
                    attempt_id=f"f-{borrower}-{collector}-{when.isoformat()}-{k}",
                    borrower_id=borrower,
                    channel="call",
                    at=when,
                    direction=direction,
                    role=role,
                    result=result,
                    collector_id=collector,
                    destination_hash=number,
                    duration_seconds=90,
                    breach=breach,
                )
            )


def test_counts_by_the_borrowers_own_day_against_the_limits(book: App) -> None:
    rows = plan_rows(book)
    far, near = (
        rows[0].borrower_id,
        next(r.borrower_id for r in rows if r.borrower_id != rows[0].borrower_id),
    )
    with book.engine.begin() as conn:
        conn.execute(
            update(t.borrower).where(t.borrower.c.borrower_id == far).values(timezone="Asia/Urumqi")
        )
        conn.execute(
            update(t.borrower)
            .where(t.borrower.c.borrower_id == near)
            .values(timezone="Asia/Shanghai")
        )
    # 15:30 UTC is 23:30 in Shanghai (that day) and 21:30 in Urumqi (the same day), 16:30 UTC
    # is 00:30 the next day in Shanghai but 22:30 the same day in Urumqi
    base = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    four = [base - timedelta(hours=6), base - timedelta(hours=3), base, base + timedelta(hours=1)]
    _calls(book, far, four, collector="C0007", number="h1")  # four connected, one local day
    _calls(book, near, four, collector="C0008", number="h2", breach=True)  # split over two days
    _calls(book, near, [base + timedelta(minutes=m) for m in range(7)], collector="A0001",
           number="h3", result="no_answer")  # fmt: skip  # seven dials, one number, one day
    # calls that the rules do not count: inbound, and to an emergency contact
    _calls(
        book,
        far,
        [base - timedelta(hours=2)],
        collector="C0007",
        number="h1",
        role="emergency_contact",
    )
    _calls(
        book, far, [base - timedelta(hours=1)], collector="C0007", number="h1", direction="inbound"
    )
    rep = contact_frequency(book, date(2026, 11, 14), date(2026, 11, 20))
    assert {(k, v.connected, v.dials) for k, v in rep.limits.items()} == {("cn", 3, 6)}
    by = {r["borrower_id"]: r for r in rep.borrowers}
    assert by[far]["most_connected_in_a_day"] == 4 and by[far]["days_over_a_limit"] == 1
    assert by[far]["connected"] == 4 and by[far]["calls"] == 4
    # Shanghai: three on the 20th and one on the 21st, outside the report; the dials on the 20th
    assert by[near]["most_connected_in_a_day"] == 3
    assert by[near]["most_dials_to_a_number_in_a_day"] == 7 and by[near]["days_over_a_limit"] == 1
    assert rep.borrowers[0]["days_over_a_limit"] == 1  # those over a limit first
    cs = {r["collector_id"]: r for r in rep.collectors}
    assert cs["C0007"]["calls"] == 5 and cs["C0007"]["talk_minutes"] == 7.5  # + the contact's
    assert cs["C0007"]["most_connected_to_a_borrower_in_a_day"] == 4
    assert cs["C0008"]["breaches"] == 3 and cs["C0008"]["borrowers_reached"] == 1
    assert cs["A0001"]["connected"] == 0 and cs["A0001"]["calls"] == 7
    assert rep.borrowers_total == len(rep.borrowers) >= 2
    first = contact_frequency(book, date(2026, 11, 14), date(2026, 11, 20), limit=1)
    assert len(first.borrowers) == 1 and first.borrowers_total == rep.borrowers_total
    with pytest.raises(Invalid, match="before"):
        contact_frequency(book, date(2026, 11, 20), date(2026, 11, 14))
    with pytest.raises(Invalid, match="at most 92 days"):
        contact_frequency(book, date(2026, 1, 1), date(2026, 11, 14))
