"""Every page speaks its reader's language, read in Chromium as a person sees it: each console
page each role can open (and the sign-in page, a 403 and two 404s) and each portal page, in
zh-CN and in en. A zh-CN page shows no English word outside the allow-list below; an en page
shows no Chinese but the language switch's "中文". The worlds are the browser stories' own
(tests/e2e/test_calls_console.py's desk with its stand-in dialer, test_portal.py's two
borrowers), with what each page needs added through the service.

What a page shows but the platform did not write is marked ``translate="no"`` (the HTML
attribute for text not to be translated) and left out: names and usernames, what borrowers and
staff typed (notes, reasons, complaints), what was sent or said (message texts, transcripts),
codes a configuration names (queues, segments, rules, templates, experiment arms, strategy
names) and the evidence log's records, kept as they were written. Everything else must be in
the page's language."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

import tests.e2e.test_calls_console as calls_story
import tests.e2e.test_portal as portal_story
from arrears.bootstrap import App
from arrears.channels import codes
from arrears.service.books.statements import statement_for_loan
from arrears.service.borrower import checkout
from arrears.service.cases.arrangements import propose
from arrears.service.cases.complaints import file_complaint
from arrears.service.cases.promises import Part, make_promise
from arrears.service.daily import strategies
from arrears.service.outreach.verify import Contact, record_contact
from arrears.service.queries.loans import borrower_of, loan_listing
from arrears.service.staff.account_view import can_see
from arrears.service.staff.scope import break_glass
from arrears.service.staff.users import add_user, authenticate
from arrears.store import tables as t
from tests.support.browser import PASSWORD, chromium, signed_in

desk = calls_story.desk  # the console's world: calls through the stand-in dialer
world = portal_story.world  # the portal's: two borrowers, codes read from the outbox

LANGS = ("zh-CN", "en")

# --- the allow-list: what a Chinese page may show in Latin letters, each for a reason --------
#: whole words: the brand (``arrears``, in the title); the currency code; the file formats a
#: link or a field names (PDF, JSON, YAML, CSV, and Excel, the product a download opens in;
#: SHA-256 beside a recording); a unit of size (MB, as
#: Chinese text writes it); the language switch, which names the other language in its own words
#: ("English" on a Chinese page, as "中文" on an English one)
ALLOWED_WORDS = frozenset(
    {"arrears", "CNY", "PDF", "JSON", "YAML", "CSV", "Excel", "SHA", "MB", "English"}
)
#: the stories' staff usernames: ids, chosen when a user is made (pinyin here), shown where a
#: stored record names who did something (a conduct alert's wording)
USERNAMES = frozenset({"chen", "wang", "li", "qian", "sun", "zhou"})
ALLOWED_PATTERNS = (
    # ids and references carry digits: loan references (LN…, L1), arrangements (ar-…),
    # collectors (C0007, SYS-001), agencies (tier1), DPD buckets (M1, M7+), dates, hashes
    re.compile(r".*\d.*"),
    re.compile(r"[0-9a-f]{8,}"),  # a hash's prefix that happens to hold no digit
    re.compile(r"[A-Z][a-z]+/[A-Za-z_]+"),  # an IANA time zone (Asia/Shanghai)
    re.compile(r"[a-z]{2,3}-[A-Z]{2}"),  # a language tag (a borrower's locale: zh-CN)
)
#: what an English page may show in Chinese: the switch to Chinese
ALLOWED_CHINESE = frozenset({"中文"})
#: a token: Latin letters and digits with the joiners ids use (LN0001, ar-3f…, Asia/Shanghai)
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./+@-]*")
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")


def english_words(text: str) -> list[str]:
    """The tokens of ``text`` with Latin letters that the allow-list does not explain."""
    found = []
    for token in TOKEN.findall(text):
        word = token.rstrip("./-")
        if not re.search("[A-Za-z]", word) or word in ALLOWED_WORDS | USERNAMES:
            continue
        if any(p.fullmatch(word) for p in ALLOWED_PATTERNS):
            continue
        found.append(word)
    return found


def chinese_words(text: str) -> list[str]:
    return [w for w in CHINESE.findall(text) if w not in ALLOWED_CHINESE and w.strip("　")]


def test_the_checks_find_what_they_should() -> None:
    assert english_words("我的队列 · Queue LN0000000021 ar-3fa9 Asia/Shanghai") == ["Queue"]
    assert english_words("English 中文 CNY M7+ zh-CN arrears portfolio") == ["portfolio"]
    assert chinese_words("My queue 中文 · 我的队列") == ["我的队列"]


def page_text(page: Page) -> str:
    """What the page shows a reader, less what is marked translate="no" (see the docstring),
    with its title."""
    page.evaluate("document.querySelectorAll('[translate=no]').forEach(e => e.remove())")
    return page.title() + "\n" + page.inner_text("body")


@dataclass
class Reader:
    """Reads pages in one language and notes every word in another, page by page."""

    lang: str
    found: dict[str, list[str]]

    def read(self, page: Page, where: str | None = None) -> None:
        shoot(page, self.lang)  # first: reading takes out what is not to be translated
        text = page_text(page)
        foreign = english_words(text) if self.lang == "zh-CN" else chinese_words(text)
        if foreign:
            self.found[where or page.url] = sorted(set(foreign))

    def visit(self, page: Page, url: str, status: int = 200) -> None:
        answer = page.goto(url)
        assert answer is not None and answer.status == status, (url, answer and answer.status)
        self.read(page)

    def verdict(self) -> str:
        words = "\n".join(f"  {where}: {', '.join(w)}" for where, w in self.found.items())
        return f"words not in {self.lang} on its pages:\n{words}"


#: where ``scripts/screenshots`` wants every page read here, at desktop and phone size
SHOTS = os.environ.get("ARREARS_SCREENSHOTS")
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


def shoot(page: Page, lang: str) -> None:
    """The page as a person sees it, at desktop and at phone size, when screenshots are asked
    for (``scripts/screenshots``); the page is left at the size it had."""
    if not SHOTS:
        return
    before = page.viewport_size
    path = urlsplit(page.url)
    name = re.sub(r"[^A-Za-z0-9]+", "_", f"{path.path}_{path.query}").strip("_") or "root"
    for size, box in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(box)
        folder = Path(SHOTS) / lang / size
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name[:80]}.png"), full_page=True)
    if before:
        page.set_viewport_size(before)


#: a phone-size page keeps every table readable: no table wider than the screen unless it
#: sits in a sideways-scrolling box, and no cell squeezed to a character's width
CRAMPED = """() => {
  const out = [];
  const width = document.documentElement.clientWidth;
  for (const table of document.querySelectorAll('table')) {
    const boxed = table.closest('.scroll');
    if (!boxed && table.getBoundingClientRect().right > width + 1)
      out.push('table ' + (table.id || '?') + ' is cut at the screen edge');
    for (const cell of table.querySelectorAll('td, th')) {
      const text = cell.innerText.trim();
      if (text.length > 1 && cell.getBoundingClientRect().width < 24)
        out.push('cell "' + text.slice(0, 20) + '" is ' +
                 Math.round(cell.getBoundingClientRect().width) + 'px wide');
    }
  }
  if (document.documentElement.scrollWidth > width + 1) out.push('the page scrolls sideways');
  return out;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


# --- the console ------------------------------------------------------------------------------


@dataclass
class Console:
    url: str
    app: App
    attempt: str  # chen's call, inspected and flagged
    call_loan: str  # its account: a contact, a promise, a complaint and its hold
    late: str  # an account chen opened by break-glass, a waiver waiting on it
    elsewhere: str  # an account outside chen's queues he has not opened
    version: int  # a strategy uploaded, not active


def _late_loans(app: App, day: date) -> list[str]:
    late = loan_listing(app, stage="late", portfolio_id=None, limit=10_000).rows
    loans = [r["loan_id"] for r in late]
    return [x for x in loans if statement_for_loan(app, x, day)["overdue"]["penalty"] > 100]


@pytest.fixture(scope="module")
def console(desk: calls_story.Desk, browser: Browser) -> Console:
    """The desk with something on every page: a call inspected and flagged, complained about;
    a promise; a break-glass; a waiver waiting for approval; a strategy version; users of
    every role."""
    app = desk.app
    add_user(app, username="sun", password=PASSWORD, role="strategy_manager")
    add_user(app, username="zhou", password=PASSWORD, role="field_agent", collector_id="F0003")
    page = signed_in(browser, desk.url, "chen")
    attempt = calls_story._dial_and_wrap(desk, page)
    page.close()
    with app.engine.connect() as conn:
        call_loan = conn.execute(
            select(t.contact_attempt.c.loan_id).where(t.contact_attempt.c.attempt_id == attempt)
        ).scalar_one()
    borrower = borrower_of(app, call_loan)
    assert borrower is not None
    due = statement_for_loan(app, call_loan, calls_story.DAY)["total_due"]
    make_promise(app, call_loan, [Part(calls_story.DAY, due)], source="agent_call", made_by="C0007")
    file_complaint(
        app,
        borrower_id=borrower,
        category="threats",
        description="催收员电话里说要到我单位去闹",
        source="portal",
        loan_id=call_loan,
        attempt_ids=[attempt],
    )
    chen = authenticate(app, "chen", PASSWORD)
    late, elsewhere = [x for x in _late_loans(app, calls_story.DAY) if not can_see(app, chen, x)][
        :2
    ]
    # the reason is the collector's own words, in whatever language; a ticket number keeps
    # this test about the platform's words
    break_glass(app, chen, late, "#4471-0093-1123")
    penalty = statement_for_loan(app, late, calls_story.DAY)["overdue"]["penalty"]
    waiting = propose(
        app, late, "waiver", {"penalty": penalty}, by="chen", role="collector", reason="医药费"
    )
    assert waiting.status == "pending_approval"
    shipped = (resources.files("arrears.strategy") / "strategies" / "default.yaml").read_text()
    candidate = shipped.replace('version: "2026.11"', 'version: "2026.12"').replace(
        "{on_day: -1, channel: sms,", "{on_day: -2, channel: sms,"
    )  # some accounts change: the dry run lists them
    version = strategies.upload(app, candidate, by="sun").version_id
    assert version is not None
    return Console(desk.url, app, attempt, call_loan, late, elsewhere, version)


def _as(browser: Browser, c: Console, user: str, lang: str) -> Page:
    return signed_in(browser, c.url, user, locale=lang)


def _console_pages(browser: Browser, c: Console, reader: Reader) -> None:
    url, lang = c.url, reader.lang
    anyone = browser.new_page(locale=lang)
    reader.visit(anyone, f"{url}/login")
    anyone.close()
    chen = _as(browser, c, "chen", lang)
    reader.read(chen, "/queue (chen, collector)")
    for path in (
        f"/accounts/{c.call_loan}",
        f"/accounts/{c.late}",
        f"/calls/{c.attempt}",
        f"/search?q={c.call_loan}",
        "/search?q=NO-SUCH-LOAN",
    ):
        reader.visit(chen, f"{url}{path}")
    reader.visit(chen, f"{url}/accounts/{c.elsewhere}", 403)  # break-glass: say why
    reader.visit(chen, f"{url}/approvals", 403)  # not a collector's page
    reader.visit(chen, f"{url}/accounts/NO-SUCH-LOAN", 404)
    reader.visit(chen, f"{url}/no/such/page", 404)
    chen.close()
    pages: dict[str, tuple[str, ...]] = {
        "zhou": ("/field", "/queue"),
        "wang": ("/supervise", "/approvals", "/dashboard", "/qa", "/field?agent=zhou",
                 f"/accounts/{c.late}"),
        "li": ("/agency",),
        "qian": ("/compliance/audit?verify=1", "/compliance/gate", "/compliance/complaints",
                 "/compliance/complaints?status=resolved", "/compliance/conduct",
                 "/compliance/conduct?status=confirmed", f"/compliance/calls/{c.attempt}",
                 f"/accounts/{c.call_loan}", "/compliance/frequency",
                 "/compliance/complaints?who=nobody"),
        "sun": ("/strategy", f"/strategy/{c.version}/diff", "/dashboard"),
    }  # fmt: skip
    for user, paths in pages.items():
        page = _as(browser, c, user, lang)
        reader.read(page, f"{page.url} ({user}'s start)")
        for path in paths:
            reader.visit(page, f"{url}{path}")
        page.close()


@pytest.mark.parametrize("lang", LANGS)
def test_every_console_page_is_in_the_readers_language(
    console: Console, browser: Browser, lang: str
) -> None:
    reader = Reader(lang, {})
    _console_pages(browser, console, reader)
    assert not reader.found, reader.verdict()


def test_the_collectors_pages_fit_a_phone(console: Console, browser: Browser) -> None:
    """The queue, the account and the field agent's day sheet at phone size: no cut table, no
    cell squeezed to a character's width, no sideways page."""
    found: dict[str, list[str]] = {}
    for user, paths in (
        ("chen", ("/queue", f"/accounts/{console.call_loan}")),
        ("zhou", ("/field",)),
        ("wang", ("/supervise",)),
    ):
        page = _as(browser, console, user, "zh-CN")
        page.set_viewport_size(PHONE)
        for path in paths:
            page.goto(f"{console.url}{path}")
            cramped = page.evaluate(CRAMPED)
            if cramped:
                found[f"{path} ({user})"] = cramped
        page.close()
    assert not found, found


# --- the portal -------------------------------------------------------------------------------


@dataclass
class Portal:
    url: str
    app: App
    code: str  # a genuine contact's verification code, as shown to the borrower
    order: str  # a payment made through the portal


@pytest.fixture(scope="module")
def portal(world: portal_story.World) -> Portal:
    app = world.app
    code = codes.new_code()
    with app.engine.begin() as conn:
        record_contact(
            app,
            conn,
            Contact(
                borrower_id="B1",
                loan_id="L1",
                channel="sms",
                at=portal_story.NOW,
                collector_id="SYS-001",
                content="您的借款已逾期，请尽快还款。",
                template="early_sms",
            ),
            code=code,
        )
    file_complaint(
        app,
        borrower_id="B1",
        category="too_many_calls",
        description="一天打了五次电话",
        source="portal",
        loan_id="L1",
    )
    least = checkout.amount_bounds(app, "L1").least
    order = checkout.start_order(app, "L1", least, "sandbox")
    checkout.complete_order(app, order.order_id, status="paid", amount=least, provider_ref="t-1")
    return Portal(world.url, app, codes.shown(code), order.order_id)


def _check_a_code(reader: Reader, page: Page, code: str, where: str) -> None:
    page.fill("#code", code)
    page.click("#check button")
    expect(page.locator("#verdict")).to_be_visible()
    reader.read(page, where)


def _sign_in(reader: Reader, page: Page, p: Portal, world: portal_story.World) -> None:
    reader.visit(page, f"{p.url}/portal?lang={reader.lang}")
    page.fill("#ref", "L1")
    before = len(portal_story._sent_codes(world.outbox, "13812345678"))
    page.click("#ask button")
    expect(page.locator("#sent")).to_be_visible()
    reader.read(page, "/portal/code (code sent)")
    page.fill("#code", portal_story._last_code(world.outbox, "13812345678", before))
    page.click("#signin button")
    page.wait_for_url(f"{p.url}/portal/home")
    reader.read(page)


def _portal_pages(browser: Browser, p: Portal, world: portal_story.World, reader: Reader) -> None:
    page = browser.new_page(locale=reader.lang, viewport={"width": 390, "height": 844})
    reader.visit(page, f"{p.url}/verify?lang={reader.lang}")
    _check_a_code(reader, page, p.code, "/verify (a genuine contact)")
    _check_a_code(reader, page, "K7Q2-M9XD", "/verify (not ours)")
    _sign_in(reader, page, p, world)
    for path in (
        "/portal/loan/L1",
        "/portal/loan/L1/pay",
        "/portal/loan/L1/arrange",
        "/portal/prefs",
        "/portal/complaints",
        f"/portal/pay/return?order={p.order}",
    ):
        reader.visit(page, f"{p.url}{path}")  # fmt: skip
    page.goto(f"{p.url}/portal/loan/L1/arrange")
    page.click("#promise button")
    expect(page.locator("#effect")).to_be_visible()
    reader.read(page, "/portal/loan/L1/arrange (the effect)")
    page.close()


@pytest.mark.parametrize("lang", LANGS)
def test_every_portal_page_is_in_the_readers_language(
    portal: Portal, world: portal_story.World, browser: Browser, lang: str
) -> None:
    reader = Reader(lang, {})
    _portal_pages(browser, portal, world, reader)
    assert not reader.found, reader.verdict()
