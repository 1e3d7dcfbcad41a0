"""Carry-over, as the collector sees it in Chromium: yesterday's unworked calls are in today's
queue, marked with the day they were first planned; once expired they are gone from it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, expect

from arrears.bootstrap import App
from arrears.service.daily.cycle import run_cycle
from arrears.service.outreach.worklist import items
from arrears.service.staff.users import add_user
from arrears.strategy.model import load
from arrears.web.app import create_app
from tests.conftest import FIXED_NOW, PlanBook
from tests.support.browser import PASSWORD, chromium, signed_in
from tests.support.clock import Clock
from tests.support.servers import serve_asgi

DAY = date(2026, 11, 23)
QUEUE = "early_callback"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def test_the_queue_shows_what_was_carried_over_and_drops_what_expired(
    plan_book: PlanBook, browser: Browser
) -> None:
    app: App = plan_book(600, 5, DAY, clock=Clock())
    add_user(
        app, username="chen", password=PASSWORD, role="collector", collector_id="C0007",
        queues=[QUEUE],
    )  # fmt: skip
    unworked = {q.action_id: q.loan_id for q in items(app, QUEUE, DAY, limit=500)}
    assert unworked
    clock: Clock = app.clock  # type: ignore[assignment]
    clock.at = FIXED_NOW + timedelta(days=1)
    run_cycle(app, DAY + timedelta(days=1), strategy=load("default"))
    shown = items(app, QUEUE, DAY + timedelta(days=1), limit=1000)
    carried = [q for q in shown if q.carried_from == DAY]
    assert carried, "the default strategy carries an unworked call one day"
    with serve_asgi(create_app(app)) as url:
        page = signed_in(browser, url, "chen")
        page.goto(f"{url}/queue?queue={QUEUE}")
        for q in carried[:5]:
            row = page.locator("#queue tbody tr", has_text=q.loan_id).first
            expect(row).to_have_class("carried")
            expect(row).to_contain_text(f"Carried over from {DAY.isoformat()}")
        fresh = next((q for q in shown if q.carried_from is None), None)
        if fresh is not None:
            row = page.locator("#queue tbody tr", has_text=fresh.loan_id).first
            expect(row).not_to_contain_text("Carried over")
        # the day after, what was carried has expired: out of the queue
        clock.at = FIXED_NOW + timedelta(days=2)
        run_cycle(app, DAY + timedelta(days=2), strategy=load("default"))
        page.close()
        page = signed_in(browser, url, "chen")  # a day on: yesterday's session has ended
        page.goto(f"{url}/queue?queue={QUEUE}")
        expect(page.locator("#queue, p.muted").first).to_be_visible()
        still = {q.action_id for q in items(app, QUEUE, DAY + timedelta(days=2), limit=1000)}
        gone = [q for q in carried if q.action_id not in still]
        assert gone, "a call carried once expires the next day"
        for q in gone[:5]:
            ids = page.locator("#queue input[name=action_id]").evaluate_all(
                "els => els.map(e => e.value)"
            )
            assert q.action_id not in ids
        page.close()
