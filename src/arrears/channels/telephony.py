"""A person's calls through the lender's dialer (click-to-call), the recording it keeps, and the
speech-recognition (ASR) provider that writes the recording down.

**Click-to-call.** arrears asks the dialer to bridge a call: the collector's own phone (their
seat, ``agent``) rings first; when the collector answers, the dialer rings the borrower's number
and joins the two. The number goes to the dialer only, never to the collector's screen. The
request carries the contact attempt's id as the reference and idempotency key, and the callback
URL for the dialer's status events (:func:`call_event`):

* ``{"reference", "call_id", "leg": "agent", "status": "answered"}``: the collector picked up;
* ``{"leg": "borrower", "status": "answered" | "no_answer" | "busy" | "failed" | "voicemail"}``;
* ``{"status": "completed", "duration": seconds}``: the call ended;
* ``{"event": "recording", "recording_url": ..., "duration": seconds}``: the recording is ready.

**Recordings** are fetched from the URL the dialer gives (:func:`fetch`), bounded in size.

**ASR** (:class:`HttpAsr`): a job is submitted with the audio (as a URL the provider fetches, or
inline as base64); the provider then posts the result to a callback URL or answers a poll. A
result is speaker-labelled segments with times (:func:`segments`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from arrears.channels.base import SendFailed
from arrears.channels.http import answer_field, headers, post
from arrears.domain.codec import FieldError

#: a borrower leg's status, and the contact result it records
LEG_RESULT = {
    "answered": "connected",
    "no_answer": "no_answer",
    "busy": "busy",
    "failed": "not_in_service",
    "voicemail": "voicemail",
}
AGENT_STATUSES = frozenset({"ringing", "answered", "no_answer", "busy", "failed"})
#: the largest recording fetched (an hour of 16 kHz mono 16-bit audio is about 115 MB)
MAX_RECORDING_BYTES = 128 * 1024 * 1024
AUDIO_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/ogg"})
SPEAKERS = frozenset({"agent", "borrower", "bot", "other"})


@dataclass(frozen=True)
class Bridge:
    """One click-to-call: ring ``agent`` first, then ``to``."""

    reference: str  # the contact attempt's id
    agent: str  # the collector's seat (their staff number)
    to: str  # the borrower's number, in clear for the dialer only
    callback_url: str
    record: bool = True


@dataclass
class AgentDialerConfig:
    url: str  # the bridge endpoint
    callback_url: str  # arrears serve's /api/v1/webhooks/dialer
    token: str | None = None
    caller_id: str | None = None
    timeout_seconds: float = 10.0
    name: str = "agent-dialer"


class HttpAgentDialer:
    """Bridges the collector's phone and the borrower's through the dialer's HTTP API."""

    def __init__(self, config: AgentDialerConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.name = config.name
        self.client = client or httpx.Client(timeout=config.timeout_seconds)

    def bridge(self, call: Bridge) -> str:
        """The dialer's id for the call; :class:`SendFailed` when it did not take it."""
        body: dict[str, Any] = {
            "reference": call.reference,
            "agent": call.agent,
            "to": call.to,
            "callback_url": call.callback_url,
            "record": call.record,
            "order": ["agent", "borrower"],
        }
        if self.config.caller_id:
            body["from"] = self.config.caller_id
        r = post(
            self.client, self.config.url, body, headers(call.reference, self.config.token), "dialer"
        )
        return answer_field(r, "call_id") or answer_field(r, "id") or call.reference

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class CallEvent:
    """One dialer status event about a bridged call, checked."""

    reference: str
    call_id: str | None
    kind: Literal["agent", "borrower", "completed", "recording"]
    status: str | None  # the leg's status
    duration: int | None  # seconds
    recording_url: str | None


def _text(event: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = event.get(name)
    if value is None or value == "":
        if required:
            raise FieldError(name, "missing")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise FieldError(name, f"expected a string, got {value!r}")
    return str(value)[:500]


def _duration(event: dict[str, Any]) -> int | None:
    d = event.get("duration")
    if d is None:
        return None
    if isinstance(d, bool) or not isinstance(d, int | float) or not 0 <= d <= 86_400:
        raise FieldError("duration", f"expected seconds between 0 and 86400, got {d!r}")
    return int(round(d))


def call_event(event: dict[str, Any]) -> CallEvent:
    """A bridged call's status event, or :class:`FieldError` naming the field at fault."""
    ref = _text(event, "reference", required=True)
    assert ref is not None
    call_id = _text(event, "call_id")
    if event.get("event") == "recording":
        url = _text(event, "recording_url", required=True)
        if url is None or not url.startswith(("http://", "https://")):
            raise FieldError("recording_url", f"expected an http(s) URL, got {url!r}")
        return CallEvent(ref, call_id, "recording", None, _duration(event), url)
    status = _text(event, "status", required=True)
    if status == "completed":
        return CallEvent(ref, call_id, "completed", status, _duration(event), None)
    leg = event.get("leg")
    if leg == "agent":
        if status not in AGENT_STATUSES:
            raise FieldError("status", f"expected one of {', '.join(sorted(AGENT_STATUSES))}")
        return CallEvent(ref, call_id, "agent", status, None, None)
    if leg == "borrower":
        if status not in LEG_RESULT and status != "ringing":
            raise FieldError("status", f"expected one of {', '.join(LEG_RESULT)} or ringing")
        return CallEvent(ref, call_id, "borrower", status, None, None)
    raise FieldError("leg", f"expected agent or borrower, got {leg!r}")


def fetch(client: httpx.Client, url: str, limit: int = MAX_RECORDING_BYTES) -> tuple[bytes, str]:
    """The audio at ``url`` and its content type, read within ``limit`` bytes."""
    try:
        with client.stream("GET", url) as r:
            if r.status_code != 200:
                raise SendFailed(
                    f"recording: {url} answered {r.status_code}", retry=r.status_code >= 500
                )
            kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind not in AUDIO_TYPES:
                raise SendFailed(f"recording: {url} is {kind or 'untyped'}, not audio", retry=False)
            chunks, size = [], 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise SendFailed(f"recording: {url} is over {limit} bytes", retry=False)
                chunks.append(chunk)
    except httpx.TransportError as exc:
        raise SendFailed(f"recording: {url} unreachable: {exc}", retry=True) from exc
    return b"".join(chunks), kind


@dataclass(frozen=True)
class Segment:
    speaker: str  # agent | borrower | bot | other
    start: float  # seconds from the start of the recording
    end: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "start": self.start, "end": self.end, "text": self.text}


def segments(data: Any, where: str = "segments") -> list[Segment]:
    """A provider's segments (a list of objects with speaker, start, end and text), checked;
    :class:`FieldError` names the segment and field at fault."""
    if not isinstance(data, list):
        raise FieldError(where, "expected a list of segments")
    out = []
    for i, s in enumerate(data):
        at = f"{where}[{i}]"
        if not isinstance(s, dict):
            raise FieldError(at, "expected an object")
        speaker = s.get("speaker")
        if speaker not in SPEAKERS:
            raise FieldError(f"{at}.speaker", f"expected one of {', '.join(sorted(SPEAKERS))}")
        times = []
        for name in ("start", "end"):
            v = s.get(name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 86_400:
                raise FieldError(f"{at}.{name}", f"expected seconds, got {v!r}")
            times.append(float(v))
        if times[1] < times[0]:
            raise FieldError(f"{at}.end", "ends before it starts")
        text = s.get("text")
        if not isinstance(text, str):
            raise FieldError(f"{at}.text", "expected a string")
        out.append(Segment(str(speaker), times[0], times[1], text[:5000]))
    return out


@dataclass
class AsrConfig:
    submit_url: str  # POST: a job
    poll_url: str | None = None  # GET {poll_url}/{job_id}: the job's state (polling)
    callback_url: str | None = None  # arrears serve's /api/v1/webhooks/asr (callbacks)
    audio: Literal["url", "base64"] = "base64"
    token: str | None = None
    language: str = "zh-CN"
    timeout_seconds: float = 30.0
    name: str = "asr-http"


@dataclass(frozen=True)
class AsrState:
    job_id: str
    status: Literal["queued", "done", "failed"]
    segments: tuple[Segment, ...] = ()
    detail: str | None = None


def state(body: Any) -> AsrState:
    """A job's state as the provider reports it (a poll's answer or a callback's body)."""
    if not isinstance(body, dict):
        raise FieldError("body", "expected an object")
    job = _text(body, "job_id", required=True)
    assert job is not None
    status = body.get("status")
    if status in ("queued", "running"):
        return AsrState(job, "queued")
    if status == "failed":
        return AsrState(job, "failed", detail=_text(body, "detail"))
    if status != "done":
        raise FieldError("status", f"expected queued, running, done or failed, got {status!r}")
    return AsrState(job, "done", tuple(segments(body.get("segments"))))


class HttpAsr:
    def __init__(self, config: AsrConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.name = config.name
        self.client = client or httpx.Client(timeout=config.timeout_seconds)

    def submit(self, reference: str, audio: bytes, audio_url: str | None, locale: str) -> str:
        """The provider's job id for transcribing ``audio``; :class:`SendFailed` if refused."""
        body: dict[str, Any] = {
            "reference": reference,
            "language": "zh-CN" if locale.startswith("zh") else "en",
            "diarization": True,
        }
        if self.config.audio == "url" and audio_url:
            body["audio_url"] = audio_url
        else:
            body["audio_base64"] = base64.b64encode(audio).decode("ascii")
        if self.config.callback_url:
            body["callback_url"] = self.config.callback_url
        r = post(
            self.client, self.config.submit_url, body, headers(reference, self.config.token), "asr"
        )
        job = answer_field(r, "job_id") or answer_field(r, "id")
        if not job:
            raise SendFailed("asr: the provider gave no job_id", retry=False)
        return job

    def poll(self, job_id: str) -> AsrState:
        if not self.config.poll_url:
            raise SendFailed("asr: the profile has no poll_url", retry=False)
        url = f"{self.config.poll_url.rstrip('/')}/{job_id}"
        auth = {"Authorization": f"Bearer {self.config.token}"} if self.config.token else {}
        try:
            r = self.client.get(url, headers=auth)
        except httpx.TransportError as exc:
            raise SendFailed(f"asr unreachable: {exc}", retry=True) from exc
        if r.status_code != 200:
            raise SendFailed(f"asr answered {r.status_code}", retry=r.status_code >= 500)
        try:
            return state(r.json())
        except ValueError as exc:
            raise SendFailed(f"asr: {exc}", retry=False) from exc

    def close(self) -> None:
        self.client.close()
