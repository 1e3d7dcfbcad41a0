"""The borrower portal over real HTTP (uvicorn on loopback): sign-in by SMS code (through the
outbox and through an HTTP SMS gateway), no enumeration, expiry and throttling of codes, one
borrower never reaching another's loan, signed and idempotent payment callbacks, preferences
honoured by the dispatcher and the next cycle, arrangements within and above the automatic
limits, and complaint evidence checked by its bytes, stored encrypted, all or nothing."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.channels.base import Message, Receipt
from arrears.channels.sms_http import HttpSms, HttpSmsConfig
from arrears.service.books.statements import statement_for_loan
from arrears.service.borrower.signin import send_code
from arrears.service.daily.cycle import run_cycle
from arrears.service.queries.casework import arrangement_listing
from arrears.settings import Env, Settings
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from arrears.web.api.webhooks import signature
from arrears.web.app import create_app
from tests.conftest import make_app
from tests.support.clock import Clock, plan_rows
from tests.support.files import two_borrower_files
from tests.support.servers import Gateway, serve_asgi

NOW = datetime(2026, 2, 19, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai; L1 and L2 are 35 days late
PHONES = {"L1": "13812345678", "L2": "13900001111"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + b"1 0 obj <<>> endobj\n" * 20


@dataclass
class Portal:
    url: str
    app: App
    clock: Clock
    outbox: Path


def _store(folder: Path, clock: Clock, url: str | None = None) -> App:
    app = make_app(url or f"sqlite:///{folder / 'store.db'}")
    app.clock = clock
    app.settings = app.settings.model_copy(
        update={"outbox_dir": folder / "outbox", "outbox_files": True}
    )
    upgrade(app.engine)
    ingest(app.engine, app.cipher, [two_borrower_files(folder / "in")], clock=clock)
    return app


@pytest.fixture
def portal(tmp_path: Path, store_url: str) -> Iterator[Portal]:
    """The portal over a store on SQLite and on PostgreSQL."""
    clock = Clock(NOW)
    app = _store(tmp_path, clock, store_url)
    try:
        with serve_asgi(create_app(app)) as url:
            app.settings = app.settings.model_copy(update={"public_url": url})
            yield Portal(url, app, clock, tmp_path / "outbox")
    finally:
        app.engine.dispose()  # the pool's connections closed here, not left to the collector


def _token(c: httpx.Client) -> str:
    c.get("/portal")
    return str(c.cookies.get("arrears_verify"))


def _codes(outbox: Path, phone: str, expect: int = 0) -> list[str]:
    """The codes sent to ``phone``, oldest first, once there are at least ``expect`` (the portal
    answers before it sends: the code lands a moment after the page)."""
    deadline = time.monotonic() + 10
    while True:
        found = []
        for f in sorted(outbox.glob("sms/*/*.json"), key=lambda p: p.stat().st_mtime_ns):
            m = json.loads(f.read_text(encoding="utf-8"))
            if m["destination"] == phone and m["metadata"].get("purpose") == "portal_code":
                found.append(re.search(r"\b(\d{6})\b", m["body"]).group(1))  # type: ignore[union-attr]
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _settled(outbox: Path, phone: str, expect: int) -> list[str]:
    """The codes once ``expect`` have landed and no more come in the next moment."""
    _codes(outbox, phone, expect)
    time.sleep(0.5)
    return _codes(outbox, phone)


def sign_in(p: Portal, c: httpx.Client, ref: str = "L1", phone: str = PHONES["L1"]) -> str:
    """Sign in as the borrower of ``ref`` with the code from the outbox; the session's CSRF."""
    token = _token(c)
    before = len(_codes(p.outbox, phone))
    assert c.post("/portal/code", data={"ref": ref, "csrf": token}).status_code == 200
    code = _codes(p.outbox, phone, before + 1)[-1]
    r = c.post("/portal/signin", data={"ref": ref, "code": code, "csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/portal/home"
    home = c.get("/portal/home")
    return re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]


def test_sign_in_by_national_id_or_loan_reference(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url) as c:
        sign_in(portal, c, ref="110101199003077774")
        home = c.get("/portal/home")
        # the loans' own links (a random CSRF token may hold the letters "L2")
        assert home.status_code == 200 and "/portal/loan/L1" in home.text
        assert "/portal/loan/L2" not in home.text
    with httpx.Client(base_url=portal.url) as c:
        sign_in(portal, c, ref="L2", phone=PHONES["L2"])
        assert "/portal/loan/L2" in c.get("/portal/home").text
    # the audit trail says who signed in, never the code
    with portal.app.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(t.audit_log.c.kind))]
    assert kinds.count("portal_sign_in") == 2 and kinds.count("portal_code") == 2


def test_unknown_references_get_the_same_answer_and_no_sms(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url) as c:
        token = _token(c)
        known = c.post("/portal/code", data={"ref": "L1", "csrf": token})
        unknown = c.post("/portal/code", data={"ref": "L999", "csrf": token})
    said = [re.search(r'<p class="muted" id="sent">(.*?)</p>', r.text) for r in (known, unknown)]
    assert known.status_code == unknown.status_code == 200
    assert said[0] and said[1] and said[0].group(1) == said[1].group(1)
    assert len(_settled(portal.outbox, PHONES["L1"], 1)) == 1
    assert len(list(portal.outbox.glob("sms/*/*.json"))) == 1  # only the real borrower's


def test_codes_expire_are_used_once_and_are_limited_per_borrower(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url) as c:
        token = _token(c)
        c.post("/portal/code", data={"ref": "L1", "csrf": token})
        code = _codes(portal.outbox, PHONES["L1"], 1)[-1]
        portal.clock.at = NOW + timedelta(minutes=6)
        late = c.post("/portal/signin", data={"ref": "L1", "code": code, "csrf": token})
        assert late.status_code == 401
        c.post("/portal/code", data={"ref": "L1", "csrf": token})
        code = _codes(portal.outbox, PHONES["L1"], 2)[-1]
        ok = c.post("/portal/signin", data={"ref": "L1", "code": code, "csrf": token})
        assert ok.status_code == 303
        again = c.post("/portal/signin", data={"ref": "L1", "code": code, "csrf": token})
        assert again.status_code == 401
        for _ in range(3):
            c.post("/portal/code", data={"ref": "L1", "csrf": token})
    assert len(_settled(portal.outbox, PHONES["L1"], 3)) == 3  # at most 3 codes an hour


class _Recorder:
    """An SMS channel that keeps what it is given."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> Receipt:
        self.sent.append(message)
        return Receipt(self.name, message.idempotency_key)

    def close(self) -> None:
        pass


def test_codes_asked_for_at_once_stay_within_the_hours_limit(
    tmp_path: Path, store_url: str
) -> None:
    """Twelve requests at once (the portal answers before the work) still send at most three
    codes: the hour's count and the new code are one serialised unit."""
    app = _store(tmp_path, Clock(NOW), store_url)
    sms = _Recorder()
    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda _: send_code(app, "L1", sms), range(12)))
        with app.engine.connect() as conn:
            issued = conn.execute(select(func.count()).select_from(t.portal_code)).scalar()
    finally:
        app.engine.dispose()
    assert len(sms.sent) == 3 and issued == 3


def test_guessing_codes_is_throttled(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url) as c:
        token = _token(c)
        c.post("/portal/code", data={"ref": "L1", "csrf": token})
        code = _codes(portal.outbox, PHONES["L1"], 1)[-1]
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        answers = [
            c.post("/portal/signin", data={"ref": "L1", "code": wrong, "csrf": token}).status_code
            for _ in range(5)
        ]
        assert answers == [401] * 5
        # five wrong guesses use the code up: even the right one no longer opens
        right = c.post("/portal/signin", data={"ref": "L1", "code": code, "csrf": token})
        assert right.status_code == 401
        more = [
            c.post("/portal/signin", data={"ref": "L1", "code": wrong, "csrf": token}).status_code
            for _ in range(5)
        ]
        assert more[:4] == [401] * 4 and more[4] == 429  # 10 guesses an address a window
        portal.clock.at = NOW + timedelta(minutes=11)
        c.post("/portal/code", data={"ref": "L1", "csrf": token})
        code = _codes(portal.outbox, PHONES["L1"], 2)[-1]
        back = c.post("/portal/signin", data={"ref": "L1", "code": code, "csrf": token})
        assert back.status_code == 303  # the window passed


def test_codes_go_out_through_an_http_sms_gateway(tmp_path: Path) -> None:
    gateway = Gateway(token="s3cret").start()
    clock = Clock(NOW)
    app = _store(tmp_path, clock)
    sms = HttpSms(HttpSmsConfig(url=gateway.url, token="s3cret"))
    try:
        with serve_asgi(create_app(app, portal_sms=sms)) as url, httpx.Client(base_url=url) as c:
            token = _token(c)
            c.post("/portal/code", data={"ref": "L2", "csrf": token})
            deadline = time.monotonic() + 10
            while not gateway.requests and time.monotonic() < deadline:
                time.sleep(0.02)
            [req] = gateway.requests
            assert req["body"]["to"] == PHONES["L2"]
            code = re.search(r"\b(\d{6})\b", req["body"]["text"]).group(1)  # type: ignore[union-attr]
            r = c.post("/portal/signin", data={"ref": "L2", "code": code, "csrf": token})
            assert r.status_code == 303
    finally:
        sms.close()
        gateway.stop()


def _order(c: httpx.Client, loan_id: str, csrf: str, amount: str) -> str:
    r = c.post(f"/portal/loan/{loan_id}/pay", data={"csrf": csrf, "amount": amount})
    assert r.status_code == 303, r.text
    return re.search(r"order=(po-[0-9a-f]+)", r.headers["location"]).group(1)  # type: ignore[union-attr]


def test_one_borrower_cannot_reach_anothers_loan(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url) as other:
        csrf2 = sign_in(portal, other, "L2", PHONES["L2"])
        order2 = _order(other, "L2", csrf2, "100")
        filed = other.post(
            "/portal/complaints",
            data={
                "csrf": csrf2,
                "category": "insults",
                "description": "he shouted at me",
                "loan_id": "L2",
            },
            files=[("files", ("a.png", PNG, "image/png"))],
        )
        assert filed.status_code == 200
    with portal.app.engine.connect() as conn:
        evidence2 = conn.execute(select(t.complaint_evidence.c.evidence_id)).scalar()
    with httpx.Client(base_url=portal.url) as c:
        csrf = sign_in(portal, c)
        assert c.get("/portal/loan/L1").status_code == 200
        for path in (
            "/portal/loan/L2",
            "/portal/loan/L2/statement.pdf",
            "/portal/loan/L2/pay",
            "/portal/loan/L2/arrange",
            f"/portal/pay/return?order={order2}",
            f"/portal/evidence/{evidence2}",
            "/portal/loan/NOPE",
        ):
            assert c.get(path).status_code == 404, path
        assert (
            c.post("/portal/loan/L2/pay", data={"csrf": csrf, "amount": "100"}).status_code == 404
        )
        r = c.post(
            "/portal/loan/L2/arrange",
            data={"csrf": csrf, "kind": "hardship", "what": "job lost", "step": "confirm"},
        )
        assert r.status_code == 404
        r = c.post(
            "/portal/complaints",
            data={"csrf": csrf, "category": "insults", "description": "about L2", "loan_id": "L2"},
        )
        assert r.status_code == 422
        complaints = c.get("/portal/complaints").text
        assert "he shouted at me" not in complaints
    with portal.app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.hold)).scalar() == 1  # B2's own


def test_forms_need_the_session_and_its_csrf_token(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url) as c:
        r = c.get("/portal/home")
        assert r.status_code == 303 and r.headers["location"] == "/portal"
        csrf = sign_in(portal, c)
        assert c.post("/portal/prefs", data={"language": "en"}).status_code == 403
        r = c.post(
            "/portal/complaints",
            data={"category": "insults", "description": "x y z"},
            files=[("files", ("a.png", PNG, "image/png"))],
        )
        assert r.status_code == 403
        r = c.post("/portal/signout", data={"csrf": csrf})
        assert r.status_code == 303
        assert c.get("/portal/home").status_code == 303  # signed out


def _notify(
    c: httpx.Client, secret: str, body: dict[str, object], when: datetime
) -> httpx.Response:
    raw = json.dumps(body).encode()
    stamp = str(int(when.timestamp()))
    return c.post(
        "/portal/pay/notify",
        content=raw,
        headers={
            "X-Arrears-Timestamp": stamp,
            "X-Arrears-Signature": signature(secret, stamp, raw),
            "Content-Type": "application/json",
        },
    )


def test_payment_callbacks_are_signed_and_post_once(portal: Portal) -> None:
    app = portal.app
    run_cycle(app, date(2026, 2, 19), strategy=load("default"))
    due = statement_for_loan(app, "L1", date(2026, 2, 19))["total_due"]
    secret = app.settings.checkout_secret
    with httpx.Client(base_url=portal.url) as c:
        csrf = sign_in(portal, c)
        too_much = c.post("/portal/loan/L1/pay", data={"csrf": csrf, "amount": "999999"})
        assert too_much.status_code == 422 and "amount" in too_much.text
        # the provider is told to notify where the configuration says, whatever the Host
        forged = c.post(
            "/portal/loan/L1/pay",
            data={"csrf": csrf, "amount": "1.00"},
            headers={"Host": "evil.example"},
        )
        assert forged.status_code == 303
        said = dict(parse_qsl(urlsplit(forged.headers["location"]).query))
        assert said["notify"] == f"{portal.url}/portal/pay/notify"
        assert said["return"].startswith(f"{portal.url}/portal/pay/return")
        order = _order(c, "L1", csrf, f"{due // 100}.{due % 100:02d}")
        paid = {"order_id": order, "status": "paid", "amount": due, "provider_ref": "bank-1"}
        forged = _notify(c, "not-the-secret", paid, NOW)
        assert forged.status_code == 401
        stale = _notify(c, secret, paid, NOW - timedelta(minutes=10))
        assert stale.status_code == 401
        wrong = _notify(c, secret, {**paid, "amount": due - 1}, NOW)
        assert wrong.status_code == 422 and wrong.json()["field"] == "amount"
        for odd in (due + 0.9, str(due), True, 1e400):  # amounts are JSON integers (fen)
            r = _notify(c, secret, {**paid, "amount": odd}, NOW)
            assert r.status_code == 422 and r.json()["field"] in ("amount", "body"), odd

        def tell(_: int) -> httpx.Response:
            with httpx.Client(base_url=portal.url) as own:
                return _notify(own, secret, paid, NOW)

        with ThreadPoolExecutor(4) as pool:  # the provider tells us four times at once
            told = list(pool.map(tell, range(4)))
        assert [r.json() for r in told] == [{"order_id": order, "status": "paid"}] * 4
        shown = c.get(f"/portal/pay/return?order={order}")
        assert "已入账" in shown.text
    with app.engine.connect() as conn:
        pays = conn.execute(select(t.payment).where(t.payment.c.loan_id == "L1")).all()
        actions = conn.execute(select(t.plan_action.c.status, t.plan_action.c.loan_id)).all()
    assert [(p.amount, p.source) for p in pays] == [(due, "portal")]
    assert statement_for_loan(app, "L1", date(2026, 2, 19))["total_due"] == 0
    assert ("cancelled", "L1") in actions and ("planned", "L2") in actions


def test_a_small_payment_says_what_still_follows(portal: Portal) -> None:
    """A token payment leaves the day's contacts in place, and the page says so (never that
    reminders stopped); paying the rest says nothing more is due."""
    app = portal.app
    day = date(2026, 2, 19)
    run_cycle(app, day, strategy=load("default"))
    planned = [a for a in plan_rows(app, loan_id="L1") if a.status == "planned"]
    assert planned, "the cycle plans contacts for L1 that day"
    due = int(statement_for_loan(app, "L1", day)["total_due"])
    secret = app.settings.checkout_secret
    with httpx.Client(base_url=portal.url) as c:
        csrf = sign_in(portal, c)
        order = _order(c, "L1", csrf, "1.00")
        paid = {"order_id": order, "status": "paid", "amount": 100, "provider_ref": "bank-7"}
        assert _notify(c, secret, paid, NOW).status_code == 200
        shown = c.get(f"/portal/pay/return?order={order}").text
        assert "已入账" in shown and f"目前仍应还：¥{(due - 100) / 100:,.2f}" in shown
        assert "还清前仍将进行以下联系" in shown
        assert "今日的催收提醒已停止" not in shown and "不会再有" not in shown
        still = [a for a in plan_rows(app, loan_id="L1") if a.status == "planned"]
        assert {a.action_id for a in still} == {a.action_id for a in planned}
        rest = _order(c, "L1", csrf, f"{(due - 100) // 100}.{(due - 100) % 100:02d}")
        paid = {"order_id": rest, "status": "paid", "amount": due - 100, "provider_ref": "bank-8"}
        assert _notify(c, secret, paid, NOW).status_code == 200
        shown = c.get(f"/portal/pay/return?order={rest}").text
        assert "目前已无应还款项" in shown


def test_lateness_is_said_in_words_never_as_negative_days(portal: Portal) -> None:
    """Before the due date: "not overdue, next due on ..."; once late: the days, since when,
    and the next instalment; a penalty never paid is not shown as "−0.00"."""
    portal.clock.at = datetime(2026, 1, 12, 2, 0, tzinfo=UTC)  # three days before the first due
    with httpx.Client(base_url=portal.url) as c:
        sign_in(portal, c)
        home = c.get("/portal/home").text
        page = c.get("/portal/loan/L1").text
    for text in (home, page):
        assert "未逾期" in text and "下一还款日 2026-01-15" in text
        assert 'dpd">' not in text and ">-3<" not in text
    assert "已还罚息" not in page
    portal.clock.at = NOW  # L1 is late now
    with httpx.Client(base_url=portal.url) as c:
        sign_in(portal, c)
        page = c.get("/portal/loan/L1").text
    st = statement_for_loan(portal.app, "L1", NOW.date())
    assert st["dpd"] > 0 and f'<td id="dpd">{st["dpd"]}</td>' in page
    assert "逾期起始日" in page and str(st["oldest_unpaid_due_date"]) in page
    assert "未逾期" not in page


def test_preferences_are_honoured_by_the_dispatcher_and_the_next_cycle(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 16, 1, 0, tzinfo=UTC))  # L1 and L2 are a day late
    app = _store(tmp_path, clock)
    run_cycle(app, date(2026, 1, 16), strategy=load("default"))
    p = Portal("", app, clock, tmp_path / "outbox")

    def sms_actions() -> dict[str, str]:
        with app.engine.connect() as conn:
            rows = conn.execute(select(t.plan_action).where(t.plan_action.c.channel == "sms"))
            return {
                f"{r.loan_id}@{r.business_date}": r.status + (f" {r.rule}" if r.rule else "")
                for r in rows
            }

    assert sms_actions() == {"L1@2026-01-16": "planned", "L2@2026-01-16": "planned"}
    with serve_asgi(create_app(app)) as url, httpx.Client(base_url=url) as c:
        p.url = url
        csrf = sign_in(p, c)
        page = c.get("/portal/prefs").text
        assert 'value="letter"' not in page  # the rulebook keeps letters: not offered
        # each channel that cannot be refused names the rule that says so; a visit is never
        # presented as something the law requires
        fixed = re.findall(r'<div class="fixed" id="why-(\w+)">(.*?)</div>', page, re.S)
        assert {c for c, _ in fixed} == {"letter", "agent_call", "visit"}
        for _c, text in fixed:
            assert "cn.consent.borrower_may_refuse" in text
        visit = dict(fixed)["visit"]
        assert "不是法律要求" in visit or "not required by law" in visit
        bad = c.post(
            "/portal/prefs",
            data={
                "csrf": csrf,
                "channels": ["push"],
                "window_start": "07:00",
                "window_end": "12:00",
                "language": "zh-CN",
            },
        )
        assert bad.status_code == 422 and "window_start" in bad.text  # before 08:00
        ok = c.post(
            "/portal/prefs",
            data={
                "csrf": csrf,
                "channels": ["push", "agent_call"],
                "window_start": "08:30",
                "window_end": "12:00",
                "language": "en",
            },
        )
        assert ok.status_code == 200 and "Saved" in ok.text  # and in English from now on
    with app.engine.connect() as conn:
        b1 = conn.execute(select(t.borrower).where(t.borrower.c.borrower_id == "B1")).one()
    assert (b1.consents, b1.contact_window, b1.locale) == (
        "push,agent_call",  # letters and visits stay as the lender had them: not agreed
        "08:30-12:00",
        "en",
    )
    assert sms_actions() == {
        "L1@2026-01-16": "cancelled cn.consent.opt_out",
        "L2@2026-01-16": "planned",
    }
    clock.at = datetime(2026, 1, 18, 1, 0, tzinfo=UTC)
    run_cycle(app, date(2026, 1, 18), strategy=load("default"))
    later = sms_actions()
    assert later["L2@2026-01-18"] == "planned"
    assert later["L1@2026-01-18"] == "blocked cn.consent.opt_out"


def test_arrangements_within_limits_are_agreed_above_wait_and_hardship_holds(
    portal: Portal,
) -> None:
    app = portal.app
    with httpx.Client(base_url=portal.url) as c:
        csrf = sign_in(portal, c)
        page = c.get("/portal/loan/L1/arrange").text
        assert "1 至 90 天" in page  # the portfolio's extension limit (in zh-CN, the default)
        ask = {"csrf": csrf, "kind": "extension", "days": "20"}
        preview = c.post("/portal/loan/L1/arrange", data=ask)
        assert preview.status_code == 200 and 'id="confirm"' in preview.text
        with app.engine.connect() as conn:  # a preview writes nothing
            assert conn.execute(select(func.count()).select_from(t.arrangement)).scalar() == 0
        done = c.post("/portal/loan/L1/arrange", data={**ask, "step": "confirm"})
        assert done.status_code == 200 and "已生效" in done.text
        again = c.post(
            "/portal/loan/L1/arrange",
            data={**ask, "kind": "plan", "parts": "3", "first": "2026-03-01"},
        )
        assert again.status_code == 422 and "one at a time" in again.text
    with httpx.Client(base_url=portal.url) as c:
        csrf = sign_in(portal, c, "L2", PHONES["L2"])
        big = {"csrf": csrf, "kind": "plan", "parts": "8", "first": "2026-03-01", "step": "confirm"}
        refused = c.post("/portal/loan/L2/arrange", data={**big, "parts": "1"})
        assert refused.status_code == 422 and "parts: 2 to 24" in refused.text
        assert "等待审核" in c.post("/portal/loan/L2/arrange", data=big).text
        hard = {"csrf": csrf, "kind": "hardship", "what": "I lost my job", "step": "confirm"}
        assert "困难申请已提交" in c.post("/portal/loan/L2/arrange", data=hard).text
    arr = {
        r["loan_id"]: (r["kind"], r["status"], r["proposed_role"])
        for loan in ("L1", "L2")
        for r in arrangement_listing(app, loan, limit=50, offset=0).rows
    }
    with app.engine.connect() as conn:
        hold = conn.execute(select(t.hold)).one()
    assert arr == {"L1": ("extension", "active", "api"), "L2": ("plan", "pending_approval", "api")}
    assert statement_for_loan(app, "L1", date(2026, 2, 19))["dpd"] <= 0  # moved out of arrears
    assert (hold.kind, hold.loan_id) == ("hardship", "L2")
    assert hold.ends_at.replace(tzinfo=UTC) == NOW + timedelta(days=30)


def test_complaint_evidence_is_checked_stored_encrypted_and_all_or_nothing(
    portal: Portal,
) -> None:
    app = portal.app
    with httpx.Client(base_url=portal.url) as c:
        csrf = sign_in(portal, c)
        form = {
            "csrf": csrf,
            "category": "threats",
            "description": "He said he'd visit my work",
            "loan_id": "L1",
        }
        fake = c.post(
            "/portal/complaints",
            data=form,
            files=[
                ("files", ("photo.png", PNG, "image/png")),
                ("files", ("photo2.png", b"MZ\x90\x00 not an image", "image/png")),
            ],
        )
        assert fake.status_code == 422 and "photo2.png" in fake.text
        with app.engine.connect() as conn:  # nothing of it was kept
            assert conn.execute(select(func.count()).select_from(t.complaint)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(t.hold)).scalar() == 0
        big = c.post(
            "/portal/complaints",
            data=form,
            files=[("files", ("big.pdf", b"%PDF-" + b"0" * (10 * 2**20), "x/y"))],
        )
        assert big.status_code == 422 and "10 MB" in big.text
        ok = c.post(
            "/portal/complaints",
            data=form,
            files=[
                ("files", ("../../etc/passwd.png", PNG, "text/plain")),
                ("files", ("letter.pdf", PDF, "application/pdf")),
            ],
        )
        assert ok.status_code == 200 and "投诉已受理" in ok.text
        assert "passwd.png" in ok.text and "../" not in ok.text  # its name, cleaned
        with app.engine.connect() as conn:
            rows = conn.execute(select(t.complaint_evidence)).all()
            complaint = conn.execute(select(t.complaint)).one()
        assert sorted((r.content_type, r.size) for r in rows) == [
            ("application/pdf", len(PDF)),
            ("image/png", len(PNG)),
        ]
        assert all(PNG[:64] not in bytes(r.data_enc) for r in rows)  # encrypted at rest
        png = next(r for r in rows if r.content_type == "image/png")
        got = c.get(f"/portal/evidence/{png.evidence_id}")
        assert got.content == PNG and got.headers["X-Content-Type-Options"] == "nosniff"
        # downloaded under the borrower's own (cleaned) name, an ASCII one for old clients
        said = got.headers["Content-Disposition"]
        assert f'filename="{png.evidence_id}.png"' in said and "filename*=UTF-8''" in said
        assert "passwd.png" in said and "/" not in said.split("filename*=")[1]
    assert (complaint.source, complaint.category, complaint.status) == ("portal", "threats", "open")
    assert complaint.hold_id is not None  # threats put the debt on hold


def test_the_sandbox_is_not_served_in_production(tmp_path: Path) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    settings = Settings(
        env=Env.PRODUCTION, database_url=f"sqlite:///{tmp_path / 'p.db'}", data_key=key
    )
    from arrears.bootstrap import bootstrap

    app = bootstrap(settings, clock=Clock(NOW))
    upgrade(app.engine)
    with serve_asgi(create_app(app)) as url, httpx.Client(base_url=url) as c:
        assert c.get("/sandbox/checkout").status_code == 404
        r = c.post("/portal/pay/notify", content=b"{}")
        assert r.status_code == 404  # no provider set up: nothing to notify


def test_the_preferred_channel_carries_the_first_reminder(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 15, 1, 0, tzinfo=UTC))  # the first due date: not late yet
    app = _store(tmp_path, clock)
    with serve_asgi(create_app(app)) as url, httpx.Client(base_url=url) as c:
        p = Portal(url, app, clock, tmp_path / "outbox")
        csrf = sign_in(p, c)
        form = {"csrf": csrf, "channels": ["sms", "push"], "language": "zh-CN"}
        refused = c.post("/portal/prefs", data={**form, "preferred": "email"})
        assert refused.status_code == 422 and "preferred" in refused.text  # not agreed to
        ok = c.post("/portal/prefs", data={**form, "preferred": "push"})
        assert ok.status_code == 200 and 'value="push" selected' in ok.text
    clock.at = datetime(2026, 1, 16, 1, 0, tzinfo=UTC)
    run_cycle(app, date(2026, 1, 16), strategy=load("default"))
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(t.plan_action.c.loan_id, t.plan_action.c.channel, t.plan_action.c.template)
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("L1", "push", "early_push"),
        ("L2", "sms", "early_sms"),
    ]


def test_preferences_survive_the_lenders_next_borrowers_file(tmp_path: Path) -> None:
    from arrears.service.borrower.portal import preferences, set_preferences

    clock = Clock(NOW)
    app = _store(tmp_path, clock)
    set_preferences(
        app,
        "B1",
        channels=["sms", "push"],
        window_start="09:00",
        window_end="12:00",
        language="zh-CN",
        preferred="push",
    )
    ingest(app.engine, app.cipher, [two_borrower_files(tmp_path / "again")], clock=clock)
    kept = preferences(app, "B1")
    # the file has no window and no preferred channel: the borrower's stay; it has consents
    assert (kept.window, kept.preferred) == (("09:00", "12:00"), "push")
    assert kept.channels == ("sms", "push", "agent_call")  # as the lender's file says again
