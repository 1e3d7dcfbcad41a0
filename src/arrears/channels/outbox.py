"""The local provider profile: every message lands as files in an outbox folder a person can
open (the demo's, and a place to look before a real provider is connected).

``<folder>/<channel>/<day>/<key>.json`` holds the message (destination, subject, body, metadata)
and, beside it, what a person would receive: ``.txt`` for SMS, push and robocall scripts,
``.eml`` for email (attachments included), ``.html`` for letters, and each attachment as a
file. The key's file is written once: sending the same message again finds it and returns the
same receipt, so the outbox holds each message exactly once however often it is handed over.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from arrears.channels.base import Message, Receipt

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(key: str) -> str:
    """A file name for an idempotency key: readable, safe, and unique (a short hash is added)."""
    safe = _UNSAFE.sub("_", key).strip("_")[:80]
    return f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


class Outbox:
    """``folder`` None: nothing is written to disk (the message is only in the store's
    ``outbox_message`` table, its words sealed); files are written only where the provider
    profile says ``files: true`` (or ``ARREARS_OUTBOX_FILES``), as the demo does: they hold
    names and numbers in clear."""

    def __init__(self, folder: Path | None, name: str = "outbox") -> None:
        self.folder = folder
        self.name = name

    def path_for(self, message: Message) -> Path:
        day = message.metadata.get("day") or datetime.now(UTC).date().isoformat()
        stem = f"{file_stem(message.idempotency_key)}.json"
        return (self.folder or Path(".")) / message.channel / day / stem

    def send(self, message: Message) -> Receipt:
        target = self.path_for(message)
        ref = f"{message.channel}/{target.parent.name}/{target.stem}"
        if self.folder is None:  # no files: the store keeps the message
            return Receipt(self.name, ref, "sent")
        if target.exists():  # handed over before: the outbox already holds it
            return Receipt(self.name, ref, "sent")
        target.parent.mkdir(parents=True, exist_ok=True)
        record = asdict(message)
        record["attachments"] = [a.filename for a in message.attachments]
        for a in message.attachments:
            _write(target.with_name(f"{target.stem}-{a.filename}"), a.data)
        if message.channel == "email":
            from arrears.channels.email_smtp import SmtpConfig, SmtpEmail

            eml = SmtpEmail(SmtpConfig(host="localhost", security="none")).build(message)
            _write(target.with_suffix(".eml"), bytes(eml))
        elif message.channel == "letter":
            _write(target.with_suffix(".html"), (message.html or message.body).encode())
        else:
            _write(target.with_suffix(".txt"), message.body.encode())
        # the .json last, atomically: its presence means the message is wholly in the outbox
        _write(target, json.dumps(record, ensure_ascii=False, indent=2).encode())
        return Receipt(self.name, ref, "sent")

    def close(self) -> None:
        pass


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
