"""The one protocol every channel adapter speaks, and the message it is handed.

A :class:`Message` is everything a provider needs and nothing more: the destination in clear
(decrypted just before sending), the rendered words, attachments, and the idempotency key (the
plan action's id) that lets a provider drop a repeat of the same message. An adapter's
:meth:`Channel.send` either returns a :class:`Receipt` (the provider took the message) or
raises :class:`SendFailed`, saying whether trying again could help.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Message:
    idempotency_key: str
    channel: str  # sms push email letter robocall
    destination: str  # phone number, email address, device/user id, postal address
    body: str
    subject: str | None = None
    html: str | None = None  # email and letter bodies
    locale: str = "zh-CN"
    attachments: tuple[Attachment, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    provider: str
    provider_ref: str  # the provider's id for the message (for receipts and callbacks)
    status: str = "sent"  # sent | queued (the provider will report delivery later)


class SendFailed(Exception):
    """The provider did not take the message. ``retry``: a later attempt may succeed
    (timeouts, 5xx, rate limits); otherwise it never will (a bad number, a refused address)."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class Channel(Protocol):
    name: str  # the provider profile's name, recorded with each contact

    def send(self, message: Message) -> Receipt: ...

    def close(self) -> None: ...
