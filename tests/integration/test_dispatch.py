"""The dispatcher against real local providers: the stand-in SMS gateway and push service over
HTTP, a real SMTP server with STARTTLS, and the outbox for letters and robocalls. Every planned
message goes out once, carries a code that verifies, and leaves one contact attempt; what
changed since the plan was made (a hold, a payment, an opt-out) stops it; failures retry with
backoff and park with the reason."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from arrears.bootstrap import App
from arrears.channels import codes
from arrears.channels.base import Channel
from arrears.channels.email_smtp import SmtpConfig, SmtpEmail
from arrears.channels.outbox import Outbox
from arrears.channels.push_http import HttpPush, HttpPushConfig
from arrears.channels.sms_http import HttpSms, HttpSmsConfig
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.payments import post_payment
from arrears.service.errors import ServiceError
from arrears.service.outreach.callbacks import UnknownReference, sms_receipt
from arrears.service.outreach.dispatch import dispatch
from arrears.service.outreach.state import Options
from arrears.service.outreach.verify import verify
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc as db_utc
from tests.conftest import FIXED_NOW, PlanBook
from tests.support.clock import Clock
from tests.support.servers import Gateway, SmtpServer

DAY = date(2026, 11, 23)
SENT_BY_PROVIDERS = ("sms", "push", "email", "letter", "robocall")


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(1500, 11, DAY)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Gateway, SmtpServer]]:
    gw = Gateway().start()
    smtp = SmtpServer(tmp_path, "starttls").start()
    try:
        yield gw, smtp
    finally:
        while OPEN:  # the clients hang up before the servers stop
            OPEN.pop().close()
        gw.stop()
        smtp.stop()


OPEN: list[Channel] = []


@pytest.fixture(autouse=True)
def _close_adapters() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def _sms(gw: Gateway) -> dict[str, Channel]:
    sms = HttpSms(HttpSmsConfig(url=gw.url))
    OPEN.append(sms)
    return {"sms": sms}


def adapters(gw: Gateway, smtp: SmtpServer, folder: Path) -> dict[str, Channel]:
    box = Outbox(folder)
    made: dict[str, Channel] = {
        "sms": HttpSms(HttpSmsConfig(url=gw.url, rate_per_second=10_000)),
        "push": HttpPush(
            HttpPushConfig(url=gw.url.replace("/send", "/push"), rate_per_second=10_000)
        ),
        "email": SmtpEmail(
            SmtpConfig(
                host="127.0.0.1",
                port=smtp.port,
                security="starttls",
                cafile=str(smtp.cert),
                rate_per_second=10_000,
            )
        ),
        "letter": box,
        "robocall": box,
    }
    OPEN.extend(made.values())
    return made


def _actions(app: App, **where: str) -> list[dict[str, Any]]:
    pa_ = t.plan_action
    q = select(pa_).where(pa_.c.channel.in_(SENT_BY_PROVIDERS))
    for k, v in where.items():
        q = q.where(getattr(pa_.c, k) == v)
    with app.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def test_every_planned_message_goes_out_once_and_verifies(
    planned: App, servers: tuple[Gateway, SmtpServer], tmp_path: Path
) -> None:
    gw, smtp = servers
    before = _actions(planned, status="planned")
    assert {a["channel"] for a in before} >= {"sms", "push"}
    chans = adapters(gw, smtp, tmp_path / "outbox")
    report = dispatch(planned, chans, Options(worker="w1", batch=40))
    after = {a["action_id"]: a for a in _actions(planned)}
    sent = [a for a in after.values() if a["status"] == "sent"]
    assert report.sent == len(sent) > 0
    # every action that was planned has ended one way or another, with a reason if not sent
    for a in before:
        now = after[a["action_id"]]
        assert now["status"] in ("sent", "parked", "cancelled"), now
        if now["status"] != "sent":
            assert now["rule"] or now["last_error"]
    # the gateway took each SMS and push exactly once, under the action's id
    by_gateway = {a["action_id"] for a in sent if a["channel"] in ("sms", "push")}
    assert set(gw.accepted) == by_gateway
    assert len(gw.requests) == len(by_gateway)
    # the SMTP server got each email once, as text and HTML with the statement PDF attached
    mails = [email.message_from_bytes(m["data"]) for m in smtp.box.messages]
    assert len(mails) == sum(1 for a in sent if a["channel"] == "email")
    for m in mails:
        kinds = {p.get_content_type() for p in m.walk()}
        assert {"text/plain", "text/html", "application/pdf"} <= kinds
    with planned.engine.connect() as conn:
        attempts = conn.execute(
            select(t.contact_attempt.c.action_id, func.count())
            .where(t.contact_attempt.c.action_id.is_not(None))
            .group_by(t.contact_attempt.c.action_id)
        ).all()
        codes_issued = conn.execute(select(func.count()).select_from(t.verification_code)).scalar()
        assert audit.verify(conn).ok
        evidence = conn.execute(
            select(func.count())
            .select_from(t.audit_log)
            .where(t.audit_log.c.kind == "contact_attempt")
        ).scalar()
    assert {a for a, n in attempts if n == 1} == {a["action_id"] for a in sent}
    assert all(n == 1 for _, n in attempts)
    assert evidence == len(sent) and (codes_issued or 0) >= len(sent)
    # a message's code answers with who, when and what was said
    sms = next(gw.accepted[k] for k in sorted(gw.accepted) if gw.accepted[k].get("text"))
    found = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", sms["text"])
    assert found and codes.normalise(found.group())
    verdict = verify(planned, found.group())
    assert verdict.genuine and verdict.details is not None
    assert verdict.details["content"] == sms["text"] and verdict.details["channel"] == "sms"
    # nothing is left to do: a second run sends nothing
    again = dispatch(planned, chans, Options(worker="w2"))
    assert again.sent == 0 and len(gw.requests) == len(by_gateway)
    assert len(smtp.box.messages) == len(mails)


def test_what_changed_since_the_plan_stops_the_message(
    planned: App, servers: tuple[Gateway, SmtpServer], tmp_path: Path
) -> None:
    gw, smtp = servers
    sms = sorted(_actions(planned, status="planned", channel="sms"), key=lambda a: a["action_id"])
    with planned.engine.connect() as conn:
        zones = dict(conn.execute(select(t.borrower.c.borrower_id, t.borrower.c.timezone)).all())
    sms = [a for a in sms if zones[a["borrower_id"]] == "Asia/Shanghai"]
    held, paid, opted, promised, later = sms[:5]
    assert len({a["borrower_id"] for a in sms[:5]}) == 5
    with planned.engine.begin() as conn:
        conn.execute(
            insert(t.promise).values(
                promise_id="p1",
                loan_id=promised["loan_id"],
                amount=100,
                due_on=DAY + timedelta(days=2),
                made_at=FIXED_NOW,
                status="pending",
            )
        )
        conn.execute(  # the borrower now asks to be contacted only in the evening
            update(t.borrower)
            .where(t.borrower.c.borrower_id == later["borrower_id"])
            .values(contact_window="18:00-21:00")
        )
        conn.execute(
            insert(t.hold).values(
                hold_id="h1",
                borrower_id=held["borrower_id"],
                loan_id=None,
                kind="cease_request",
                starts_at=FIXED_NOW - timedelta(minutes=5),
            )
        )
        conn.execute(
            update(t.contact_point)
            .where(
                t.contact_point.c.borrower_id == opted["borrower_id"],
                t.contact_point.c.kind == "phone",
            )
            .values(opt_outs="sms")
        )
    owed = statement_for_loan(planned, str(paid["loan_id"]), DAY)["total_due"]
    posted = post_payment(planned, str(paid["loan_id"]), max(int(owed), 1), DAY)
    assert paid["action_id"] in posted.cancelled
    dispatch(planned, adapters(gw, smtp, tmp_path / "outbox"), Options(worker="w1"))
    after = {a["action_id"]: a for a in _actions(planned)}
    assert after[held["action_id"]]["status"] == "cancelled"
    assert after[held["action_id"]]["rule"] == "cn.holds.cease_request"
    assert after[paid["action_id"]]["status"] == "cancelled"
    assert after[paid["action_id"]]["rule"] in ("suppression.paid_today", "dispatch.paid")
    assert after[opted["action_id"]]["status"] == "cancelled"
    assert str(after[opted["action_id"]]["rule"]).startswith("cn.consent.")
    assert after[promised["action_id"]]["status"] == "cancelled"
    assert after[promised["action_id"]]["rule"] == "suppression.promise_active"
    stopped = {held["action_id"], paid["action_id"], opted["action_id"], promised["action_id"]}
    assert not stopped & set(gw.accepted)
    # moved, not cancelled: to 18:00 in Shanghai (10:00 UTC), inside the day's window
    moved = after[later["action_id"]]
    assert moved["status"] == "planned" and "moved by cn.hours" in str(moved["last_error"])
    assert db_utc(moved["window_start"]) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert later["action_id"] not in gw.accepted
    planned.clock = Clock(datetime(2026, 11, 23, 10, 1, tzinfo=UTC))
    dispatch(planned, adapters(gw, smtp, tmp_path / "outbox"), Options(worker="w2"))
    assert {a["action_id"]: a for a in _actions(planned)}[later["action_id"]]["status"] == "sent"
    assert later["action_id"] in gw.accepted


def test_failures_retry_with_backoff_then_park_and_refusals_park_at_once(
    planned: App, tmp_path: Path
) -> None:
    clock = Clock(FIXED_NOW)
    planned.clock = clock
    gw = Gateway(fail_next=10**6).start()  # the gateway is down
    try:
        chans = _sms(gw)
        opts = Options(worker="w1", channels=("sms",), max_tries=3, backoff_seconds=60)
        first = dispatch(planned, chans, opts)
        assert first.retried > 0 and first.sent == 0 and first.parked == 0
        waiting = _actions(planned, channel="sms", status="sending")
        assert all(a["tries"] == 1 and a["last_error"] for a in waiting)
        assert all(a["next_try_at"] is not None for a in waiting)
        assert dispatch(planned, chans, opts).claimed == 0  # nothing before the backoff ends
        clock.at += timedelta(seconds=61)
        dispatch(planned, chans, opts)  # second try, fails; the next wait is 120 s
        clock.at += timedelta(seconds=121)
        third = dispatch(planned, chans, opts)
        assert third.parked == len(waiting) and third.sent == 0
        parked = _actions(planned, channel="sms", status="parked")
        assert {a["action_id"] for a in parked} == {a["action_id"] for a in waiting}
        assert all(str(a["last_error"]).startswith("3 tries: ") for a in parked)
        # the same message was offered under the same key each time, never a new one
        keys = [r["headers"].get("Idempotency-Key") for r in gw.requests]
        assert len(keys) == 3 * len(waiting) and len(set(keys)) == len(waiting)
    finally:
        gw.stop()


def test_a_refused_number_parks_at_once_and_a_receipt_is_recorded(
    planned: App, tmp_path: Path
) -> None:
    gw = Gateway().start()
    try:
        sms = sorted(
            _actions(planned, status="planned", channel="sms"), key=lambda a: a["action_id"]
        )
        target = sms[0]
        with planned.engine.connect() as conn:
            enc = conn.execute(
                select(t.contact_point.c.value_enc)
                .where(
                    t.contact_point.c.borrower_id == target["borrower_id"],
                    t.contact_point.c.kind == "phone",
                    t.contact_point.c.is_valid.is_(True),
                )
                .order_by(t.contact_point.c.is_primary.desc(), t.contact_point.c.contact_id)
            ).first()
        assert enc is not None
        number = planned.cipher.decrypt("contact_point.value", enc[0])
        assert number
        gw.refuse.add(number)
        chans = _sms(gw)
        dispatch(planned, chans, Options(worker="w1", channels=("sms",)))
        row = {a["action_id"]: a for a in _actions(planned)}[target["action_id"]]
        assert row["status"] == "parked" and row["tries"] == 1
        assert "400" in str(row["last_error"])
        sent = next(a for a in _actions(planned, channel="sms", status="sent"))
        ref = gw.accepted[str(sent["action_id"])]["id"]
        assert sms_receipt(planned, ref, "DELIVRD") == "delivered"
        with pytest.raises(UnknownReference):
            sms_receipt(planned, "no-such-ref", "delivered")
        with planned.engine.connect() as conn:
            result = conn.execute(
                select(t.contact_attempt.c.result).where(
                    t.contact_attempt.c.action_id == sent["action_id"]
                )
            ).scalar_one()
        assert result == "delivered"
    finally:
        gw.stop()


def test_a_message_left_unconfirmed_after_its_window_is_parked_not_sent_late(
    planned: App, tmp_path: Path
) -> None:
    clock = Clock(FIXED_NOW)
    planned.clock = clock
    gw = Gateway(fail_next=10**6).start()
    try:
        chans = _sms(gw)
        dispatch(planned, chans, Options(worker="w1", channels=("sms",), backoff_seconds=60))
        waiting = _actions(planned, channel="sms", status="sending")
        assert waiting
        clock.at = max(a["window_end"] for a in waiting).replace(tzinfo=FIXED_NOW.tzinfo)
        clock.at += timedelta(minutes=1)
        gw.fail_next = 0
        late = dispatch(planned, chans, Options(worker="w2", channels=("sms",)))
        assert late.sent == 0 and late.parked == len(waiting)
        rows = _actions(planned, channel="sms", status="parked")
        assert all("window closed" in str(a["last_error"]) for a in rows)
    finally:
        gw.stop()


def test_sqlite_runs_one_dispatcher(sqlite_url: str, tmp_path: Path) -> None:
    from arrears.service.outreach.lease import single_sqlite
    from arrears.store.db import upgrade
    from tests.conftest import make_app

    a = make_app(sqlite_url)
    upgrade(a.engine)
    with single_sqlite(a), pytest.raises(ServiceError, match="runs one at a time"):
        dispatch(a, {c: Outbox(tmp_path) for c in SENT_BY_PROVIDERS}, Options())
    assert dispatch(a, {c: Outbox(tmp_path) for c in SENT_BY_PROVIDERS}, Options()).claimed == 0
