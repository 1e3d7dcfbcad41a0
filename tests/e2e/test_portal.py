"""The portal's "Is this contact real?" page in Debian's Chromium at phone size: a real code
shows who, when, how and what; a made-up one says the contact was not ours and takes a scam
report; guessing is throttled."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.channels import codes
from arrears.service.verify import Contact, record_contact
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.web.app import create_app
from tests.conftest import make_app
from tests.support.files import readme_loan_files
from tests.support.servers import serve_asgi

NOW = datetime(2026, 2, 19, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, App, str]]:
    folder = tmp_path_factory.mktemp("portal")
    app = make_app(f"sqlite:///{folder / 'store.db'}")
    app.clock = lambda: NOW
    upgrade(app.engine)
    ingest(app.engine, app.cipher, [readme_loan_files(folder / "in")], clock=lambda: NOW)
    code = codes.new_code()
    with app.engine.begin() as conn:
        record_contact(app, conn, Contact(
            borrower_id="B1", loan_id="L1", channel="sms", at=NOW, collector_id="SYS-001",
            content="您的借款已逾期35天，应还2,227.27元。", template="early_sms",
        ), code=code)  # fmt: skip
    with serve_asgi(create_app(app)) as url:
        yield url, app, codes.shown(code)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _phone(browser: Browser) -> Page:
    return browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN",
                            is_mobile=True, has_touch=True)  # fmt: skip


def test_a_real_code_shows_who_when_how_and_what(
    portal: tuple[str, App, str], browser: Browser
) -> None:
    url, _, code = portal
    page = _phone(browser)
    page.goto(f"{url}/verify")
    expect(page.locator("h1")).to_contain_text("这次联系是真的吗")
    page.fill("#code", code.lower().replace("-", " "))  # typed loosely
    page.click("#check button")
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("这是本机构的真实联系")
    expect(verdict).to_contain_text("SYS-001")
    expect(verdict).to_contain_text("2026-02-19 10:00")
    expect(verdict).to_contain_text("应还2,227.27元")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits the phone
    page.close()


def test_a_made_up_code_is_not_ours_and_can_be_reported(
    portal: tuple[str, App, str], browser: Browser
) -> None:
    url, app, _ = portal
    page = _phone(browser)
    page.goto(f"{url}/verify?lang=en")
    page.fill("#code", "K7Q2-M9XD")
    page.click("#check button")
    expect(page.locator("#verdict")).to_contain_text("did not come from this lender")
    page.fill("#what", "A man called from 170-0000-0000 saying he was from the court")
    page.click("#report button")
    expect(page.locator("#reported")).to_be_visible()
    with app.engine.connect() as conn:
        kinds = conn.execute(select(t.audit_log.c.kind, t.audit_log.c.payload)
                             .where(t.audit_log.c.kind == "scam_report")).all()  # fmt: skip
    assert len(kinds) == 1 and "K7Q2-M9XD" in kinds[0].payload
    page.close()


def test_guessing_is_throttled(portal: tuple[str, App, str], browser: Browser) -> None:
    url, _, code = portal
    page = _phone(browser)
    page.goto(f"{url}/verify?lang=en")
    statuses = []
    for k in range(12):
        page.fill("#code", f"AAAA-{k:04d}")
        with page.expect_response(lambda r: r.url.startswith(f"{url}/verify")) as info:
            page.click("#check button")
        statuses.append(info.value.status)
    # 10 checks in 10 minutes per address, counting the ones before this test
    assert statuses[-1] == 429 and 200 in statuses
    expect(page.locator("#verdict")).to_contain_text("Too many checks")
    page.fill("#code", code)  # even the right code waits
    page.click("#check button")
    expect(page.locator("#verdict")).to_contain_text("Too many checks")
    page.close()


def test_a_form_without_its_token_is_refused(portal: tuple[str, App, str]) -> None:
    import httpx

    url, _, code = portal
    r = httpx.post(f"{url}/verify", data={"code": code})
    assert r.status_code == 403 and "SYS-001" not in r.text


def test_limiter_window() -> None:
    from datetime import timedelta

    from arrears.web.portal.limits import Limiter

    now = [NOW]
    lim = Limiter(2, timedelta(minutes=10), lambda: now[0])
    assert lim.allow("a") is None and lim.allow("a") is None
    wait = lim.allow("a")
    assert wait == timedelta(minutes=10) and lim.allow("b") is None
    now[0] = NOW + timedelta(minutes=10)
    assert lim.allow("a") is None
