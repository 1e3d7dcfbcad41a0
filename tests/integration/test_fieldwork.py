"""The field agent's day sheet: today's visits split between the field agents (each visit to one
agent, the same all day), in route order by postal code, the address and name in clear only for
the agent the visit is assigned to (and that view logged); a supervisor reads any sheet masked;
an agent cannot open another's; each stop says whether the gate allows a visit now."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, update

from arrears.bootstrap import App
from arrears.service.errors import Forbidden
from arrears.service.staff.fieldwork import day_sheet, route_key
from arrears.service.staff.users import add_user, authenticate
from arrears.store import tables as t
from tests.conftest import PlanBook

DAY = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai


@pytest.fixture
def field(plan_book: PlanBook) -> App:
    app = plan_book(3000, 7, DAY, clock=lambda: NOON)
    for name in ("gao", "hu"):
        add_user(app, username=name, password="correct-horse-9", role="field_agent")
    add_user(app, username="wang", password="correct-horse-9", role="supervisor")
    # the default strategy visits on day 40 only (one or two accounts of a small book): more
    # of today's planned agent calls become visits, as a field-heavy strategy would plan them
    pa_ = t.plan_action
    with app.engine.begin() as conn:
        calls = (
            conn.execute(
                select(pa_.c.action_id)
                .where(pa_.c.channel == "agent_call", pa_.c.status == "planned")
                .order_by(pa_.c.action_id)
                .limit(12)
            )
            .scalars()
            .all()
        )
        conn.execute(
            update(pa_).where(pa_.c.action_id.in_(calls)).values(channel="visit", queue="field")
        )
    return app


def _visits(app: App) -> int:
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    pa_.c.channel == "visit", pa_.c.status == "planned", pa_.c.business_date == DAY
                )
            ).scalar_one()
        )


def test_each_agent_has_their_own_visits_in_route_order_in_clear(field: App) -> None:
    total = _visits(field)
    assert total >= 12
    gao, hu = (
        authenticate(field, "gao", "correct-horse-9"),
        authenticate(field, "hu", "correct-horse-9"),
    )
    mine, theirs = day_sheet(field, gao, DAY), day_sheet(field, hu, DAY)
    assert len(mine) + len(theirs) == total  # every visit to exactly one agent
    assert not {s.action_id for s in mine} & {s.action_id for s in theirs}
    assert day_sheet(field, gao, DAY) == mine  # the same all day
    for sheet in (mine, theirs):
        assert [s.order for s in sheet] == list(range(1, len(sheet) + 1))
        keys = [route_key(s.address) for s in sheet]
        assert keys == sorted(keys)  # route order: by postal code, then address
        assert all(not s.masked and "…" not in s.address for s in sheet)
        assert all(s.allowed_now for s in sheet)  # noon, two collectors
    with field.engine.connect() as conn:
        logged = conn.execute(
            select(func.count()).where(t.access_log.c.what == "day_sheet")
        ).scalar_one()
    assert logged == total + len(mine)  # every clear view is logged (gao opened it twice)


def test_others_read_masked_or_not_at_all(field: App) -> None:
    gao, wang = (
        authenticate(field, "gao", "correct-horse-9"),
        authenticate(field, "wang", "correct-horse-9"),
    )
    with pytest.raises(Forbidden):
        day_sheet(field, gao, DAY, agent="hu")
    clear = {s.action_id: s for s in day_sheet(field, gao, DAY)}
    seen = day_sheet(field, wang, DAY, agent="gao")
    assert {s.action_id for s in seen} == set(clear)
    assert any(s.address for s in seen)
    for s in (s for s in seen if clear[s.action_id].address):  # some have no address on file
        assert s.masked and s.address != clear[s.action_id].address
        assert s.address.endswith("…") and clear[s.action_id].address.startswith(s.address[:-1])


def test_at_night_no_stop_is_allowed_and_each_says_why(field: App) -> None:
    gao = authenticate(field, "gao", "correct-horse-9")
    field.clock = lambda: NIGHT
    sheet = day_sheet(field, gao, DAY, lang="zh-CN")
    assert sheet and all(not s.allowed_now for s in sheet)
    assert all("cn.hours" in s.why_not for s in sheet)
