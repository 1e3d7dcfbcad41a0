"""The borrower portal in Debian's Chromium at phone size. "Is this contact real?": a real code
shows who, when, how and what; a made-up one says the contact was not ours and takes a scam
report; guessing is throttled. Signed in with the code the SMS carried (read from the outbox):
the statement's penalty, line by line, is the ledger's, and the PDF says the same; a promise
made here is on the console's timeline; paying in the sandbox posts the payment and cancels
the pending reminders; a complaint with a photo puts the account on hold."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.channels import codes
from arrears.service.books.statements import statement_for_loan
from arrears.service.daily.cycle import run_cycle
from arrears.service.outreach.verify import Contact, record_contact
from arrears.service.staff.users import add_user
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from arrears.web.app import create_app
from tests.conftest import make_app
from tests.support.browser import PASSWORD, chromium, signed_in
from tests.support.files import readme_loan_files, two_borrower_files
from tests.support.servers import serve_asgi

NOW = datetime(2026, 2, 19, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, App, str]]:
    folder = tmp_path_factory.mktemp("portal")
    app = make_app(f"sqlite:///{folder / 'store.db'}")
    app.clock = lambda: NOW
    upgrade(app.engine)
    ingest(app.engine, app.cipher, [readme_loan_files(folder / "in")], clock=lambda: NOW)
    code = codes.new_code()
    with app.engine.begin() as conn:
        record_contact(
            app,
            conn,
            Contact(
                borrower_id="B1",
                loan_id="L1",
                channel="sms",
                at=NOW,
                collector_id="SYS-001",
                content="您的借款已逾期35天，应还2,227.27元。",
                template="early_sms",
            ),
            code=code,
        )
    with serve_asgi(create_app(app)) as url:
        yield url, app, codes.shown(code)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _phone(browser: Browser) -> Page:
    return browser.new_page(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )


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
    _fits(page)
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
        kinds = conn.execute(
            select(t.audit_log.c.kind, t.audit_log.c.payload).where(
                t.audit_log.c.kind == "scam_report"
            )
        ).all()
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


# ------------------------------------------------------------------------------------------
# the signed-in portal, at phone size: two borrowers, today's plan made, a collector to look


@dataclass
class World:
    url: str
    app: App
    outbox: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("world")
    app = make_app(f"sqlite:///{folder / 'store.db'}")
    app.clock = lambda: NOW
    app.settings = app.settings.model_copy(
        update={"outbox_dir": folder / "outbox", "outbox_files": True}
    )
    upgrade(app.engine)
    ingest(app.engine, app.cipher, [two_borrower_files(folder / "in")], clock=lambda: NOW)
    run_cycle(app, NOW.date(), strategy=load("default"))  # an agent call planned for each loan
    add_user(app, username="chen", password=PASSWORD, role="collector", collector_id="C0007")
    add_user(app, username="zhao", password=PASSWORD, role="compliance")
    with serve_asgi(create_app(app)) as url:
        # the sandbox notifies where the configuration says arrears is (never the Host header)
        app.settings = app.settings.model_copy(update={"public_url": url})
        yield World(url, app, folder / "outbox")


def _sent_codes(outbox: Path, phone: str) -> list[dict[str, Any]]:
    files = sorted(outbox.glob("sms/*/*.json"), key=lambda f: f.stat().st_mtime_ns)
    sent = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    return [
        m
        for m in sent
        if m["destination"] == phone and m["metadata"].get("purpose") == "portal_code"
    ]


def _last_code(outbox: Path, phone: str, before: int) -> str:
    """The newest code to ``phone`` once more than ``before`` have landed (the portal answers
    first and sends after)."""
    deadline = time.monotonic() + 10
    mine = _sent_codes(outbox, phone)
    while len(mine) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
        mine = _sent_codes(outbox, phone)
    assert len(mine) > before, "the SMS code is in the outbox"
    found = re.search(r"\b(\d{6})\b", mine[-1]["body"])
    assert found is not None
    return found.group(1)


def _borrower(browser: Browser, world: World, ref: str, phone: str) -> Page:
    """A phone signed in as the borrower of ``ref``, with the code the SMS carried."""
    page = _phone(browser)
    page.goto(f"{world.url}/portal")
    expect(page.locator("h1")).to_contain_text("登录")
    page.fill("#ref", ref)
    before = len(_sent_codes(world.outbox, phone))
    page.click("#ask button")
    expect(page.locator("#sent")).to_contain_text("验证码已发送")
    page.fill("#code", _last_code(world.outbox, phone, before))
    page.click("#signin button")
    page.wait_for_url(f"{world.url}/portal/home")
    return page


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url


def _money(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def test_sign_in_with_the_sms_code_and_check_the_penalty_against_the_ledger(
    world: World, browser: Browser
) -> None:
    page = _borrower(browser, world, "110101199003077774", "13812345678")
    expect(page.locator("#loan-L1")).to_be_visible()
    assert page.locator("#loan-L2").count() == 0  # the other borrower's loan is not here
    _fits(page)
    page.click("#loan-L1 a[href$='/portal/loan/L1']")
    st = statement_for_loan(world.app, "L1", NOW.date())
    expect(page.locator("#total")).to_contain_text(_money(st["total_due"]))
    expect(page.locator("#penalty")).to_have_text(_money(st["overdue"]["penalty"]))
    expect(page.locator("#dpd")).to_have_text(str(st["dpd"]))
    expect(page.locator("#rate")).to_have_text(st["daily_penalty_rate"])
    lines = [ln for i in st["instalments"] for ln in i["penalty_lines"]]
    assert lines, "the README loan is 35 days late: it has penalty lines"
    shown = page.locator("#lines tr.line")
    expect(shown).to_have_count(len(lines))
    for k, ln in enumerate(lines):
        expect(shown.nth(k).locator(".days")).to_have_text(str(ln["days"]))
        expect(shown.nth(k).locator(".amount")).to_contain_text(_money(ln["amount"]))
    assert sum(ln["amount"] for ln in lines) == st["penalty_accrued"]
    _fits(page)
    with page.expect_download() as info:
        page.click("#pdf")
    pdf = Path(info.value.path())
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "罚息明细" in text and _money(st["overdue"]["penalty"]) in text
    page.close()


def test_a_promise_made_in_the_portal_is_on_the_consoles_timeline(
    world: World, browser: Browser
) -> None:
    page = _borrower(browser, world, "L1", "13812345678")
    page.goto(f"{world.url}/portal/loan/L1/arrange")
    # first a look at an extension: every payment left, and nothing claimed before confirming
    most = page.get_attribute("#extension #days", "max")
    assert most is not None
    page.fill("#extension #days", most)  # more than agreed at once: a person reviews it
    page.click("#extension button")
    expect(page.locator("#needs-approval")).to_contain_text("如果您确认")
    expect(page.locator("#payments tr.arranged").first).to_be_visible()
    expect(page.locator("#payments tr.regular").first).to_be_visible()  # the regular ones too
    expect(page.locator("#not-yet")).to_be_visible()
    text = page.locator("main").inner_text()
    assert "已提交" not in text and "已发送" not in text and "已受理" not in text
    _fits(page)
    page.goto(f"{world.url}/portal/loan/L1/arrange")
    due = statement_for_loan(world.app, "L1", NOW.date())["total_due"]
    page.fill("#promise #amount", f"{due // 100}.{due % 100:02d}")
    page.fill("#promise #due_on", "2026-02-25")
    page.click("#promise button")
    expect(page.locator("#effect")).to_contain_text("2026-02-25")
    _fits(page)
    page.click("#confirm button")
    expect(page.locator("#done")).to_contain_text("承诺已记录")
    page.close()
    desk = signed_in(browser, world.url, "chen")
    desk.goto(f"{world.url}/accounts/L1")
    row = desk.locator("#timeline tr", has_text="promise")
    expect(row).to_contain_text("Pending")
    expect(row).to_contain_text(_money(due))
    expect(row).to_contain_text("2026-02-25")
    desk.close()


def test_paying_in_the_sandbox_posts_the_payment_and_cancels_the_reminders(
    world: World, browser: Browser
) -> None:
    def l2_actions() -> list[str]:
        with world.app.engine.connect() as conn:
            q = select(t.plan_action.c.status).where(t.plan_action.c.loan_id == "L2")
            return [r.status for r in conn.execute(q)]

    assert l2_actions() == ["planned"]
    due = statement_for_loan(world.app, "L2", NOW.date())["total_due"]
    page = _borrower(browser, world, "L2", "13900001111")
    page.click("#loan-L2 a[href$='/pay']")
    expect(page.locator("#amount")).to_have_value(f"{due // 100}.{due % 100:02d}")
    _fits(page)
    page.click("#pay button")
    expect(page.locator("h1")).to_contain_text("Sandbox bank")
    page.click("#sandbox-pay")
    expect(page.locator("#result")).to_contain_text("还款成功")
    _fits(page)
    assert l2_actions() == ["cancelled"]
    assert statement_for_loan(world.app, "L2", NOW.date())["total_due"] == 0
    with world.app.engine.connect() as conn:
        paid = conn.execute(select(t.payment).where(t.payment.c.loan_id == "L2")).one()
    assert (paid.amount, paid.source) == (due, "portal")
    page.close()


def test_a_complaint_with_a_photo_puts_the_account_on_hold(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    from PIL import Image

    photo = tmp_path / "screenshot.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(photo)
    page = _borrower(browser, world, "L1", "13812345678")
    page.click("text=我的投诉")
    page.select_option("#category", "threats")
    page.fill("#description", "催收员说要到我单位去闹")
    page.set_input_files("#files", str(photo))
    _fits(page)
    page.click("#complain button[type=submit]")
    expect(page.locator("#filed")).to_contain_text("投诉已受理")
    mine = page.locator("#mine .complaint").first
    expect(mine).to_contain_text("处理中")
    expect(mine).to_contain_text("screenshot.png")
    page.close()
    with world.app.engine.connect() as conn:
        hold = conn.execute(select(t.hold).where(t.hold.c.kind == "complaint")).one()
    assert hold.loan_id == "L1" and hold.ends_at is None
    desk = signed_in(browser, world.url, "chen")
    desk.goto(f"{world.url}/accounts/L1")
    expect(desk.locator("#compliance")).to_contain_text("on hold (complaint)")
    desk.close()
    officer = signed_in(browser, world.url, "zhao")  # compliance opens the photo the borrower sent
    officer.goto(f"{world.url}/compliance/complaints")
    with officer.expect_download() as info:
        officer.click("#complaints a.file")
    assert Path(info.value.path()).read_bytes() == photo.read_bytes()
    officer.close()
