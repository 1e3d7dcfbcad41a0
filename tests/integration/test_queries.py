"""The supervisor's team figures (arrears.service.queries.team), on SQLite and PostgreSQL,
against a store built by hand: two collectors with contacts today (one known by their
collector id, one by their user name), promise parts kept, broken and pending, complaints
about them, and what falls outside the periods (a contact yesterday, a promise and a complaint
from 40 days ago, someone else's work). The figures take the same number of queries however
many people there are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from arrears.bootstrap import App
from arrears.service.queries.team import TeamMember, team_figures
from arrears.service.staff.users import add_user
from arrears.store import tables as t
from arrears.store.ingest.loader import ingest
from tests.conftest import FIXED_NOW
from tests.support.files import readme_loan_files

PASSWORD = "correct-horse-battery"
#: midnight of FIXED_NOW's business day (2026-11-23 in Shanghai) in UTC
DAY0 = datetime(2026, 11, 22, 16, 0, tzinfo=FIXED_NOW.tzinfo)


def _contacts(app: App, who: str | None, *ats: datetime) -> None:
    with app.engine.begin() as conn:
        for at in ats:
            conn.execute(
                insert(t.contact_attempt).values(
                    attempt_id=f"a-{who}-{at:%m%d%H%M%S}",
                    borrower_id="B1",
                    loan_id="L1",
                    channel="call",
                    at=at,
                    direction="outbound",
                    role="debtor",
                    result="conversation",
                    collector_id=who,
                )
            )


def _promises(app: App, who: str | None, *parts: tuple[str, datetime]) -> None:
    with app.engine.begin() as conn:
        for k, (status, made_at) in enumerate(parts):
            conn.execute(
                insert(t.promise).values(
                    promise_id=f"L1-{who}-P{k}",
                    loan_id="L1",
                    amount=10_000,
                    due_on=made_at.date() + timedelta(days=3),
                    made_at=made_at,
                    status=status,
                    seq=1,
                    source="agent_call",
                    made_by=who,
                )
            )


def _complaints(app: App, who: str | None, *received: datetime) -> None:
    with app.engine.begin() as conn:
        for k, at in enumerate(received):
            conn.execute(
                insert(t.complaint).values(
                    complaint_id=f"cp-{who}-{k}",
                    borrower_id="B1",
                    loan_id="L1",
                    category="too_many_calls",
                    description="they call all day",
                    source="api",
                    received_at=at,
                    sla_due_at=at + timedelta(days=15),
                    status="open",
                    collector_id=who,
                )
            )


def _member(username: str, name: str, role: str, cid: str, *figures: int) -> TeamMember:
    today, promises, kept, decided, complaints = figures
    return TeamMember(
        username=username,
        name=name,
        role=role,
        collector_id=cid,
        queues="",
        contacts_today=today,
        promises=promises,
        kept=kept,
        decided=decided,
        complaints=complaints,
    )


@contextmanager
def _statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(app.engine, "before_cursor_execute", count)


def test_the_team_figures_from_a_store_built_by_hand(app: App, tmp_path: Path) -> None:
    ingest(app.engine, app.cipher, [readme_loan_files(tmp_path / "in")], clock=lambda: FIXED_NOW)
    add_user(
        app,
        username="chen",
        password=PASSWORD,
        role="collector",
        collector_id="C0007",
        display_name="Chen",
    )
    add_user(app, username="wu", password=PASSWORD, role="collector", display_name="Wu")
    add_user(app, username="bo", password=PASSWORD, role="supervisor")  # not in the team
    hour = timedelta(hours=1)
    _contacts(app, "C0007", DAY0, FIXED_NOW - hour, FIXED_NOW, DAY0 - hour)  # the last: yesterday
    _contacts(app, "wu", DAY0 + hour, DAY0 + 2 * hour)
    _contacts(app, "C0099", FIXED_NOW)  # no one of the team
    _contacts(app, None, FIXED_NOW)  # a message the system sent
    days = timedelta(days=1)
    _promises(
        app,
        "C0007",
        ("kept", FIXED_NOW - 20 * days),
        ("broken", FIXED_NOW - 10 * days),
        ("partly_kept", FIXED_NOW - 5 * days),
        ("kept", FIXED_NOW - 2 * days),
        ("pending", FIXED_NOW - hour),
        ("kept", FIXED_NOW - 40 * days),
    )  # the last: before the 30 days
    _promises(app, "wu", ("pending", FIXED_NOW - days), ("pending", FIXED_NOW - hour))
    _promises(app, "C0099", ("kept", FIXED_NOW - days))
    _complaints(app, "C0007", FIXED_NOW - 3 * days, FIXED_NOW - hour, FIXED_NOW - 40 * days)
    _complaints(app, "wu", FIXED_NOW - 29 * days)
    _complaints(app, None, FIXED_NOW - days)

    with _statements(app) as seen:
        team = team_figures(app, app.today())
    # contacts today, promise parts in 30 days, of them kept, decided, complaints in 30 days
    chen = _member("chen", "Chen", "collector", "C0007", 3, 5, 2, 4, 2)
    wu = _member("wu", "Wu", "collector", "wu", 2, 2, 0, 0, 1)
    assert team == [chen, wu]
    queries = len(seen)

    # more people, one of them idle: the same number of queries
    add_user(
        app,
        username="an",
        password=PASSWORD,
        role="field_agent",
        collector_id="F01",
        display_name="An",
    )
    add_user(
        app,
        username="zed",
        password=PASSWORD,
        role="collector",
        collector_id="C0099",
        display_name="Zed",
    )
    with _statements(app) as seen:
        more = team_figures(app, app.today())
    assert len(seen) == queries
    idle = _member("an", "An", "field_agent", "F01", 0, 0, 0, 0, 0)
    zed = _member("zed", "Zed", "collector", "C0099", 1, 1, 1, 1, 0)
    assert more == [idle, chen, wu, zed]
