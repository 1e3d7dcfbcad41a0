"""Robocalls: the shipped scripts spoken offline by espeak-ng in Mandarin and English (real WAV
files with sound in them), the dialer adapter against a loopback HTTP server, and the dialer's
callbacks read into outcomes."""

from __future__ import annotations

import array
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from arrears.channels import templating
from arrears.channels.base import Message
from arrears.channels.voice import DialerConfig, HttpDialer, outcome, speak
from tests.support.servers import Gateway


def _script(locale: str) -> str:
    tpl = next(
        t
        for t in templating.read_folder(templating.HERE)
        if t.name == "early_robocall" and t.locale == locale
    )
    return templating.render(tpl, templating.sample_context(locale)).text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_robocall_script_is_spoken_to_a_wav(tmp_path: Path, locale: str) -> None:
    text = _script(locale)
    assert ("按1" in text) if locale == "zh-CN" else ("press 1" in text)
    out = speak(text, locale, tmp_path / f"{locale}.wav")
    with wave.open(str(out)) as w:
        seconds = w.getnframes() / w.getframerate()
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        samples = array.array("h", w.readframes(w.getnframes()))
    assert 10 < seconds < 180, seconds  # a whole script, not a blip
    loud = sum(1 for s in samples if abs(s) > 1000)
    assert loud > len(samples) // 20  # speech, not silence


@pytest.fixture
def dialer_server() -> Iterator[Gateway]:
    gw = Gateway(token="d1al").start()
    yield gw
    gw.stop()


def test_the_dialer_is_asked_to_call_with_the_script_and_a_callback(
    dialer_server: Gateway,
) -> None:
    dialer = HttpDialer(
        DialerConfig(
            url=dialer_server.url,
            callback_url="http://127.0.0.1/cb",
            token="d1al",
            caller_id="4000000000",
        )
    )
    m = Message("2026-11-23|L1|early_robocall_d3", "robocall", "13812345678", _script("zh-CN"))
    try:
        receipt = dialer.send(m)
        dialer.send(m)
    finally:
        dialer.close()
    body = dialer_server.requests[0]["body"]
    assert body["to"] == "13812345678" and body["from"] == "4000000000"
    assert body["reference"] == "2026-11-23|L1|early_robocall_d3"
    assert body["tts"]["language"] == "zh-CN" and "按1" in body["tts"]["text"]
    assert body["callback_url"] == "http://127.0.0.1/cb"
    assert len(dialer_server.accepted) == 1 and receipt.status == "queued"


def test_callbacks_become_outcomes_and_nonsense_is_named() -> None:
    o = outcome({"reference": "k", "status": "answered", "digits": "1", "call_id": "c9"})
    assert (o.result, o.choice, o.call_id) == ("connected", "promise_today", "c9")
    assert outcome({"reference": "k", "status": "answered", "digits": 3}).choice == "dispute"
    assert outcome({"reference": "k", "status": "busy"}).result == "busy"
    assert outcome({"reference": "k", "status": "voicemail"}).choice is None
    for bad, field in (
        ({"status": "answered"}, "reference"),
        ({"reference": "k", "status": "exploded"}, "status"),
        ({"reference": "k", "status": "answered", "digits": "7"}, "digits"),
        ({"reference": "k", "status": "no_answer", "digits": "1"}, "digits"),
    ):
        with pytest.raises(ValueError, match=f"^{field}:"):
            outcome(bad)
