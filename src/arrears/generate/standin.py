"""A stand-in telephony provider on loopback, for the demo and the tests: a dialer that bridges
a collector's "phone" and a borrower's, records the call and reports its progress to arrears'
signed webhook; and a speech recogniser that writes a recording down.

Nothing here recognises speech. The stand-in knows what was said because it made the audio: a
bridged call speaks a simulated conversation (:mod:`.calls`), a robocall speaks its script.
Its recogniser answers with those lines for audio it made, and refuses audio it did not. Real
recognition needs a real provider (docs/CHANNELS.md, "Calls").

How a borrower's phone behaves is read from the number's last digit: 0 is never answered, 9 is
busy; any other is answered. The collector's phone (their seat, ``/phones/<staff number>``)
always answers.

Endpoints (JSON):

* ``POST /bridges``: a click-to-call (:class:`~arrears.channels.telephony.HttpAgentDialer`);
* ``POST /calls``: a robocall (:class:`~arrears.channels.voice.HttpDialer`);
* ``GET /recordings/<call id>.wav``;
* ``POST /asr/jobs`` and ``GET /asr/jobs/<job id>``;
* ``GET /phones/<seat>``: the rings the collector's phone has had.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from arrears.channels.http import signature
from arrears.generate import calls

Persona = Callable[[str], dict[str, Any]]
Clock = Callable[[], datetime]
_SENTENCE = re.compile(r"(?:[^。！？!?.]|\.(?!\s|$))+[。！？!?.]?")


def _no_persona(number: str) -> dict[str, Any]:
    return {"locale": "zh-CN"}


@dataclass
class StandIn:
    """The stand-in provider; :meth:`start` serves it on a loopback port."""

    secret: str  # the webhook secret shared with arrears
    persona: Persona = _no_persona  # the borrower behind a number: locale and the script's values
    clock: Clock = field(default=lambda: datetime.now(UTC))
    #: the pace of a call's events (seconds between them): 0 in tests, a little in the demo
    pace: float = 0.0
    #: only scripts with (True) or without (False) a language breach; None: either
    breaches: bool | None = None
    server: ThreadingHTTPServer | None = None
    recordings: dict[str, bytes] = field(default_factory=dict)
    said: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by audio SHA-256
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    phones: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    posted: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    workers: list[threading.Thread] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- serving ----------------------------------------------------------------------------

    def start(self, port: int = 0) -> StandIn:
        me = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _answer(self, code: int, payload: Any, kind: str = "application/json") -> None:
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(size) or b"{}")
                except ValueError:
                    self._answer(400, {"error": "not JSON"})
                    return
                code, answer = me.post(self.path, body)
                self._answer(code, answer)

            def do_GET(self) -> None:
                code, answer, kind = me.get(self.path)
                self._answer(code, answer, kind)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.drain()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def drain(self, timeout: float = 60.0) -> None:
        """Wait for every call in progress to have told arrears all it will."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                alive = [w for w in self.workers if w.is_alive()]
            if not alive or time.monotonic() > deadline:
                return
            alive[0].join(timeout=max(0.0, deadline - time.monotonic()))

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if path == "/bridges":
            return self._bridge(body)
        if path == "/calls":
            return self._robocall(body)
        if path == "/asr/jobs":
            return self._asr(body)
        return 404, {"error": f"no such endpoint {path}"}

    def get(self, path: str) -> tuple[int, Any, str]:
        if path.startswith("/recordings/") and path.endswith(".wav"):
            audio = self.recordings.get(path[len("/recordings/") : -4])
            if audio is None:
                return 404, {"error": "no such recording"}, "application/json"
            return 200, audio, "audio/wav"
        if path.startswith("/asr/jobs/"):
            job = self.jobs.get(path[len("/asr/jobs/") :])
            if job is None:
                return 404, {"error": "no such job"}, "application/json"
            return 200, job, "application/json"
        if path.startswith("/phones/"):
            return 200, self.phones.get(path[len("/phones/") :], []), "application/json"
        return 404, {"error": "not found"}, "application/json"

    # -- calls ------------------------------------------------------------------------------

    def _run(self, work: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                work()
            except Exception as exc:  # a stand-in's failure is reported, never swallowed
                self.errors.append(f"{type(exc).__name__}: {exc}")

        t = threading.Thread(target=guarded, daemon=True)
        with self.lock:
            self.workers.append(t)
        t.start()

    def _tell(self, url: str, event: dict[str, Any]) -> None:
        """Post ``event`` to arrears' webhook, signed as a provider signs it."""
        if self.pace:
            time.sleep(self.pace)
        raw = json.dumps(event).encode()
        stamp = str(int(self.clock().timestamp()))
        r = httpx.post(
            url,
            content=raw,
            headers={
                "Content-Type": "application/json",
                "X-Arrears-Timestamp": stamp,
                "X-Arrears-Signature": signature(self.secret, stamp, raw),
            },
            timeout=60,
        )
        self.posted.append((url, event, r.status_code))
        if r.status_code >= 300:
            self.errors.append(f"{url} answered {r.status_code}: {r.text[:300]}")

    def _keep(self, call_id: str, spoken: calls.Spoken) -> None:
        with self.lock:
            self.recordings[call_id] = spoken.audio
            self.said[hashlib.sha256(spoken.audio).hexdigest()] = list(spoken.lines)

    def _bridge(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for name in ("reference", "agent", "to", "callback_url"):
            if not isinstance(body.get(name), str) or not body[name]:
                return 400, {"error": f"{name}: missing"}
        call_id = f"sc-{uuid.uuid4().hex[:16]}"
        with self.lock:
            self.phones.setdefault(body["agent"], []).append(
                {
                    "call_id": call_id,
                    "reference": body["reference"],
                    "rang_at": self.clock().isoformat(),
                }
            )
        self._run(lambda: self._bridged(call_id, body))
        return 200, {"call_id": call_id, "status": "queued"}

    def _bridged(self, call_id: str, body: dict[str, Any]) -> None:
        url, ref, to = body["callback_url"], body["reference"], body["to"]
        base = {"reference": ref, "call_id": call_id}
        self._tell(url, {**base, "leg": "agent", "status": "answered"})
        digits = re.sub(r"\D", "", to)
        if digits.endswith("0") or digits.endswith("9"):
            status = "no_answer" if digits.endswith("0") else "busy"
            self._tell(url, {**base, "leg": "borrower", "status": status})
            self._tell(url, {**base, "status": "completed", "duration": 0})
            return
        self._tell(url, {**base, "leg": "borrower", "status": "answered"})
        who = self.persona(to)
        locale = str(who.get("locale") or "zh-CN")
        script = calls.pick(ref, locale, breach=self.breaches)
        spoken = calls.record(calls.fill(script, {**who, "agent_id": body["agent"]}), locale)
        self._keep(call_id, spoken)
        duration = int(round(spoken.lines[-1]["end"])) if spoken.lines else 0
        self._tell(url, {**base, "status": "completed", "duration": duration})
        if body.get("record", True):
            self._tell(
                url,
                {
                    **base,
                    "event": "recording",
                    "recording_url": f"{self.url}/recordings/{call_id}.wav",
                    "duration": duration,
                },
            )

    def _robocall(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for name in ("reference", "to", "callback_url"):
            if not isinstance(body.get(name), str) or not body[name]:
                return 400, {"error": f"{name}: missing"}
        tts = body.get("tts") or {}
        text = str(tts.get("text") or "")
        if not text:
            return 400, {"error": "tts.text: missing (the stand-in speaks the script itself)"}
        call_id = f"sr-{uuid.uuid4().hex[:16]}"
        locale = str(tts.get("language") or "zh-CN")

        def run() -> None:
            lines = [("bot", s.strip()) for s in _SENTENCE.findall(text) if s.strip()]
            spoken = calls.record(lines or [("bot", text)], locale)
            self._keep(call_id, spoken)
            base = {"reference": body["reference"], "call_id": call_id}
            self._tell(body["callback_url"], {**base, "status": "answered"})
            self._tell(
                body["callback_url"],
                {
                    **base,
                    "event": "recording",
                    "recording_url": f"{self.url}/recordings/{call_id}.wav",
                    "duration": int(round(spoken.lines[-1]["end"])),
                },
            )

        self._run(run)
        return 200, {"call_id": call_id, "status": "queued"}

    # -- recognition ------------------------------------------------------------------------

    def _asr(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if isinstance(body.get("audio_base64"), str):
            try:
                audio = base64.b64decode(body["audio_base64"], validate=True)
            except ValueError:
                return 400, {"error": "audio_base64: not base64"}
        elif isinstance(body.get("audio_url"), str):
            r = httpx.get(body["audio_url"], timeout=30)
            if r.status_code != 200:
                return 400, {"error": f"audio_url: answered {r.status_code}"}
            audio = r.content
        else:
            return 400, {"error": "audio_base64 or audio_url: missing"}
        job_id = f"job-{uuid.uuid4().hex[:16]}"
        lines = self.said.get(hashlib.sha256(audio).hexdigest())
        if lines is None:
            job: dict[str, Any] = {
                "job_id": job_id,
                "status": "failed",
                "detail": "the stand-in recognises only audio it made: real speech needs a "
                "provider",
            }
        else:
            job = {"job_id": job_id, "status": "done", "segments": lines}
        with self.lock:
            self.jobs[job_id] = job
        if isinstance(body.get("callback_url"), str):
            self._run(lambda: self._tell(body["callback_url"], job))
        return 200, {"job_id": job_id, "status": "queued"}


def persona_of(app: Any) -> Persona:
    """The borrower behind a number, from the store: their locale, name, what they owe and the
    lender's name (what the simulated collector says on the call)."""
    from sqlalchemy import select

    from arrears.service.books.statements import statement_for_loan
    from arrears.store import tables as t

    def persona(number: str) -> dict[str, Any]:
        cp, b, ln, pf = t.contact_point, t.borrower, t.loan, t.portfolio
        digest = app.cipher.lookup_hash("phone", number)
        with app.engine.connect() as conn:
            row = conn.execute(
                select(b.c.borrower_id, b.c.locale, b.c.name_enc)
                .select_from(cp.join(b, b.c.borrower_id == cp.c.borrower_id))
                .where(cp.c.value_hash == digest)
            ).first()
            if row is None:
                return {"locale": "zh-CN"}
            loan = conn.execute(
                select(ln.c.loan_id, pf.c.creditor)
                .select_from(ln.join(pf, pf.c.portfolio_id == ln.c.portfolio_id))
                .where(ln.c.borrower_id == row.borrower_id)
                .order_by(ln.c.loan_id)
            ).first()
        locale = str(row.locale or "zh-CN")
        values: dict[str, Any] = {
            "locale": locale,
            "borrower_name": app.cipher.decrypt("borrower.name", row.name_enc) or "",
        }
        if loan is not None:
            owed = statement_for_loan(app, loan.loan_id, app.today())
            yuan = int(owed["total_due"]) / 100
            values["amount"] = f"{yuan:,.2f} 元" if locale.startswith("zh") else f"{yuan:,.2f} yuan"
            values["due_date"] = str(
                owed.get("oldest_unpaid_due_date") or owed.get("next_due_date") or ""
            )
            values["org"] = loan.creditor or ""
        return values

    return persona
