"""The providers' webhooks over real HTTP (uvicorn on loopback): signed SMS delivery receipts,
email bounces, and dialer callbacks whose keypad outcomes become a promise, a dispute hold or a
call-back in the worklist; forged, stale and malformed callbacks are refused with the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.channels.base import Channel
from arrears.channels.outbox import Outbox
from arrears.channels.sms_http import HttpSms, HttpSmsConfig
from arrears.generate.portfolio import Options as GenOptions
from arrears.generate.portfolio import generate
from arrears.service.books.statements import statement_for_loan
from arrears.service.daily.cycle import run_cycle
from arrears.service.outreach.dispatch import dispatch
from arrears.service.outreach.state import Options
from arrears.service.outreach.worklist import items
from arrears.service.queries.casework import promises_of
from arrears.store import tables as t
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from arrears.web.api.webhooks import signature
from arrears.web.app import create_app
from tests.conftest import FIXED_NOW
from tests.support.servers import Gateway, serve_asgi

DAY = date(2026, 11, 23)
SECRET = "webhook-test-secret"


@pytest.fixture
def sent(app: App, tmp_path: Path) -> Iterator[tuple[App, Gateway]]:
    generate(tmp_path / "gen", GenOptions(loans=5000, seed=13, as_of=DAY))
    ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    run_cycle(app, DAY, strategy=load("default"))
    gw = Gateway().start()
    sms = HttpSms(HttpSmsConfig(url=gw.url))
    box = Outbox(tmp_path / "outbox")
    chans: dict[str, Channel] = {
        "sms": sms,
        "push": box,
        "email": box,
        "letter": box,
        "robocall": box,
    }
    try:
        dispatch(app, chans, Options(worker="w"))
        yield app, gw
    finally:
        sms.close()
        gw.stop()


@pytest.fixture
def api(sent: tuple[App, Gateway]) -> Iterator[str]:
    with serve_asgi(create_app(sent[0], SECRET)) as url:
        yield url


def _post(url: str, payload: Any, *, secret: str = SECRET, at: int | None = None) -> httpx.Response:
    body = json.dumps(payload).encode()
    stamp = str(at if at is not None else int(FIXED_NOW.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Arrears-Timestamp": stamp,
        "X-Arrears-Signature": signature(secret, stamp, body),
    }
    return httpx.post(url, content=body, headers=headers, timeout=10)


def _result(app: App, action_id: str) -> Any:
    with app.engine.connect() as conn:
        return conn.execute(
            select(t.contact_attempt.c.result).where(t.contact_attempt.c.action_id == action_id)
        ).scalar_one()


def _sent(app: App, channel: str) -> list[Any]:
    ob = t.outbox_message
    with app.engine.connect() as conn:
        return conn.execute(
            select(ob)
            .where(ob.c.channel == channel, ob.c.status == "sent")
            .order_by(ob.c.action_id)
        ).all()


def test_a_signed_receipt_is_recorded_and_forgeries_are_refused(
    sent: tuple[App, Gateway], api: str
) -> None:
    app, gw = sent
    sms = _sent(app, "sms")[0]
    url = f"{api}/api/v1/webhooks/sms"
    ok = _post(url, {"id": sms.provider_ref, "status": "DELIVRD"})
    assert ok.status_code == 200 and ok.json() == {"delivery": "delivered"}
    assert _result(app, sms.action_id) == "delivered"
    forged = _post(url, {"id": sms.provider_ref, "status": "UNDELIV"}, secret="guess")
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert forged.json()["field"] == "X-Arrears-Signature"
    stale = _post(
        url, {"id": sms.provider_ref, "status": "UNDELIV"}, at=int(FIXED_NOW.timestamp()) - 3600
    )
    assert stale.status_code == 401 and stale.json()["field"] == "X-Arrears-Timestamp"
    assert _result(app, sms.action_id) == "delivered"  # neither changed anything
    unknown = _post(url, {"id": "nope", "status": "DELIVRD"})
    assert unknown.status_code == 404 and unknown.json()["field"] == "id"
    missing = _post(url, {"id": sms.provider_ref})
    assert missing.status_code == 422 and missing.json()["field"] == "status"
    odd = _post(url, {"id": sms.provider_ref, "status": "maybe"})
    assert odd.status_code == 422 and odd.json()["field"] == "status"


def test_dialer_keypad_outcomes_act_at_once(sent: tuple[App, Gateway], api: str) -> None:
    app, _ = sent
    calls = _sent(app, "robocall")
    assert len(calls) >= 4
    url = f"{api}/api/v1/webhooks/dialer"
    promise, dispute, back, busy = calls[:4]
    r = _post(url, {"reference": promise.action_id, "status": "answered", "digits": "1"})
    assert r.status_code == 200 and r.json()["choice"] == "promise_today"
    (row,) = [
        SimpleNamespace(**x)
        for x in promises_of(app, promise.loan_id)
        if x["promise_id"] == r.json()["effect"]
    ]
    owed = statement_for_loan(app, promise.loan_id, app.today())["total_due"]
    assert (row.loan_id, row.amount, row.due_on, row.status) == (
        promise.loan_id,
        owed,
        app.today(),
        "pending",
    )
    assert _result(app, promise.action_id) == "connected"
    r = _post(url, {"reference": dispute.action_id, "status": "answered", "digits": 3})
    with app.engine.connect() as conn:
        hold = conn.execute(select(t.hold).where(t.hold.c.hold_id == r.json()["effect"])).one()
    assert (hold.kind, hold.loan_id, hold.ends_at) == ("dispute", dispute.loan_id, None)
    r = _post(url, {"reference": back.action_id, "status": "answered", "digits": "2"})
    queue = items(app, "call_back", DAY)
    assert queue and queue[0].action_id == r.json()["effect"] == f"{back.action_id}~call_back"
    r = _post(url, {"reference": busy.action_id, "status": "busy"})
    assert r.status_code == 200 and _result(app, busy.action_id) == "busy"
    bad = _post(url, {"reference": busy.action_id, "status": "no_answer", "digits": "1"})
    assert bad.status_code == 422 and bad.json()["field"] == "digits"
    worse = _post(url, {"reference": busy.action_id, "status": "ringing"})
    assert worse.status_code == 422 and worse.json()["field"] == "status"


def test_an_email_bounce_invalidates_the_address(
    sent: tuple[App, Gateway], api: str, tmp_path: Path
) -> None:
    app, _ = sent
    pa_, cp = t.plan_action, t.contact_point
    with app.engine.begin() as conn:  # an email reminder for an account whose borrower has one
        base = conn.execute(
            select(pa_)
            .join(cp, cp.c.borrower_id == pa_.c.borrower_id)
            .where(
                pa_.c.channel == "sms",
                pa_.c.status == "sent",
                cp.c.kind == "email",
                cp.c.is_valid.is_(True),
            )
            .order_by(pa_.c.action_id)
            .limit(1)
        ).one()
        values = dict(base._mapping)
        values.update(
            action_id=f"{base.action_id}|email",
            step_id="email",
            channel="email",
            template="reminder_email",
            status="planned",
            attempt_id=None,
            sent_at=None,
            tries=None,
        )
        conn.execute(pa_.insert().values(**values))
    box = Outbox(tmp_path / "mail")
    dispatch(app, {"email": box}, Options(worker="m", channels=("email",)))
    m = _sent(app, "email")[0]
    r = _post(f"{api}/api/v1/webhooks/email", {"message_id": m.provider_ref, "event": "bounced"})
    assert r.status_code == 200 and _result(app, m.action_id) == "bounced"
    to = app.cipher.decrypt("outbox.destination", m.destination_enc)
    with app.engine.connect() as conn:
        valid = (
            conn.execute(
                select(cp.c.is_valid).where(cp.c.value_hash == app.cipher.lookup_hash("email", to))
            )
            .scalars()
            .all()
        )
    assert valid and not any(valid)


def test_receipts_in_the_gateways_own_field_names(sent: tuple[App, Gateway]) -> None:
    app, _ = sent
    sms = _sent(app, "sms")[1]
    with serve_asgi(create_app(app, SECRET, {"id": "msgId", "status": "stat"})) as url:
        hook = f"{url}/api/v1/webhooks/sms"
        r = _post(hook, {"msgId": sms.provider_ref, "stat": "UNDELIV"})
        assert r.status_code == 200 and r.json() == {"delivery": "undelivered"}
        missing = _post(hook, {"id": sms.provider_ref, "status": "DELIVRD"})
    assert missing.status_code == 422 and missing.json()["field"] == "msgId"
    assert _result(app, sms.action_id) == "undelivered"


def _count(app: App, table: Any, **where: Any) -> int:
    from sqlalchemy import func

    with app.engine.connect() as conn:
        cond = [getattr(table.c, k) == v for k, v in where.items()]
        return int(conn.execute(select(func.count()).select_from(table).where(*cond)).scalar())


def test_a_callback_told_again_acts_once(sent: tuple[App, Gateway], api: str) -> None:
    """The same signed dialer callback replayed inside the time window, in turn and several at
    once, makes one promise and one hold; the repeats are acknowledged with the first answer."""
    from concurrent.futures import ThreadPoolExecutor

    app, _ = sent
    promise, dispute = _sent(app, "robocall")[:2]
    url = f"{api}/api/v1/webhooks/dialer"
    event = {"reference": promise.action_id, "status": "answered", "digits": "1", "call_id": "c-1"}
    first = _post(url, event)
    again = [_post(url, event) for _ in range(2)]
    assert first.status_code == 200 and all(r.json() == first.json() for r in again)
    hold = {"reference": dispute.action_id, "status": "answered", "digits": "3", "call_id": "c-2"}
    with ThreadPoolExecutor(4) as pool:
        told = list(pool.map(lambda _: _post(url, hold), range(4)))
    assert {r.status_code for r in told} == {200}
    assert len({r.json()["effect"] for r in told}) == 1
    assert _count(app, t.promise, loan_id=promise.loan_id, status="pending") == 1
    assert _count(app, t.hold, loan_id=dispute.loan_id, kind="dispute") == 1
    sms = _sent(app, "sms")[1]
    receipts = [
        _post(f"{api}/api/v1/webhooks/sms", {"id": sms.provider_ref, "status": "DELIVRD"})
        for _ in range(3)
    ]
    assert [r.json() for r in receipts] == [{"delivery": "delivered"}] * 3
    assert _count(app, t.provider_event, provider="dialer") == 2
    assert _count(app, t.provider_event, provider="sms") == 1


def test_hostile_headers_and_bodies_get_a_problem_never_a_500(
    sent: tuple[App, Gateway], api: str
) -> None:
    url = f"{api}/api/v1/webhooks/dialer"
    body = b'{"reference": "x", "status": "busy"}'
    for stamp in ("9" * 5000, "١٢٣٤٥٦٧٨٩٠", "²³", "-1", "1 2", "1e9"):
        headers = {
            "Content-Type": "application/json",
            "X-Arrears-Timestamp": stamp.encode(),
            "X-Arrears-Signature": signature(SECRET, stamp, body),
        }
        r = httpx.post(url, content=body, headers=headers, timeout=10)  # type: ignore[arg-type]
        assert r.status_code == 401, stamp[:10]
        assert r.json()["field"] == "X-Arrears-Timestamp"
    stamp = str(int(FIXED_NOW.timestamp()))
    deep = b"[" * 50_000 + b"]" * 50_000
    huge = b'{"reference": "x", "status": "answered", "digits": 1e400}'
    long_number = b'{"reference": "x", "status": "answered", "digits": ' + b"1" * 5000 + b"}"
    for raw in (deep, huge, long_number, b"\xff\xfe{}", b'{"a": NaN}'):
        headers = {
            "Content-Type": "application/json",
            "X-Arrears-Timestamp": stamp,
            "X-Arrears-Signature": signature(SECRET, stamp, raw),
        }
        r = httpx.post(url, content=raw, headers=headers, timeout=30)
        assert r.status_code == 422, (raw[:20], r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "body"
    too_big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    signed = {
        "X-Arrears-Timestamp": stamp,
        "X-Arrears-Signature": signature(SECRET, stamp, too_big),
    }
    r = httpx.post(url, content=too_big, headers=signed, timeout=30)
    assert r.status_code == 413
