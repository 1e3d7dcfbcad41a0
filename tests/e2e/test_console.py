"""The console in a real browser (Playwright driving Debian's Chromium, headless, on loopback):
a collector works the first account of the queue and sees it leave; a threatening note is
refused as it is typed and on save; a waiver above a collector's limit waits for a supervisor,
who approves it; an agency user cannot open an account placed elsewhere, even by URL; the
dashboard draws its charts; and sign-in locks after repeated failures."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select, update

from arrears.bootstrap import App
from arrears.generate.portfolio import Options, generate
from arrears.service.books.statements import statement_for_loan
from arrears.service.daily.cycle import run_cycle
from arrears.service.outreach.agency import place
from arrears.service.queries.casework import promises_of
from arrears.service.queries.loans import borrower_of, loan_listing
from arrears.service.staff.users import add_user
from arrears.store import tables as t
from arrears.store.db import as_utc, upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from arrears.web.app import create_app
from tests.conftest import FIXED_NOW, make_app
from tests.support.browser import PASSWORD, chromium, signed_in
from tests.support.servers import serve_asgi

DAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, App]]:
    folder = tmp_path_factory.mktemp("console")
    app = make_app(f"sqlite:///{folder / 'store.db'}")
    upgrade(app.engine)
    generate(folder / "gen", Options(loans=2500, seed=23, as_of=DAY))
    ingest(app.engine, app.cipher, [folder / "gen"], clock=lambda: FIXED_NOW)
    run_cycle(app, DAY, strategy=load("default"))
    place(app, DAY, folder / "placements")
    for name, role, extra in (
        ("chen", "collector", {"collector_id": "C0007"}),
        ("wang", "supervisor", {}),
        ("li", "agency", {"agency": "tier1"}),
        ("zhao", "compliance", {}),
        ("sun", "strategy_manager", {}),
        ("qian", "compliance", {}),
    ):
        add_user(app, username=name, password=PASSWORD, role=role, **extra)
    with serve_asgi(create_app(app)) as url:
        yield url, app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _rows(page: Page) -> list[str]:
    return page.locator("#queue tbody tr td:nth-child(2)").all_inner_texts()


def test_a_collector_works_the_first_account_and_it_leaves_the_queue(
    console: tuple[str, App], browser: Browser
) -> None:
    url, app = console
    page = signed_in(browser, url, "chen")
    assert page.url.endswith("/queue")
    before = _rows(page)
    assert before, "the early_callback queue has work"
    first = before[0]
    page.click(f"text={first}")
    expect(page.locator("h1")).to_contain_text(first)
    expect(page.locator("#compliance")).to_contain_text("connected calls used today")
    due = statement_for_loan(app, first, DAY)
    expect(page.locator("#total-due")).to_contain_text(f"{due['total_due'] / 100:,.2f}")
    page.select_option("#result", "conversation")
    page.fill("#note", "Borrower will pay on Friday after salary")
    page.fill("#promise_amount", f"{due['total_due'] / 100:,.2f}")  # typed in yuan
    page.fill("#promise_date", "2026-11-27")
    page.click("#wrapup button[type=submit]")
    page.wait_for_url(f"{url}/queue?flash=saved")
    assert first not in _rows(page)
    (promise,) = promises_of(app, first)
    with app.engine.connect() as conn:
        attempt = conn.execute(
            select(t.contact_attempt).where(
                t.contact_attempt.c.loan_id == first, t.contact_attempt.c.channel == "call"
            )
        ).first()
    assert promise["made_by"] == "C0007" and promise["amount"] == due["total_due"]
    assert attempt is not None and attempt.result == "conversation"
    page.close()


def test_no_answer_with_a_call_back_puts_the_account_first_in_the_call_back_queue(
    console: tuple[str, App], browser: Browser
) -> None:
    url, _ = console
    page = signed_in(browser, url, "chen")
    loan = _rows(page)[-1]
    page.goto(f"{url}/accounts/{loan}")
    page.select_option("#result", "no_answer")
    page.select_option("#next", "call_back")
    page.click("#wrapup button[type=submit]")
    page.wait_for_url(f"{url}/queue?flash=saved")
    assert loan not in _rows(page)
    page.goto(f"{url}/queue?queue=call_back")
    assert _rows(page)[0] == loan
    page.close()


def test_a_wrap_up_says_what_the_call_came_to_and_sets_a_timed_call_back(
    console: tuple[str, App], browser: Browser
) -> None:
    """Outcome codes, the reason, a call-back at the borrower's local time; a refused promise
    keeps the wrap-up open with everything entered, and writes nothing."""
    url, app = console
    page = signed_in(browser, url, "chen")
    loan = _rows(page)[1]
    page.goto(f"{url}/accounts/{loan}")
    with app.engine.connect() as conn:  # the borrower's own timezone
        zone = conn.execute(
            select(t.borrower.c.timezone)
            .join(t.loan, t.loan.c.borrower_id == t.borrower.c.borrower_id)
            .where(t.loan.c.loan_id == loan)
        ).scalar_one()
    tz = ZoneInfo(zone)
    page.select_option("#result", "conversation")
    page.select_option("#disposition", "right_party")
    page.select_option("#reason", "job_loss")
    page.fill("#call_back_at", f"{DAY.isoformat()}T15:00")
    page.fill("#note", "Lost his job last month; call back at three")
    page.fill("#promise_amount", "99,999,999.00")  # far more than is owed
    page.fill("#promise_date", "2026-11-27")
    page.click("#wrapup button[type=submit]")
    expect(page.locator(".flash.error")).to_be_visible()
    assert page.input_value("#note") == "Lost his job last month; call back at three"
    assert page.input_value("#disposition") == "right_party"
    assert page.input_value("#reason") == "job_loss"
    assert page.input_value("#promise_amount") == "99,999,999.00"
    assert page.input_value("#call_back_at").startswith(f"{DAY.isoformat()}T15:00")
    with app.engine.connect() as conn:
        written = conn.execute(
            select(t.contact_attempt.c.attempt_id).where(
                t.contact_attempt.c.loan_id == loan, t.contact_attempt.c.collector_id == "C0007"
            )
        ).all()
    assert written == [], "a refused promise wrote nothing"
    page.fill("#promise_amount", "")
    page.fill("#promise_date", "")
    page.click("#wrapup button[type=submit]")
    page.wait_for_url(f"{url}/queue?flash=saved")
    with app.engine.connect() as conn:
        row = conn.execute(
            select(t.contact_attempt).where(
                t.contact_attempt.c.loan_id == loan, t.contact_attempt.c.collector_id == "C0007"
            )
        ).one()
        back = conn.execute(
            select(t.plan_action).where(
                t.plan_action.c.loan_id == loan, t.plan_action.c.step_id == "call_back"
            )
        ).one()
    assert (row.result, row.disposition, row.reason) == ("conversation", "right_party", "job_loss")
    expected = datetime.combine(DAY, time(15), tz)
    assert as_utc(back.window_start) == expected.astimezone(UTC)
    expect(page.locator("#queue")).to_contain_text("Call-back the borrower asked for")
    page.close()


def _phone_and_id(app: App, loan: str) -> tuple[str, str]:
    """The borrower's phone number (spaced, as a caller reads it out) and national id."""
    with app.engine.connect() as conn:
        b = conn.execute(
            select(t.borrower.c.borrower_id, t.borrower.c.national_id_enc)
            .join(t.loan, t.loan.c.borrower_id == t.borrower.c.borrower_id)
            .where(t.loan.c.loan_id == loan)
        ).one()
        enc = conn.execute(
            select(t.contact_point.c.value_enc).where(
                t.contact_point.c.borrower_id == b.borrower_id,
                t.contact_point.c.kind == "phone",
                t.contact_point.c.owner_role == "borrower",
            )
        ).first()
    assert enc is not None
    phone = str(app.cipher.decrypt("contact_point.value", enc.value_enc))
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}", str(
        app.cipher.decrypt("borrower.national_id", b.national_id_enc)
    )


def test_search_finds_an_account_by_phone_or_id_within_the_users_scope(
    console: tuple[str, App], browser: Browser
) -> None:
    url, app = console
    page = signed_in(browser, url, "chen")
    mine = _rows(page)[0]
    phone, national_id = _phone_and_id(app, mine)
    page.fill("#search-q", phone)
    page.click("#search-form button")
    expect(page.locator("#hits")).to_contain_text(mine)
    expect(page.locator("#hits")).to_contain_text("Phone number")
    # an account outside the collector's queues is not listed, and nothing says it exists
    # a late account: not in the collector's early-stage queue, never worked by them
    theirs = loan_listing(app, stage="late", portfolio_id=None, limit=1).rows[0]["loan_id"]
    page.goto(f"{url}/search?q={theirs}")
    expect(page.locator("#no-hits")).to_be_visible()
    page.close()
    boss = signed_in(browser, url, "wang")
    boss.goto(f"{url}/search?q={national_id}")
    expect(boss.locator("#hits")).to_contain_text(mine)
    expect(boss.locator("#hits")).to_contain_text("National id")
    boss.goto(f"{url}/search?q={theirs}")
    expect(boss.locator("#hits")).to_contain_text(theirs)
    boss.close()


def test_a_threatening_note_is_refused(console: tuple[str, App], browser: Browser) -> None:
    url, app = console
    page = signed_in(browser, url, "chen")
    loan = _rows(page)[0]
    page.goto(f"{url}/accounts/{loan}")
    page.fill("#note", "告诉他再不还钱就弄死你")
    expect(page.locator("#lint")).to_contain_text("refused")
    expect(page.locator("#wrapup button[type=submit]")).to_be_disabled()
    # the server refuses it too, whatever the page does
    page.evaluate("document.querySelector('#wrapup button[type=submit]').disabled = false")
    page.click("#wrapup button[type=submit]")
    expect(page.locator(".flash.error")).to_contain_text("prohibited language")
    page.goto(f"{url}/queue")
    assert loan in _rows(page)  # nothing was recorded
    page.close()


def _late_with_penalty(app: App) -> str:
    late = loan_listing(app, stage="late", portfolio_id=None, limit=10_000).rows
    loans = (r["loan_id"] for r in late)
    return next(x for x in loans if statement_for_loan(app, x, DAY)["overdue"]["penalty"] > 100)


def test_a_waiver_above_a_collectors_limit_waits_for_a_supervisor(
    console: tuple[str, App], browser: Browser
) -> None:
    url, app = console
    loan = _late_with_penalty(app)
    penalty = statement_for_loan(app, loan, DAY)["overdue"]["penalty"]
    page = signed_in(browser, url, "chen")
    # not in chen's queues: the account opens only for a stated reason, and nothing can be
    # agreed on it before (a waiver posted straight to the URL changes nothing)
    assert page.goto(f"{url}/accounts/{loan}").status == 403
    expect(page.locator("#break-glass")).to_be_visible()
    csrf = page.locator("#break-glass input[name=csrf]").input_value()
    sneak = page.request.post(
        f"{url}/accounts/{loan}/arrangements",
        form={"csrf": csrf, "kind": "waiver", "penalty": str(penalty), "reason": "x"},
    )
    assert sneak.status == 403
    assert statement_for_loan(app, loan, DAY)["overdue"]["penalty"] == penalty
    page.fill("#bg-reason", "borrower called the hotline about the penalty")
    page.click("#break-glass button[type=submit]")
    page.wait_for_url(f"{url}/accounts/{loan}")
    page.select_option("#kind", "waiver")
    page.fill("#penalty", f"{penalty // 100}.{penalty % 100:02d}")  # typed in yuan
    page.fill("#reason", "hospital bills")
    page.click("#arrange button[type=submit]")
    # a sentence with a short reference, not a raw id
    expect(page.locator(".flash")).to_contain_text("waits for a second person's approval")
    expect(page.locator(".flash")).to_have_text(re.compile(r"reference [0-9A-F]{4}-[0-9A-F]{4}"))
    expect(page.locator(".flash")).not_to_contain_text("ar-")
    with app.engine.connect() as conn:
        asked = conn.execute(
            select(t.arrangement.c.terms).where(
                t.arrangement.c.loan_id == loan, t.arrangement.c.status == "pending_approval"
            )
        ).scalar_one()
    assert json.loads(asked)["penalty"] == penalty  # kept in fen
    assert statement_for_loan(app, loan, DAY)["overdue"]["penalty"] == penalty
    page.close()
    boss = signed_in(browser, url, "wang")
    boss.goto(f"{url}/approvals")
    row = boss.locator("#approvals tr", has_text=loan)
    expect(row).to_contain_text("chen (Collector)")
    row.locator("text=Approve").click()
    boss.wait_for_url(f"{url}/approvals?flash=saved")
    expect(boss.locator("#approvals tr", has_text=loan)).to_have_count(0)
    assert statement_for_loan(app, loan, DAY)["overdue"]["penalty"] == 0
    boss.close()


def test_an_agency_user_sees_only_its_own_placements(
    console: tuple[str, App], browser: Browser
) -> None:
    url, app = console
    with app.engine.connect() as conn:
        placed: dict[str, Any] = dict(
            conn.execute(select(t.placement.c.agency, t.placement.c.loan_id)).all()
        )
    assert {"tier1", "tier2"} <= set(placed), "both agencies got placements"
    page = signed_in(browser, url, "li")
    assert page.url.endswith("/agency")
    expect(page.locator("#placed")).to_contain_text(placed["tier1"])
    assert page.goto(f"{url}/accounts/{placed['tier1']}").status == 200
    elsewhere = page.goto(f"{url}/accounts/{placed['tier2']}")
    assert elsewhere is not None and elsewhere.status == 404
    assert placed["tier2"] not in page.content()
    assert page.goto(f"{url}/approvals").status == 403  # not a supervisor's page either
    # no in-house queue, not even by URL
    page.goto(f"{url}/queue?queue=early_callback")
    assert page.url.endswith("/agency")
    assert page.goto(f"{url}/compliance/conduct").status == 403
    # the agency records its call through the same screen and gate as the lender's own
    page.goto(f"{url}/accounts/{placed['tier1']}")
    page.select_option("#ag-result", "conversation")
    page.fill("#ag-note", "借款人同意周五还款")
    page.click("#agency-contact button[type=submit]")
    expect(page.locator(".flash")).not_to_have_class("flash error")
    with app.engine.connect() as conn:
        recorded = conn.execute(
            select(t.contact_attempt.c.collector_id, t.contact_attempt.c.channel).where(
                t.contact_attempt.c.loan_id == placed["tier1"],
                t.contact_attempt.c.collector_id == "li",
            )
        ).all()
    assert [tuple(r) for r in recorded] == [("li", "call")]
    page.close()


def test_the_dashboard_draws_its_charts(console: tuple[str, App], browser: Browser) -> None:
    url, _ = console
    page = signed_in(browser, url, "wang")
    page.goto(f"{url}/dashboard?since=2026-11-01&until=2026-11-23")
    assert page.locator("svg.chart").count() >= 5
    assert page.locator("svg.chart rect.bar").count() >= 3
    expect(page.locator("#ptp")).to_be_visible()
    page.close()


def test_a_compliance_officer_searches_verifies_and_exports(
    console: tuple[str, App], browser: Browser
) -> None:
    url, app = console
    page = signed_in(browser, url, "qian")
    page.goto(f"{url}/compliance/audit?verify=1")
    expect(page.locator("#chain")).to_contain_text("Chain intact")
    with app.engine.connect() as conn:
        kind, subject = conn.execute(
            select(t.audit_log.c.kind, t.audit_log.c.subject)
            .order_by(t.audit_log.c.seq.desc())
            .limit(1)
        ).one()
    page.goto(f"{url}/compliance/audit?kind={kind}&q={subject}")
    cells = page.locator("#audit tr td:nth-child(3)").all_inner_texts()
    assert cells and set(cells) == {kind}
    # the record is read field by field, whole: the longest entry's last field is on the page
    with app.engine.connect() as conn:
        kind, subject, payload = conn.execute(
            select(t.audit_log.c.kind, t.audit_log.c.subject, t.audit_log.c.payload)
            .order_by(func.length(t.audit_log.c.payload).desc())
            .limit(1)
        ).one()
    record = json.loads(payload)
    page.goto(f"{url}/compliance/audit?kind={kind}&q={subject}")
    last_key, last_value = list(record.items())[-1]
    if not isinstance(last_value, dict | list):
        expect(page.locator("#audit td.record dt", has_text=last_key).first).to_be_visible()
    assert "{" not in page.locator("#audit td.record").first.inner_text()[:1]
    with app.engine.connect() as conn:
        loan = conn.execute(
            select(t.contact_attempt.c.loan_id)
            .where(t.contact_attempt.c.loan_id.is_not(None))
            .limit(1)
        ).scalar_one()
    got = page.request.get(f"{url}/compliance/evidence/{loan}.json")
    body = got.json()
    assert got.status == 200 and body["loan_id"] == loan
    assert body["contacts"] and all(len(c["evidence_hash"]) == 64 for c in body["contacts"])
    page.goto(f"{url}/accounts/{loan}")
    expect(page.locator("#borrower-name")).not_to_contain_text("*")  # unmasked for compliance
    # titled by what it is for, in local time, with the collectors and the promises
    page.select_option("#ev-purpose", "complaint")
    with page.expect_download() as got_pdf:
        page.click("#evidence button")
    assert got_pdf.value.suggested_filename == f"evidence-complaint-{loan}-{DAY.isoformat()}.pdf"
    text = subprocess.run(
        ["pdftotext", "-layout", got_pdf.value.path(), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "Evidence for a complaint investigation" in text and "Legal referral" not in text
    assert "All times are local time in Asia/Shanghai" in text
    assert "Promises to pay" in text and "Collector id" in text
    assert "conversation" not in text and "no_answer" not in text  # results in words
    bad = page.request.get(f"{url}/compliance/evidence/{loan}.pdf?purpose=gossip")
    assert bad.status == 422
    # how often each borrower was contacted, and by whom, as a page and as files
    page.goto(f"{url}/compliance/frequency?since=2026-11-01&until={DAY.isoformat()}")
    expect(page.locator("#freq-borrowers tbody tr").first).to_be_visible()
    with page.expect_download() as got_csv:
        page.click("#collectors-csv")
    assert got_csv.value.suggested_filename == (
        f"contact-frequency-collectors-2026-11-01-{DAY.isoformat()}.csv"
    )
    head = Path(got_csv.value.path()).read_text(encoding="utf-8-sig").splitlines()[0]
    assert head.startswith("Collector id,Calls,Connected calls")
    with app.engine.connect() as conn:
        seen = (
            conn.execute(select(t.access_log.c.what).where(t.access_log.c.unmasked)).scalars().all()
        )
    assert {"evidence_json", "evidence_pdf:complaint", "account"} <= set(seen)
    page.close()


def candidate_file(folder: Path, text: str) -> str:
    path = folder / "candidate.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_strategy_manager_uploads_diffs_and_activates(
    console: tuple[str, App], browser: Browser, tmp_path: Path
) -> None:
    from importlib import resources

    from arrears.service.daily.cycle import strategy_from
    from arrears.service.daily.plans import diff_plans

    url, app = console
    page = signed_in(browser, url, "sun")
    assert page.url.endswith("/strategy")
    page.fill("#text", "strategy: broken\nversion: 1\nstages: nope\n")
    page.click("#upload button[type=submit]")
    expect(page.locator("#problems")).to_contain_text("stages")
    shipped = (resources.files("arrears.strategy") / "strategies" / "default.yaml").read_text()
    candidate = (
        shipped.replace('version: "2026.11"', 'version: "2026.12"')
        .replace("{on_day: 10, channel: agent_call", "{on_day: 9, channel: agent_call")
        .replace("{on_day: -1, channel: sms,", "{on_day: -2, channel: sms,")
    )
    # the file chosen, not pasted (the file's field was once never read: always 422)
    page.fill("#text", "")
    page.set_input_files(
        "#file",
        files=[
            {"name": "next.yaml", "mimeType": "application/x-yaml", "buffer": candidate.encode()}
        ],
    )
    page.click("#upload button[type=submit]")
    expect(page.locator("#versions")).to_contain_text("2026.12")
    page.locator("#versions a", has_text="dry-run diff").first.click()
    expect(page.locator("#diff")).to_contain_text("against")
    # account by account: who loses the day-before reminder, who gets one two days before
    d = diff_plans(app, DAY, candidate=strategy_from(app, candidate_file(tmp_path, candidate)))
    assert {a.kind for a in d.accounts} >= {"added", "removed"}
    shown = page.locator("#changes tbody tr")
    expect(shown).to_have_count(min(50, len(d.accounts)))
    first = d.accounts[0]
    expect(shown.first).to_contain_text(first.loan_id)
    expect(page.locator("#changes")).to_contain_text("No longer acted on")
    if len(d.accounts) > 50:
        page.locator("nav.pager a[rel=next]").click()
        expect(shown.first).to_contain_text(d.accounts[50].loan_id)
    with page.expect_download() as got:
        page.click("#diff-csv")
    assert re.fullmatch(r"dry-run-v\d+-\d{4}-\d{2}-\d{2}\.csv", got.value.suggested_filename)
    lines = Path(got.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Loan,") and len(lines) == 1 + len(d.accounts)
    page.locator("#versions button", has_text="ctivate").first.click()
    expect(page.locator("#confirm")).to_contain_text("Activate version")  # asked once more
    assert strategy_from(app, None).version != "2026.12"
    page.click("#confirm-activate")
    expect(page.locator("#versions .tag")).to_contain_text("Active")
    assert strategy_from(app, None).version == "2026.12"
    page.close()


def test_a_supervisor_sees_queues_and_assigns_them(
    console: tuple[str, App], browser: Browser
) -> None:
    url, app = console
    page = signed_in(browser, url, "wang")
    page.goto(f"{url}/supervise")
    expect(page.locator("#queues")).to_contain_text("Early call-back")  # the strategy's label
    page.check("#who-chen")
    page.select_option("#assign-queues", ["mid_calls"])
    page.click("#assign button[type=submit]")
    page.wait_for_url(f"{url}/supervise?flash=saved")
    expect(page.locator("#team tr", has_text="chen")).to_contain_text("Mid-stage calls")
    # only queues that exist can be given: a typo posted by hand is refused, nothing changes
    csrf = page.locator("#assign input[name=csrf]").input_value()
    r = page.request.post(
        f"{url}/supervise/assign",
        form={"csrf": csrf, "username": "chen", "queues": "mid_cals"},
        max_redirects=0,
    )
    assert r.status == 303 and "flash" in r.headers["location"]
    with app.engine.connect() as conn:
        kept = conn.execute(
            select(t.staff_user.c.queues).where(t.staff_user.c.username == "chen")
        ).scalar()
    assert kept == "mid_calls"
    page.close()
    collector = signed_in(browser, url, "chen")
    assert collector.locator("#q").input_value() == "mid_calls"
    collector.close()


def test_the_team_table_drills_down_and_exports_without_formulas(
    console: tuple[str, App], browser: Browser, tmp_path: Path
) -> None:
    """Everyone who worked that day (a collector id known only from the contacts too), each
    figure opening its accounts, and the table as CSV and Excel with formula text disarmed."""
    from openpyxl import load_workbook

    from arrears.service.conduct.dispositions import Wrap
    from arrears.service.conduct.outcomes import record_outcome
    from arrears.service.outreach.worklist import items

    url, app = console
    add_user(
        app, username="mallory", password=PASSWORD, role="collector", display_name="=1+2",
        collector_id="C0666",
    )  # fmt: skip
    item = items(app, "mid_calls", DAY, limit=1)[0]
    record_outcome(
        app, item.action_id, collector_id="C0666", result="conversation", wrap=Wrap("refused")
    )
    page = signed_in(browser, url, "wang")
    page.goto(f"{url}/supervise?day={DAY.isoformat()}")
    row = page.locator("#worked tr", has_text="C0666")
    expect(row).to_contain_text("=1+2")
    expect(row).to_contain_text("100.0%")  # one right-party contact of one attempt
    row.locator("a").first.click()
    expect(page.locator("#drill")).to_contain_text(item.loan_id)
    with page.expect_download() as got:
        page.click("#drill-csv")  # the accounts behind the figure, as a file too
    assert got.value.suggested_filename.endswith(f"-C0666-{DAY.isoformat()}.csv")
    behind = Path(got.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert behind[0] == "Loan" and item.loan_id in behind[1:]
    page.goto(f"{url}/supervise?day={DAY.isoformat()}")
    for table in ("queues", "agencies"):  # every table of the page downloads
        with page.expect_download() as got:
            page.click(f"#{table}-csv")
        assert got.value.suggested_filename == f"{table}-{DAY.isoformat()}.csv"
        lines = Path(got.value.path()).read_text(encoding="utf-8-sig").splitlines()
        assert lines[0].startswith(("Queue,Capacity", "Agency,Accounts")) and len(lines) >= 2
    with page.expect_download() as got:
        page.click("#team-csv")
    assert got.value.suggested_filename == f"team-{DAY.isoformat()}.csv"
    text = Path(got.value.path()).read_text(encoding="utf-8-sig")
    assert "C0666,'=1+2,1," in text and ",=1+2" not in text
    with page.expect_download() as got:
        page.click("#team-xlsx")
    assert got.value.suggested_filename.endswith(".xlsx")
    saved = tmp_path / "team.xlsx"
    got.value.save_as(saved)
    sheet = load_workbook(saved).active
    names = {r[0].value: r[1] for r in sheet.iter_rows(min_row=2)}
    assert names["C0666"].value == "'=1+2" and names["C0666"].data_type == "s"
    page.close()


def test_sign_in_locks_after_five_failures(console: tuple[str, App], browser: Browser) -> None:
    url, _ = console
    page = browser.new_page(locale="en-US")
    for _ in range(5):
        page.goto(f"{url}/login")
        page.fill("#username", "zhao")
        page.fill("#password", "wrong-password")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_contain_text("Wrong username or password")
    page.fill("#username", "zhao")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("locked")
    assert page.goto(f"{url}/dashboard").url.endswith("/login")  # no session
    page.close()


def test_compliance_reviews_conduct_alerts_and_no_one_else_can(
    console: tuple[str, App], browser: Browser
) -> None:
    from arrears.service.staff.scope import break_glass
    from arrears.service.staff.users import authenticate

    url, app = console
    chen = authenticate(app, "chen", PASSWORD)
    loan = _late_with_penalty(app)
    break_glass(app, chen, loan, "checking a payment the borrower disputes")
    collector = signed_in(browser, url, "chen")
    assert collector.goto(f"{url}/compliance/conduct").status == 403
    with app.engine.connect() as conn:
        alert = conn.execute(
            select(t.conduct_alert.c.alert_id).where(
                t.conduct_alert.c.loan_id == loan,
                t.conduct_alert.c.detail.contains("checking a payment"),
            )
        ).scalar_one()
    collector.goto(f"{url}/queue")  # a valid form token of the collector's own session
    csrf = collector.locator("input[name=csrf]").first.input_value()
    sneak = collector.request.post(
        f"{url}/compliance/conduct/{alert}/review",
        form={"csrf": csrf, "verdict": "dismissed", "note": "nothing to see here"},
    )
    assert sneak.status == 403
    collector.close()
    officer = signed_in(browser, url, "qian")  # zhao may be locked out by another test
    officer.goto(f"{url}/compliance/conduct")
    row = officer.locator(f"#alerts tr[data-alert='{alert}']")
    expect(row).to_contain_text("Break-glass")
    expect(row).to_contain_text("checking a payment the borrower disputes")
    row.locator("select[name=verdict]").select_option("confirmed")
    row.locator("input[name=note]").fill("no ticket for this account; reminded the team")
    row.locator("button").click()
    officer.wait_for_url(f"{url}/compliance/conduct?flash=saved")
    expect(officer.locator(f"#alerts tr[data-alert='{alert}']")).to_have_count(0)
    expect(officer.locator("#breaches")).to_contain_text("C0007")
    officer.goto(f"{url}/lang?to=zh-CN")
    officer.goto(f"{url}/compliance/conduct?status=confirmed")
    expect(officer.locator("h1")).to_contain_text("行为合规预警")
    expect(officer.locator(f"#alerts tr[data-alert='{alert}']")).to_contain_text("越权查看")
    officer.goto(f"{url}/lang?to=en")
    officer.close()
    with app.engine.connect() as conn:
        status, by = conn.execute(
            select(t.conduct_alert.c.status, t.conduct_alert.c.reviewed_by).where(
                t.conduct_alert.c.alert_id == alert
            )
        ).one()
        reviewed = conn.execute(
            select(t.audit_log.c.payload).where(t.audit_log.c.kind == "conduct_review")
        ).scalars()
        payloads = list(reviewed)
    assert (status, by) == ("confirmed", "qian")
    assert any(alert in p for p in payloads)


def test_an_account_not_overdue_says_when_it_is_next_due(
    console: tuple[str, App], browser: Browser
) -> None:
    """Never a negative number of days: an account not overdue names its next due date; an
    overdue one says since when, then what is due next."""
    url, app = console
    ahead = loan_listing(app, stage=None, portfolio_id=None, limit=2500).rows
    current = next(
        r["loan_id"]
        for r in ahead
        if (s := statement_for_loan(app, r["loan_id"], DAY))["dpd"] is not None
        and s["dpd"] <= 0
        and s["next_due_date"]
    )
    page = signed_in(browser, url, "qian")
    page.goto(f"{url}/accounts/{current}")
    st = statement_for_loan(app, current, DAY)
    expect(page.locator("#lateness")).to_have_text(
        f"Not overdue, next due on {st['next_due_date']}"
    )
    late = _late_with_penalty(app)
    page.goto(f"{url}/accounts/{late}")
    lt = statement_for_loan(app, late, DAY)
    expect(page.locator("#lateness")).to_have_text(
        f"{lt['dpd']} days overdue, since {lt['oldest_unpaid_due_date']}"
    )
    assert not re.search(r"(^|\s)-\d", page.locator("h1").inner_text())
    # a borrower in another time zone: the timeline says so and gives their local time too
    bid = borrower_of(app, current)
    with app.engine.begin() as conn:
        was = conn.execute(
            select(t.borrower.c.timezone).where(t.borrower.c.borrower_id == bid)
        ).scalar_one()
        conn.execute(
            update(t.borrower).where(t.borrower.c.borrower_id == bid).values(timezone="Asia/Urumqi")
        )
    try:
        page.goto(f"{url}/accounts/{current}")
        expect(page.locator("#zones")).to_contain_text("Asia/Urumqi")
        expect(page.locator("#zones")).to_contain_text("Asia/Shanghai")
    finally:
        with app.engine.begin() as conn:
            conn.execute(
                update(t.borrower).where(t.borrower.c.borrower_id == bid).values(timezone=was)
            )
    page.close()
