"""Click-to-call over real HTTP: arrears' API served by uvicorn on loopback, the stand-in dialer
and speech recogniser on another port. A collector's dial is judged by the gate at that instant
(refused at night with the reason and when it becomes allowed, and logged either way); the
collector's phone rings first and the number never reaches them; the dialer's signed events
fill the attempt; the recording is fetched, sealed and its SHA-256 logged; the transcript is
scored and a breach raises a QA alert with its time span; the wrap-up completes the call.
Replayed events change nothing; two dials at once place one call."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from arrears.bootstrap import App
from arrears.generate.standin import StandIn, persona_of
from arrears.service.conduct import alerts, calls, inspection
from arrears.service.conduct.outcomes import record_outcome
from arrears.service.errors import Conflict, ServiceError
from arrears.service.outreach.worklist import items
from arrears.service.staff.evidence_log import verify_log
from arrears.store import tables as t
from arrears.web.app import create_app
from tests.conftest import PlanBook
from tests.support.servers import serve_asgi

DAY = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NIGHT = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
SECRET = "calls-test-secret"


@dataclass
class Line:
    app: App
    phone: StandIn
    api: str
    now: list[datetime]


def _providers(path: Path, phone: str, api: str) -> Path:
    path.write_text(
        "agent_dialer:\n"
        "  kind: http\n"
        f"  url: {phone}/bridges\n"
        f"  callback_url: {api}/api/v1/webhooks/dialer\n"
        "asr:\n"
        "  kind: http\n"
        f"  submit_url: {phone}/asr/jobs\n"
        f"  poll_url: {phone}/asr/jobs\n"
        f"  callback_url: {api}/api/v1/webhooks/asr\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def line(plan_book: PlanBook, tmp_path: Path) -> Iterator[Line]:
    now = [NOON]
    app = plan_book(600, 5, DAY, clock=lambda: now[0])
    phone = StandIn(SECRET, clock=lambda: now[0], breaches=True)
    phone.persona = persona_of(app)
    phone.start()
    try:
        with serve_asgi(create_app(app, SECRET)) as api:
            path = _providers(tmp_path / "providers.yaml", phone.url, api)
            app.settings = app.settings.model_copy(update={"providers_file": path})
            yield Line(app, phone, api, now)
    finally:
        phone.stop()
    assert not phone.errors, phone.errors


def _answering(app: App) -> tuple[str, str]:
    """A planned agent call whose borrower's phone answers (its last digit is not 0 or 9)."""

    for item in items(app, "early_callback", DAY, limit=100):
        number = _number(app, item.loan_id)
        if number and number[-1] not in "09":
            return item.loan_id, item.action_id
    raise AssertionError("no planned call to an answering phone")


def _number(app: App, loan_id: str) -> str | None:
    with app.engine.begin() as conn:
        borrower = conn.execute(
            select(t.loan.c.borrower_id).where(t.loan.c.loan_id == loan_id)
        ).scalar_one()
        return calls._number(app, conn, borrower)


def _attempt(app: App, attempt_id: str) -> Any:
    with app.engine.connect() as conn:
        return conn.execute(
            select(t.contact_attempt).where(t.contact_attempt.c.attempt_id == attempt_id)
        ).one()


def _audit(app: App, kind: str) -> list[dict[str, Any]]:
    with app.engine.connect() as conn:
        rows = conn.execute(select(t.audit_log.c.payload).where(t.audit_log.c.kind == kind)).all()
    return [json.loads(r.payload) for r in rows]


def test_a_dial_rings_the_collector_first_and_the_call_is_recorded_transcribed_and_scored(
    line: Line,
) -> None:
    app, phone = line.app, line.phone
    loan, action = _answering(app)
    number = _number(app, loan)
    assert number is not None
    dialled = calls.dial(app, loan, collector_id="C0007", action_id=action)
    # the collector is told a masked number; the dialer alone got it in clear
    assert number not in dialled.number and dialled.number.endswith(number[-4:])
    assert "****" in dialled.number
    assert [r["reference"] for r in phone.phones["C0007"]] == [dialled.attempt_id]
    phone.drain()
    row = _attempt(app, dialled.attempt_id)
    assert (row.channel, row.result, row.dial_status) == ("call", "connected", "completed")
    assert row.duration_seconds and row.duration_seconds > 3
    assert row.provider_ref == dialled.call_id
    # the dial's gate decision and the recording's SHA-256 are in the evidence log
    dials = [p for p in _audit(app, "agent_dial") if p["attempt_id"] == dialled.attempt_id]
    assert dials and dials[0]["gate"]["allowed"] is True and dials[0]["action_id"] == action
    audio, kind = inspection.audio(app, dialled.attempt_id)
    assert kind == "audio/wav" and audio[:4] == b"RIFF"
    assert audio == phone.recordings[dialled.call_id]
    kept = [p for p in _audit(app, "call_recording") if p["attempt_id"] == dialled.attempt_id]
    assert kept == [
        {
            "attempt_id": dialled.attempt_id,
            "sha256": hashlib.sha256(audio).hexdigest(),
            "bytes": len(audio),
            "content_type": "audio/wav",
            "duration_seconds": row.duration_seconds,
        }
    ]
    with app.engine.connect() as conn:
        sealed = conn.execute(select(t.call_recording.c.audio_enc)).scalar_one()
    assert audio[44:200] not in sealed  # kept sealed, not in clear
    # the transcript came back by callback, was scored, and the breach raised a QA alert
    record = inspection.call_record(app, dialled.attempt_id)
    assert record.transcript_status == "done"
    assert [s["speaker"] for s in record.segments][:1] == ["agent"]
    card = record.scorecard
    assert card is not None and card["flagged"] is True
    prohibited = [f for f in card["findings"] if f["kind"] == "prohibited"]
    assert prohibited, card
    span = prohibited[0]
    said = [s for s in record.segments if s["start"] == span["start"]]
    assert said and said[0]["speaker"] == "agent" and span["end"] == said[0]["end"]
    qa = [a for a in alerts.alerts(app) if a["kind"] == "qa"]
    assert [a["attempt_id"] for a in qa] == [dialled.attempt_id]
    assert qa[0]["collector_id"] == "C0007"
    assert any(r["kind"] == "prohibited" and r["start"] == span["start"] for r in qa[0]["rules"])
    inspections = [
        p for p in _audit(app, "call_inspection") if p["attempt_id"] == dialled.attempt_id
    ]
    assert inspections[0]["score"] == card["score"] and inspections[0]["flagged"] is True
    # the wrap-up completes the dialled call and its plan item
    done = record_outcome(
        app, action, collector_id="C0007", result="conversation", note="agreed to pay Friday"
    )
    assert done == dialled.attempt_id
    row = _attempt(app, dialled.attempt_id)
    assert row.result == "conversation" and row.wrapped_at is not None
    with pytest.raises(Conflict):
        calls.wrap_up(app, dialled.attempt_id, collector_id="C0007", result="conversation")
    assert verify_log(app).ok


def test_a_dial_at_night_is_refused_with_the_reason_and_when_and_is_logged(line: Line) -> None:
    app = line.app
    loan, action = _answering(app)
    line.now[0] = NIGHT
    with pytest.raises(Conflict) as info:
        calls.dial(app, loan, collector_id="C0007", action_id=action)
    said = str(info.value)
    assert "23:30" in said and "cn.hours" in said and "allowed from 2026-11-24 08:00" in said
    assert line.phone.phones == {}  # nothing rang
    refused = [p for p in _audit(app, "agent_dial") if p["gate"]["allowed"] is False]
    assert refused and refused[0]["attempt_id"] is None
    assert "cn.hours.window" in refused[0]["gate"]["rules"] or any(
        r.startswith("cn.hours") for r in refused[0]["gate"]["rules"]
    )
    with app.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(t.contact_attempt)
                .where(t.contact_attempt.c.collector_id == "C0007")
            ).scalar_one()
            == 0
        )


def test_replayed_dialer_events_change_nothing(line: Line) -> None:
    app, phone = line.app, line.phone
    loan, action = _answering(app)
    dialled = calls.dial(app, loan, collector_id="C0007", action_id=action)
    phone.drain()
    before = (
        _attempt(app, dialled.attempt_id),
        len(alerts.alerts(app)),
        len(_audit(app, "call_recording")),
    )
    for url, event, _ in list(phone.posted):
        raw = json.dumps(event).encode()
        from arrears.channels.http import signature

        stamp = str(int(line.now[0].timestamp()))
        r = httpx.post(
            url,
            content=raw,
            headers={
                "Content-Type": "application/json",
                "X-Arrears-Timestamp": stamp,
                "X-Arrears-Signature": signature(SECRET, stamp, raw),
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
    after = (
        _attempt(app, dialled.attempt_id),
        len(alerts.alerts(app)),
        len(_audit(app, "call_recording")),
    )
    assert after == before


def test_two_dials_at_once_place_one_call(line: Line) -> None:
    app = line.app
    loan, action = _answering(app)
    results: list[object] = []

    def go(who: str) -> None:
        try:
            results.append(calls.dial(app, loan, collector_id=who))
        except ServiceError as exc:
            results.append(exc)

    threads = [threading.Thread(target=go, args=(f"C00{n}",)) for n in (11, 12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    placed = [r for r in results if isinstance(r, calls.Dialled)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(placed) == 1 and len(refused) == 1, results
    assert "in progress" in str(refused[0])
    line.phone.drain()


def test_a_recording_from_another_host_is_refused(line: Line) -> None:
    app, phone = line.app, line.phone
    loan, action = _answering(app)
    dialled = calls.dial(app, loan, collector_id="C0007", action_id=action)
    phone.drain()
    with pytest.raises(ServiceError) as info:
        calls.call_event(
            app,
            {
                "reference": dialled.attempt_id,
                "event": "recording",
                "recording_url": "http://198.51.100.7/steal.wav",
            },
        )
    assert info.value.field == "recording_url"


def test_a_bots_prohibited_line_stops_the_call_once(line: Line) -> None:
    from arrears.service.staff.users import create_token

    app = line.app
    loan, action = _answering(app)
    dialled = calls.dial(app, loan, collector_id="C0007", action_id=action)
    line.phone.drain()
    token = create_token(app, "voice-bot", ["write"])
    url = f"{line.api}/api/v1/calls/{dialled.attempt_id}/lines"
    auth = {"Authorization": f"Bearer {token}"}

    def say(text: str) -> dict[str, Any]:
        r = httpx.post(url, json={"text": text}, headers=auth, timeout=30)
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert say("您好，这里是还款提醒，本次通话将被录音。") == {
        "speak": True,
        "stopped": False,
        "category": None,
        "words": None,
    }
    threats = ["今天不还钱，我们就把你欠钱的事告诉你全家和单位同事", "再不还就让你在村里抬不起头"]
    with ThreadPoolExecutor(2) as pool:  # two prohibited lines at once: one stop, one alert
        answers = list(pool.map(say, threats))
    assert all(a["speak"] is False and a["stopped"] is True for a in answers)
    assert any(a["category"] for a in answers)
    after = say("您可以申请分期还款。")
    assert after["speak"] is False and after["stopped"] is True  # the script stays stopped
    stops = [a for a in alerts.alerts(app) if a["kind"] == "language"]
    assert [a["attempt_id"] for a in stops] == [dialled.attempt_id]
    assert len(_audit(app, "live_interception")) == 1
    unknown = httpx.post(
        f"{line.api}/api/v1/calls/ca-nope/lines", json={"text": "hi"}, headers=auth, timeout=30
    )
    assert unknown.status_code == 404 and unknown.json()["field"] == "reference"


def test_a_robocall_is_recorded_and_its_spoken_script_inspected(line: Line, tmp_path: Path) -> None:
    from arrears.channels.profiles import build, read
    from arrears.service.outreach.dispatch import dispatch
    from arrears.service.outreach.state import Options

    app = line.app
    path = tmp_path / "with-robocall.yaml"
    path.write_text(
        _providers(tmp_path / "p.yaml", line.phone.url, line.api).read_text()
        + f"robocall: {{kind: http, url: '{line.phone.url}/calls', "
        f"callback_url: '{line.api}/api/v1/webhooks/dialer'}}\n",
        encoding="utf-8",
    )
    app.settings = app.settings.model_copy(update={"providers_file": path})
    # this small book plans no robocall today: two of its planned SMS become the early one
    pa_ = t.plan_action
    with app.engine.begin() as conn:
        sms = (
            conn.execute(
                select(pa_.c.action_id)
                .where(pa_.c.channel == "sms", pa_.c.status == "planned", pa_.c.stage == "early")
                .order_by(pa_.c.action_id)
                .limit(2)
            )
            .scalars()
            .all()
        )
        assert sms
        conn.execute(
            update(pa_)
            .where(pa_.c.action_id.in_(sms))
            .values(channel="robocall", template="early_robocall")
        )
    chans = build(read(path), tmp_path / "outbox")
    report = dispatch(app, chans, Options(worker="w", channels=("robocall",), limit=2, senders=1))
    assert report.sent >= 1
    line.phone.drain()
    ca, tr = t.contact_attempt, t.call_transcript
    with app.engine.connect() as conn:
        done = conn.execute(
            select(ca.c.attempt_id, ca.c.content, tr.c.status, tr.c.score, tr.c.flagged)
            .select_from(ca.join(tr, tr.c.attempt_id == ca.c.attempt_id))
            .where(ca.c.channel == "robocall")
        ).all()
    assert len(done) == report.sent
    for row in done:
        record = inspection.call_record(app, row.attempt_id)
        assert record.transcript_status == "done" and {s["speaker"] for s in record.segments} == {
            "bot"
        }
        script = app.cipher.open_text("contact_attempt.content", row.content) or ""
        said = "".join(s["text"] for s in record.segments)
        assert said.replace(" ", "") in script.replace(" ", "").replace("\n", "")
        # a template that passed the lint: its words are clean, and a script cannot check who
        # answered, so only its words are scored
        assert row.score == 100 and row.flagged is False, json.dumps(
            [record.segments, record.scorecard], ensure_ascii=False
        )
    assert [a for a in alerts.alerts(app) if a["kind"] == "qa"] == []


def test_qa_scores_by_collector_team_and_agency_with_complaints_on_calls(line: Line) -> None:
    from arrears.service.cases.complaints import file_complaint
    from arrears.service.conduct.quality import quality
    from arrears.service.staff.users import add_user

    app = line.app
    add_user(
        app,
        username="zhou",
        password="correct-horse-9",
        role="collector",
        collector_id="C0021",
        queues=["early_callback"],
    )
    loan, action = _answering(app)
    dialled = calls.dial(app, loan, collector_id="C0021", action_id=action)
    line.phone.drain()
    record = inspection.call_record(app, dialled.attempt_id)
    assert record.scorecard is not None
    before = quality(app)
    (mine,) = [x for x in before.by_collector if x.who == "C0021"]
    assert (mine.calls, mine.score, mine.flagged, mine.confirmed) == (
        1,
        float(record.scorecard["score"]),
        1,
        0,
    )
    (team,) = [x for x in before.by_team if x.who == "early_callback"]
    assert team.calls == 1
    borrower = _attempt(app, dialled.attempt_id).borrower_id
    complaint = file_complaint(
        app,
        borrower_id=borrower,
        loan_id=loan,
        category="threats",
        description="the collector threatened me on the phone",
        source="portal",
        attempt_ids=[dialled.attempt_id],
    )
    (qa,) = [a for a in alerts.alerts(app) if a["attempt_id"] == dialled.attempt_id]
    alerts.review(app, qa["alert_id"], by="qian", verdict="confirmed", note="threat at the span")
    after = quality(app)
    (mine,) = [x for x in after.by_collector if x.who == "C0021"]
    assert (mine.score, mine.confirmed) == (0.0, 1)  # a confirmed breach counts 0
    assert after.by_category and all(n >= 1 for _, n in after.by_category)
    (linked,) = [c for c in after.complaints if c["complaint_id"] == complaint]
    assert (
        linked["attempt_id"] == dialled.attempt_id and linked["score"] == record.scorecard["score"]
    )


def test_transcripts_by_polling_and_masked_for_the_collector(line: Line, tmp_path: Path) -> None:
    from arrears.service.staff import calls as seen
    from arrears.service.staff.users import add_user, authenticate

    app = line.app
    polled = tmp_path / "polled.yaml"
    polled.write_text(
        f"agent_dialer: {{kind: http, url: '{line.phone.url}/bridges', "
        f"callback_url: '{line.api}/api/v1/webhooks/dialer'}}\n"
        f"asr: {{kind: http, submit_url: '{line.phone.url}/asr/jobs', "
        f"poll_url: '{line.phone.url}/asr/jobs'}}\n",
        encoding="utf-8",
    )
    app.settings = app.settings.model_copy(update={"providers_file": polled})
    add_user(
        app, username="chen", password="correct-horse-9", role="collector", collector_id="C0007"
    )
    add_user(app, username="qian", password="correct-horse-9", role="compliance")
    chen = authenticate(app, "chen", "correct-horse-9")
    qian = authenticate(app, "qian", "correct-horse-9")
    loan, action = _answering(app)
    dialled = seen.dial(app, chen, loan, action)
    line.phone.drain()
    assert inspection.call_record(app, dialled.attempt_id).transcript_status == "submitted"
    done = inspection.poll(app)
    assert [d["status"] for d in done] == ["done"]
    assert inspection.poll(app) == []  # nothing waits any more
    clear = seen.my_call(app, qian, dialled.attempt_id)
    masked = seen.my_call(app, chen, dialled.attempt_id)
    from arrears.generate.standin import persona_of

    name = persona_of(app)(_number(app, loan) or "")["borrower_name"]
    assert name and any(name in s["text"] for s in clear.segments)
    assert not any(name in s["text"] for s in masked.segments)
    assert len(masked.segments) == len(clear.segments)
    with pytest.raises(ServiceError):
        seen.hear(app, chen, dialled.attempt_id)  # a collector may not hear recordings
    assert seen.hear(app, qian, dialled.attempt_id)[0][:4] == b"RIFF"


def test_the_fourth_connected_call_of_the_day_is_refused_whoever_dials(line: Line) -> None:
    app = line.app
    loan, _ = _answering(app)
    for who in ("C0007", "C0011", "AG-tier1-01"):  # the lender's collectors and an agency's
        calls.dial(app, loan, collector_id=who, agency="tier1" if who.startswith("AG") else None)
        line.phone.drain()
    with pytest.raises(Conflict) as info:
        calls.dial(app, loan, collector_id="C0012")
    said = str(info.value)
    assert "cn.frequency.connected_calls_per_day" in said and "3 of 3" in said
    assert "allowed from 2026-11-24 08:00" in said  # the next day, once its hours open
