"""Robocalls: the rendered script spoken to a WAV file offline with espeak-ng (Mandarin or
English, from Debian's package), and a dialer adapter for the common call-API shape.

The dialer is asked to originate a call to a number with either an audio URL (the WAV, served
by the lender) or the text for its own TTS, a callback URL for status events, and the plan
action's id as the reference and idempotency key. Its callbacks carry the call's status
(answered, no_answer, busy, failed, voicemail) and, when answered, the key pressed:
1 a promise to pay today, 2 a call back, 3 a dispute. :func:`outcome` reads one into what the
contact record needs.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from arrears.channels.base import Message, Receipt
from arrears.channels.http import answer_field, headers, post
from arrears.channels.ratelimit import TokenBucket
from arrears.domain.codec import FieldError

#: espeak-ng voice per locale
VOICES = {"zh": "cmn", "en": "en-gb"}
#: the call statuses the dialer reports, and the contact result each records
STATUS_RESULT = {
    "answered": "connected",
    "no_answer": "no_answer",
    "busy": "busy",
    "failed": "failed",
    "voicemail": "voicemail",
}
#: what a key pressed during an answered call means
KEYPAD = {"1": "promise_today", "2": "call_back", "3": "dispute"}


class VoiceError(RuntimeError):
    pass


def speak(
    text: str, locale: str, out: Path, *, words_per_minute: int = 150, pitch: int = 50
) -> Path:
    """``text`` spoken to ``out`` (a WAV file) in the locale's voice, offline (``pitch``
    0-99 tells two speakers apart)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise VoiceError("espeak-ng is not installed (scripts/setup installs it)")
    voice = VOICES["zh" if locale.startswith("zh") else "en"]
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            exe,
            "-v",
            voice,
            "-s",
            str(words_per_minute),
            "-p",
            str(pitch),
            "-w",
            str(out),
            "--stdin",
        ],
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0 or not out.exists():
        raise VoiceError(f"espeak-ng failed ({proc.returncode}): {proc.stderr.decode()[:200]}")
    return out


@dataclass(frozen=True)
class CallOutcome:
    reference: str  # the plan action's id
    result: str  # the contact result (connected, no_answer, busy, failed, voicemail)
    choice: str | None  # promise_today | call_back | dispute, from the keypad
    call_id: str | None


def outcome(event: dict[str, Any]) -> CallOutcome:
    """One dialer callback, checked: a status the dialer does not define, a key other than 1-3,
    or a missing reference is refused with the field named."""
    ref = event.get("reference")
    if not isinstance(ref, str) or not ref:
        raise FieldError("reference", "missing (the plan action's id)")
    status = event.get("status")
    if not isinstance(status, str) or status not in STATUS_RESULT:
        raise FieldError("status", f"expected one of {', '.join(STATUS_RESULT)}, got {status!r}")
    digits = event.get("digits")
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, str | int)):
        raise FieldError("digits", f"expected 1, 2 or 3, got {digits!r}")
    choice = None
    if digits not in (None, ""):
        if status != "answered":
            raise FieldError("digits", f"keys pressed on a call that was {status}")
        if str(digits) not in KEYPAD:
            raise FieldError("digits", f"expected 1, 2 or 3, got {digits!r}")
        choice = KEYPAD[str(digits)]
    call_id = event.get("call_id")
    if call_id is not None and not isinstance(call_id, str | int):
        raise FieldError("call_id", f"expected a string, got {call_id!r}")
    return CallOutcome(ref, STATUS_RESULT[status], choice, str(call_id) if call_id else None)


@dataclass
class DialerConfig:
    url: str  # the originate endpoint
    callback_url: str  # where the dialer posts status events
    token: str | None = None
    caller_id: str | None = None
    rate_per_second: float = 10.0
    timeout_seconds: float = 10.0
    name: str = "dialer-http"


class HttpDialer:
    """Originates one call per message: ``metadata["audio_url"]`` if the audio is served,
    else the script for the dialer's own TTS (``metadata["voice"]`` names the language)."""

    def __init__(self, config: DialerConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.name = config.name
        self.limiter = TokenBucket(config.rate_per_second)
        self.client = client or httpx.Client(timeout=config.timeout_seconds)

    def payload(self, m: Message) -> dict[str, Any]:
        body: dict[str, Any] = {
            "to": m.destination,
            "reference": m.idempotency_key,
            "callback_url": self.config.callback_url,
            "gather": {"digits": 1, "choices": sorted(KEYPAD)},
        }
        if self.config.caller_id:
            body["from"] = self.config.caller_id
        if m.metadata.get("audio_url"):
            body["audio_url"] = m.metadata["audio_url"]
        else:
            body["tts"] = {
                "text": m.body,
                "language": "zh-CN" if m.locale.startswith("zh") else "en",
            }
        return body

    def send(self, message: Message) -> Receipt:
        self.limiter.acquire()
        sent = headers(message.idempotency_key, self.config.token)
        r = post(self.client, self.config.url, self.payload(message), sent, "dialer")
        call_id = answer_field(r, "call_id") or answer_field(r, "id")
        return Receipt(self.name, call_id or message.idempotency_key, "queued")

    def close(self) -> None:
        self.client.close()
