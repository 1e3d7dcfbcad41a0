"""Calls in a real browser (Chromium through Playwright), with the stand-in dialer and speech
recogniser on loopback: a collector dials from the queue (their phone rings first, the page
never shows the full number), follows the call and wraps it up; a dial at night is refused with
the reason and when it becomes allowed; compliance reviews the flagged call (the audio at the
flagged span, the transcript, the scorecard) and confirms it, which the QA page counts; an
agency user and a collector reach none of it by URL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.generate.portfolio import Options, generate
from arrears.generate.standin import StandIn, persona_of
from arrears.service.conduct import alerts
from arrears.service.daily.cycle import run_cycle
from arrears.service.outreach.agency import place
from arrears.service.staff.users import add_user
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from arrears.web.app import create_app
from tests.conftest import FIXED_NOW, make_app
from tests.support.browser import PASSWORD, chromium, signed_in
from tests.support.servers import serve_asgi

DAY = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NIGHT = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
SECRET = "e2e-calls-secret"


@dataclass
class Desk:
    url: str
    app: App
    phone: StandIn
    now: list[datetime]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    folder: Path = tmp_path_factory.mktemp("calls")
    now = [NOON]
    app = make_app(f"sqlite:///{folder / 'store.db'}")
    upgrade(app.engine)
    generate(folder / "gen", Options(loans=1500, seed=31, as_of=DAY))
    ingest(app.engine, app.cipher, [folder / "gen"], clock=lambda: FIXED_NOW)
    app.clock = lambda: now[0]
    run_cycle(app, DAY, strategy=load("default"))
    place(app, DAY, folder / "placements")
    for name, role, extra in (
        ("chen", "collector", {"collector_id": "C0007"}),
        ("li", "agency", {"agency": "tier1"}),
        ("qian", "compliance", {}),
        ("wang", "supervisor", {}),
    ):
        add_user(app, username=name, password=PASSWORD, role=role, **extra)
    phone = StandIn(SECRET, clock=lambda: now[0], breaches=True)
    phone.persona = persona_of(app)
    phone.start()
    try:
        with serve_asgi(create_app(app, SECRET)) as url:
            providers = folder / "providers.yaml"
            providers.write_text(
                f"agent_dialer: {{kind: http, url: '{phone.url}/bridges', "
                f"callback_url: '{url}/api/v1/webhooks/dialer'}}\n"
                f"asr: {{kind: http, submit_url: '{phone.url}/asr/jobs', "
                f"callback_url: '{url}/api/v1/webhooks/asr'}}\n",
                encoding="utf-8",
            )
            app.settings = app.settings.model_copy(update={"providers_file": providers})
            yield Desk(url, app, phone, now)
    finally:
        phone.stop()
    assert not phone.errors, phone.errors


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _numbers(app: App, loan_id: str) -> list[str]:
    cp = t.contact_point
    with app.engine.connect() as conn:
        borrower = conn.execute(
            select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)
        ).scalar_one()
        rows = conn.execute(select(cp.c.value_enc).where(cp.c.borrower_id == borrower)).all()
    return [str(app.cipher.decrypt("contact_point.value", r.value_enc)) for r in rows]


def _answering_row(page: Page, app: App) -> str:
    """The first queue row whose borrower's phone answers (the stand-in: last digit not 0/9)."""
    for loan in page.locator("#queue tbody tr td:nth-child(2)").all_inner_texts():
        if all(n[-1] not in "09" for n in _numbers(app, loan) if n):
            return loan
    raise AssertionError("no answering borrower in the queue")


def _dial_and_wrap(desk: Desk, page: Page) -> str:
    loan = _answering_row(page, desk.app)
    row = page.locator("#queue tbody tr", has_text=loan)
    row.locator("form button").click()
    page.wait_for_url(f"{desk.url}/calls/*")
    attempt = page.url.rsplit("/", 1)[1]
    assert [r["reference"] for r in desk.phone.phones["C0007"]][-1] == attempt
    content = page.content()
    for number in _numbers(desk.app, loan):
        assert number not in content  # the collector never sees the full number
    expect(page.locator("#call-number")).to_contain_text("****")
    desk.phone.drain()
    page.reload()
    expect(page.locator("#call-status")).to_have_attribute("data-status", "completed")
    page.select_option("#result", "conversation")
    page.fill("#note", "Borrower confirmed the amount and will pay on Friday")
    page.click("#call-wrapup button[type=submit]")
    page.wait_for_url(f"{desk.url}/queue?flash=saved")
    assert loan not in page.locator("#queue tbody").inner_text()
    return attempt


def test_a_collector_dials_from_the_queue_follows_the_call_and_wraps_it_up(
    desk: Desk, browser: Browser
) -> None:
    page = signed_in(browser, desk.url, "chen")
    attempt = _dial_and_wrap(desk, page)
    with desk.app.engine.connect() as conn:
        row = conn.execute(
            select(t.contact_attempt).where(t.contact_attempt.c.attempt_id == attempt)
        ).one()
    assert (row.result, row.dial_status) == ("conversation", "completed")
    assert row.wrapped_at is not None and row.duration_seconds
    page.close()


def test_a_dial_at_night_is_refused_with_the_reason(desk: Desk, browser: Browser) -> None:
    page = signed_in(browser, desk.url, "chen")
    loan = page.locator("#queue tbody tr td:nth-child(2)").first.inner_text()
    rang = sum(len(v) for v in desk.phone.phones.values())
    desk.now[0] = NIGHT
    try:
        page.goto(f"{desk.url}/accounts/{loan}")
        page.click("#dial button[type=submit]")
        page.wait_for_load_state()
        flash = page.locator(".flash.error, .flash")
        expect(flash).to_contain_text("23:30")
        expect(flash).to_contain_text("2026-11-24 08:00")
    finally:
        desk.now[0] = NOON
    assert sum(len(v) for v in desk.phone.phones.values()) == rang  # nothing rang
    page.close()


def test_compliance_reviews_the_flagged_call_and_qa_counts_it(desk: Desk, browser: Browser) -> None:
    collector = signed_in(browser, desk.url, "chen")
    attempt = _dial_and_wrap(desk, collector)
    (alert,) = [a for a in alerts.alerts(desk.app) if a["attempt_id"] == attempt]
    assert alert["kind"] == "qa"
    # the collector cannot open the review nor hear the recording, by URL
    assert collector.goto(f"{desk.url}/compliance/calls/{attempt}").status == 403
    assert collector.goto(f"{desk.url}/calls/{attempt}/audio").status == 403
    collector.close()
    page = signed_in(browser, desk.url, "qian")
    page.goto(f"{desk.url}/compliance/conduct")
    page.locator(
        f"tr[data-alert='{alert['alert_id']}'] a[href='/compliance/calls/{attempt}']"
    ).click()
    page.wait_for_url(f"{desk.url}/compliance/calls/{attempt}")
    src = page.locator("#recording").get_attribute("src") or ""
    assert src.startswith(f"/calls/{attempt}/audio#t=")
    prohibited = page.locator("#findings tr[data-kind=prohibited]")
    expect(prohibited.first).to_be_visible()
    expect(page.locator("#transcript tr.flag").first).to_be_visible()
    audio = page.request.get(f"{desk.url}/calls/{attempt}/audio")
    assert audio.status == 200 and audio.body()[:4] == b"RIFF"
    form = page.locator(f"div[data-alert='{alert['alert_id']}'] form")
    form.locator("select[name=verdict]").select_option("confirmed")
    form.locator("input[name=note]").fill("Threat heard at the flagged span; coaching booked")
    form.locator("button").click()
    page.wait_for_load_state()
    (reviewed,) = [a for a in alerts.alerts(desk.app, None) if a["alert_id"] == alert["alert_id"]]
    assert reviewed["status"] == "confirmed" and reviewed["reviewed_by"] == "qian"
    page.goto(f"{desk.url}/qa")
    row = page.locator("#qa-collectors tr", has_text="C0007")
    expect(row).to_be_visible()
    assert int(row.locator("td").nth(4).inner_text()) >= 1  # the confirmed breach counts
    assert page.locator("#qa-categories td.num").count() >= 1  # a category with a count
    page.close()


def test_an_agency_user_reaches_no_call_of_the_lenders_by_url(desk: Desk, browser: Browser) -> None:
    from arrears.service.conduct.calls import dial

    queue = signed_in(browser, desk.url, "chen")
    loan = _answering_row(queue, desk.app)
    queue.close()
    attempt = dial(desk.app, loan, collector_id="C0007").attempt_id
    desk.phone.drain()
    page = signed_in(browser, desk.url, "li")
    assert page.goto(f"{desk.url}/calls/{attempt}").status == 404
    assert page.goto(f"{desk.url}/calls/{attempt}/audio").status == 403
    assert page.goto(f"{desk.url}/compliance/calls/{attempt}").status == 403
    assert page.goto(f"{desk.url}/qa").status == 403
    page.goto(f"{desk.url}/queue")
    assert page.url.endswith("/agency")  # no in-house queue
    page.close()
