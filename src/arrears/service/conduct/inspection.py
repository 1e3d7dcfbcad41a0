"""Quality inspection of every recorded call (质检): the recording kept, written down, scored.

1. **The recording** (:func:`recording`): the dialer names a URL; arrears fetches the audio
   (only from the dialer's own host, within a size limit), keeps it sealed
   (``call_recording``) and writes its SHA-256 into the hash-chained evidence log. A recording
   told twice is kept once.
2. **The transcript**: the audio goes to the speech-recognition provider of the providers file
   (``asr``); its answer comes back by callback (:func:`asr_result`) or by polling
   (:func:`poll`): speaker-labelled segments with times, kept sealed.
3. **The scorecard** (:mod:`arrears.compliance.conduct.scorecard`, configured per rulebook):
   disclosures, the right-party check before any debt detail, prohibited language with time
   spans, talk-over and long silence. Every call is scored; the score and the findings' codes
   and spans go into the evidence log. A flagged call raises a ``qa`` conduct alert, reviewed
   on the compliance page with the audio at the flagged span; confirmed ones count against the
   collector and the agency.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, insert, select, update

from arrears.bootstrap import App
from arrears.channels import telephony
from arrears.channels.base import SendFailed
from arrears.channels.profiles import Profiles, asr, read
from arrears.compliance.conduct.scorecard import Line, Scorecard, score
from arrears.service.conduct.contacts import raise_alert
from arrears.service.errors import Conflict, Invalid, NotFound
from arrears.service.outreach.call_state import account_for
from arrears.service.outreach.callbacks import UnknownReference, first_telling, told
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.db import as_utc

AUDIO = "call_recording.audio"
SEGMENTS = "call_transcript.segments"
SCORECARD = "call_transcript.scorecard"


@dataclass(frozen=True)
class Kept:
    attempt_id: str
    sha256: str
    transcript: str  # submitted | failed | none (no provider)


def _dialer_hosts(p: Profiles) -> set[str]:
    urls = [p.agent_dialer.url if p.agent_dialer else None]
    robo = p.robocall
    urls.append(getattr(robo, "url", None))
    return {urlsplit(u).netloc for u in urls if u}


def call_of(conn: Connection, reference: str) -> Any:
    """The contact attempt a recording is of: a click-to-call (its id is the reference) or a
    robocall (the plan action's id is)."""
    ca, ob = t.contact_attempt, t.outbox_message
    row = conn.execute(select(ca).where(ca.c.attempt_id == reference)).first()
    if row is None:
        sent = conn.execute(
            select(ob.c.attempt_id).where(ob.c.action_id == reference, ob.c.channel == "robocall")
        ).scalar()
        if sent is not None:
            row = conn.execute(select(ca).where(ca.c.attempt_id == sent)).first()
    if row is None or row.channel not in ("call", "robocall"):
        raise UnknownReference(f"reference: no call of ours is {reference!r}", field="reference")
    return row


@dataclass(frozen=True)
class CallNews:
    """A call's state after a dialer event."""

    attempt_id: str
    dial_status: str | None
    result: str | None


def recording(app: App, ev: telephony.CallEvent) -> CallNews:
    """Keep the recording the dialer announced, then ask for its transcript."""
    assert ev.recording_url is not None
    profiles = read(app.settings.providers_file)
    host = urlsplit(ev.recording_url).netloc
    if host not in _dialer_hosts(profiles):
        raise Invalid(
            f"recording_url: {host} is not the dialer's host; recordings are fetched from the "
            "dialer only",
            field="recording_url",
        )
    with app.engine.connect() as conn:
        row = call_of(conn, ev.reference)
    with httpx.Client(timeout=60) as client:
        try:
            audio, kind = telephony.fetch(client, ev.recording_url)
        except SendFailed as exc:
            raise Conflict(str(exc), field="recording_url") from exc
    digest = hashlib.sha256(audio).hexdigest()
    kept = _keep(app, row, audio, kind, digest, ev.duration)
    if kept:
        _transcribe(app, row, audio, ev.recording_url, profiles)
    return CallNews(row.attempt_id, row.dial_status, row.result)


def _keep(app: App, row: Any, audio: bytes, kind: str, digest: str, duration: int | None) -> bool:
    """The recording sealed and logged, once: False when it was kept before."""
    now = app.clock()
    with app.engine.begin() as conn:
        if first_telling(conn, "recording", f"{row.attempt_id}|{digest}", now) is not None:
            return False
        if conn.execute(
            select(t.call_recording.c.sha256).where(t.call_recording.c.attempt_id == row.attempt_id)
        ).first():
            raise Conflict(
                f"reference: {row.attempt_id} has a different recording already", field="reference"
            )
        conn.execute(
            insert(t.call_recording).values(
                attempt_id=row.attempt_id,
                sha256=digest,
                audio_enc=app.cipher.encrypt_bytes(AUDIO, audio),
                content_type=kind,
                size_bytes=len(audio),
                duration_seconds=duration,
                fetched_at=now,
            )
        )
        audit.append(
            conn,
            [
                audit.Entry(
                    kind="call_recording",
                    subject=row.loan_id or row.borrower_id,
                    rulebook="",
                    payload={
                        "attempt_id": row.attempt_id,
                        "sha256": digest,
                        "bytes": len(audio),
                        "content_type": kind,
                        "duration_seconds": duration,
                    },
                    at=now,
                )
            ],
        )
        told(conn, "recording", f"{row.attempt_id}|{digest}", {"sha256": digest})
    return True


def _locale(conn: Connection, borrower_id: str) -> str:
    b = t.borrower
    return str(
        conn.execute(select(b.c.locale).where(b.c.borrower_id == borrower_id)).scalar() or "zh-CN"
    )


def _transcribe(app: App, row: Any, audio: bytes, url: str, profiles: Profiles) -> str:
    """Submit the recording to the ASR provider; the transcript's status."""
    provider = asr(profiles)
    tr = t.call_transcript
    now = app.clock()
    values: dict[str, Any] = {"attempt_id": row.attempt_id, "requested_at": now}
    if provider is None:
        return "none"
    with app.engine.connect() as conn:
        locale = _locale(conn, row.borrower_id)
    try:
        job = provider.submit(row.attempt_id, audio, url, locale)
        values.update(provider=provider.name, job_id=job, status="submitted")
    except SendFailed as exc:
        values.update(provider=provider.name, status="failed", detail=exc.reason[:500])
    finally:
        provider.close()
    with app.engine.begin() as conn:
        conn.execute(insert(tr).values(**values))
    return str(values["status"])


# -- transcripts and scorecards ----------------------------------------------------------------


#: how long a callback for a job not yet known waits for it: a provider may answer before
#: the submission that got its job id has been written (the stand-in does, in a thread)
UNKNOWN_JOB_WAIT = 3.0


def asr_result(app: App, body: dict[str, Any]) -> dict[str, Any]:
    """A provider's callback with a job's result: the transcript kept and the call scored. A
    job not known yet is looked for again for a few seconds before it is refused."""
    try:
        got = telephony.state(body)
    except ValueError as exc:
        raise Invalid(str(exc), field=getattr(exc, "field", None)) from exc
    deadline = time.monotonic() + UNKNOWN_JOB_WAIT
    while True:
        try:
            return _settle(app, got)
        except UnknownReference:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _settle(app: App, got: telephony.AsrState) -> dict[str, Any]:
    tr = t.call_transcript
    now = app.clock()
    if got.status == "queued":
        return {"job_id": got.job_id, "status": "queued"}
    with app.engine.begin() as conn:
        before = first_telling(conn, "asr", f"{got.job_id}|{got.status}", now)
        if before is not None:
            return dict(json.loads(before))
        row = conn.execute(select(tr).where(tr.c.job_id == got.job_id)).first()
        if row is None:
            raise UnknownReference(
                f"job_id: no transcript of ours is {got.job_id!r}", field="job_id"
            )
        if got.status == "failed":
            conn.execute(
                update(tr)
                .where(tr.c.job_id == got.job_id)
                .values(status="failed", detail=(got.detail or "")[:500], completed_at=now)
            )
            out: dict[str, Any] = {"job_id": got.job_id, "status": "failed"}
        else:
            out = _scored(app, conn, row.attempt_id, list(got.segments))
        told(conn, "asr", f"{got.job_id}|{got.status}", out)
    return out


def _scored(
    app: App, conn: Connection, attempt_id: str, segments: list[telephony.Segment]
) -> dict[str, Any]:
    ca, tr = t.contact_attempt, t.call_transcript
    now = app.clock()
    call = conn.execute(select(ca).where(ca.c.attempt_id == attempt_id)).one()
    found = account_for(app, call.loan_id) if call.loan_id else None
    quality = found[0].book.quality if found else None
    card: Scorecard | None = None
    if quality is not None:
        lines = [Line(s.speaker, s.start, s.end, s.text) for s in segments]
        card = score(lines, quality, scripted=call.channel == "robocall")
    conn.execute(
        update(tr)
        .where(tr.c.attempt_id == attempt_id)
        .values(
            status="done",
            completed_at=now,
            segments=app.cipher.seal_text(
                SEGMENTS, json.dumps([s.as_dict() for s in segments], ensure_ascii=False)
            ),
            score=card.score if card else None,
            flagged=card.flagged if card else None,
            scorecard=app.cipher.seal_text(
                SCORECARD, json.dumps(card.as_dict(), ensure_ascii=False)
            )
            if card
            else None,
        )
    )
    spans = [
        {k: f[k] for k in ("kind", "code", "start", "end")}
        for f in (card.as_dict()["findings"] if card else [])
    ]
    audit.append(
        conn,
        [
            audit.Entry(
                kind="call_inspection",
                subject=call.loan_id or call.borrower_id,
                rulebook=found[0].book.id if found else "",
                payload={
                    "attempt_id": attempt_id,
                    "segments": len(segments),
                    "score": card.score if card else None,
                    "flagged": card.flagged if card else None,
                    "findings": spans,
                },
                at=now,
            )
        ],
    )
    if card is not None and card.flagged:
        _alert(conn, now, call, card)
    return {
        "attempt_id": attempt_id,
        "status": "done",
        "score": card.score if card else None,
        "flagged": bool(card and card.flagged),
    }


def _alert(conn: Connection, now: Any, call: Any, card: Scorecard) -> None:
    worst = [f for f in card.findings if f.kind in ("prohibited", "debt_before_check")] or [
        f for f in card.findings if f.points
    ]
    en = "; ".join(f"{f.en} ({f.start:.1f}–{f.end:.1f} s)" for f in worst)
    zh = "；".join(f"{f.zh}（{f.start:.1f}–{f.end:.1f} 秒）" for f in worst)
    agency = None
    if call.collector_id:
        agency = conn.execute(
            select(t.staff_user.c.agency).where(t.staff_user.c.collector_id == call.collector_id)
        ).scalar()
    raise_alert(
        conn,
        kind="qa",
        at=now,
        rules=[
            {k: f[k] for k in ("kind", "code", "start", "end")}
            for f in card.as_dict()["findings"]
            if f["points"] or f["kind"] == "prohibited"
        ],
        detail=f"call scored {card.score}: {en}",
        detail_zh=f"通话质检 {card.score} 分：{zh}",
        loan_id=call.loan_id,
        borrower_id=call.borrower_id,
        attempt_id=call.attempt_id,
        collector_id=call.collector_id,
        agency=agency,
    )


def poll(app: App) -> list[dict[str, Any]]:
    """Ask the provider about every transcript still waiting; what each answer did."""
    require_current(app)
    provider = asr(read(app.settings.providers_file))
    if provider is None:
        return []
    tr = t.call_transcript
    with app.engine.connect() as conn:
        jobs = [
            r.job_id for r in conn.execute(select(tr.c.job_id).where(tr.c.status == "submitted"))
        ]
    out = []
    try:
        for job in jobs:
            try:
                out.append(_settle(app, provider.poll(job)))
            except SendFailed as exc:
                out.append({"job_id": job, "status": "error", "detail": exc.reason})
    finally:
        provider.close()
    return out


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRecord:
    attempt_id: str
    borrower_id: str
    loan_id: str | None
    channel: str
    collector_id: str | None
    at: Any
    result: str | None
    dial_status: str | None
    duration_seconds: int | None
    recording_sha256: str | None
    transcript_status: str | None
    segments: list[dict[str, Any]]
    scorecard: dict[str, Any] | None


def call_record(app: App, attempt_id: str) -> CallRecord:
    """A call as compliance reviews it: its transcript and scorecard (the words in clear: the
    caller masks them for roles that must not read them)."""
    require_current(app)
    ca, rec, tr = t.contact_attempt, t.call_recording, t.call_transcript
    with app.engine.connect() as conn:
        row = conn.execute(
            select(ca, rec.c.sha256, tr.c.status.label("tstatus"), tr.c.segments, tr.c.scorecard)
            .select_from(
                ca.outerjoin(rec, rec.c.attempt_id == ca.c.attempt_id).outerjoin(
                    tr, tr.c.attempt_id == ca.c.attempt_id
                )
            )
            .where(ca.c.attempt_id == attempt_id, ca.c.channel.in_(("call", "robocall")))
        ).first()
    if row is None:
        raise NotFound(f"attempt_id: {attempt_id} is not a call", field="attempt_id")
    segments = json.loads(app.cipher.open_text(SEGMENTS, row.segments) or "[]")
    card = app.cipher.open_text(SCORECARD, row.scorecard)
    return CallRecord(
        attempt_id=attempt_id,
        borrower_id=row.borrower_id,
        loan_id=row.loan_id,
        channel=row.channel,
        collector_id=row.collector_id,
        at=as_utc(row.at),
        result=row.result,
        dial_status=row.dial_status,
        duration_seconds=row.duration_seconds,
        recording_sha256=row.sha256,
        transcript_status=row.tstatus,
        segments=segments,
        scorecard=json.loads(card) if card else None,
    )


def audio(app: App, attempt_id: str) -> tuple[bytes, str]:
    """A call's recording, opened, and its content type; the caller checks who may hear it."""
    require_current(app)
    rec = t.call_recording
    with app.engine.connect() as conn:
        row = conn.execute(select(rec).where(rec.c.attempt_id == attempt_id)).first()
    if row is None:
        raise NotFound(f"attempt_id: {attempt_id} has no recording", field="attempt_id")
    data = app.cipher.decrypt_bytes(AUDIO, row.audio_enc)
    if hashlib.sha256(data).hexdigest() != row.sha256:  # the evidence must be what was logged
        raise Conflict(
            f"attempt_id: {attempt_id}'s recording does not match its SHA-256", field="attempt_id"
        )
    return data, str(row.content_type)
