"""What was said on a simulated call: a script of ``call_scripts.yaml`` (invented
conversations between a collector and a borrower, some compliant, some with a breach of one
conduct category or a missing disclosure), filled in for the borrower and spoken to one WAV
file, two voices, with each line's start and end in seconds.

The stand-in dialer (:mod:`.standin`) records a bridged call with it, and the stand-in speech
recogniser answers with these lines as the transcript: what a real ASR provider would return
for a real recording."""

from __future__ import annotations

import hashlib
import io
import tempfile
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from arrears.channels.voice import speak
from arrears.parsing import load_yaml

HERE = Path(__file__).with_name("call_scripts.yaml")
#: the pause between two lines, in seconds
GAP = 0.35
PITCH = {"agent": 40, "borrower": 70, "bot": 50, "other": 60}


@dataclass(frozen=True)
class Script:
    id: str
    locale: str
    breach: str | None
    disclosures: str
    lines: tuple[tuple[str, str], ...]


@lru_cache(maxsize=1)
def scripts() -> tuple[Script, ...]:
    data = load_yaml(HERE.read_text(encoding="utf-8"), str(HERE))
    return tuple(
        Script(
            id=str(s["id"]),
            locale=str(s["locale"]),
            breach=s.get("breach"),
            disclosures=str(s.get("disclosures") or "complete"),
            lines=tuple((str(who), str(text)) for who, text in s["lines"]),
        )
        for s in data["scripts"]
    )


def pick(reference: str, locale: str, *, breach: bool | None = None) -> Script:
    """The script of a call, chosen by its reference (the same call, the same script);
    ``breach``: only scripts with (True) or without (False) a language breach."""
    lang = "zh" if locale.startswith("zh") else "en"
    pool = [
        s
        for s in scripts()
        if s.locale.startswith(lang) and (breach is None or (s.breach is not None) == breach)
    ]
    n = int.from_bytes(hashlib.sha256(reference.encode()).digest()[:8], "big")
    return pool[n % len(pool)]


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(script: Script, values: dict[str, Any]) -> list[tuple[str, str]]:
    """The script's lines with the borrower's and the agent's details in place."""
    return [(who, text.format_map(_Blank(values))) for who, text in script.lines]


@dataclass(frozen=True)
class Spoken:
    audio: bytes  # WAV
    lines: tuple[dict[str, Any], ...]  # speaker, start, end, text


def _frames(path: Path) -> tuple[bytes, tuple[int, int, int]]:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes()), (w.getnchannels(), w.getsampwidth(), w.getframerate())


def record(lines: list[tuple[str, str]], locale: str) -> Spoken:
    """``lines`` spoken one after another (each speaker their own voice) to one WAV."""
    out = io.BytesIO()
    timed: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        pieces, params = [], None
        for i, (who, text) in enumerate(lines):
            path = speak(text, locale, Path(tmp) / f"{i}.wav", pitch=PITCH.get(who, 50))
            frames, params = _frames(path)
            pieces.append((who, text, frames))
    assert params is not None, "a call has at least one line"
    channels, width, rate = params
    per_second = channels * width * rate
    silence = b"\0" * (int(GAP * rate) * channels * width)
    clock = 0.0
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        for who, text, frames in pieces:
            length = len(frames) / per_second
            timed.append(
                {
                    "speaker": who,
                    "start": round(clock, 2),
                    "end": round(clock + length, 2),
                    "text": text,
                }
            )
            w.writeframes(frames + silence)
            clock += length + GAP
    return Spoken(out.getvalue(), tuple(timed))
