"""What the gate decides on: a contact attempt, the person, and the contact history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time

CHANNELS = ("call", "robocall", "sms", "email", "letter", "push", "visit")
CALLS = frozenset({"call", "robocall"})
#: the medium a channel uses, for opt-outs ("call" covers robocalls)
MEDIUM = {
    "call": "call",
    "robocall": "call",
    "sms": "sms",
    "email": "email",
    "push": "push",
    "letter": "letter",
    "visit": "visit",
}
ROLES = ("debtor", "guarantor", "emergency_contact", "third_party")
RESULTS = ("busy", "not_in_service", "no_answer", "voicemail", "connected", "conversation")
CONNECTED = frozenset({"connected", "conversation"})
FAILED = frozenset({"busy", "not_in_service", "no_answer", "voicemail"})


@dataclass(frozen=True, slots=True)
class Attempt:
    channel: str
    at: datetime
    person_id: str
    debt_ids: tuple[str, ...]
    role: str = "debtor"
    destination: str | None = None
    content: str | None = None
    #: why a message is sent when a hold allows only some ("collection_ended", "remedy_notice")
    purpose: str | None = None
    #: people on a home visit
    collectors: int | None = None


@dataclass(frozen=True, slots=True)
class Person:
    timezones: tuple[str, ...] = ()
    inconvenient_times: tuple[tuple[time, time], ...] = ()
    agreed_window: tuple[time, time] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One history entry: a contact (kind = a channel) or a fact (cease_request, dispute ...)."""

    kind: str
    at: datetime
    direction: str = "outbound"
    result: str | None = None
    person_id: str | None = None
    debt_ids: tuple[str, ...] = ()
    destination: str | None = None
    role: str | None = None
    until: datetime | None = None
    written: bool = False
    medium: str | None = None
    hold: str | None = None


@dataclass(frozen=True, slots=True)
class Debt:
    debt_id: str
    time_barred: bool = False


@dataclass(frozen=True, slots=True)
class Request:
    attempt: Attempt
    person: Person = field(default_factory=Person)
    history: tuple[Event, ...] = ()
    debts: tuple[Debt, ...] = ()

    def at(self, when: datetime) -> Request:
        """The same request, the attempt moved to ``when`` (hot in earliest_allowed_at, so built
        directly rather than through dataclasses.replace)."""
        a = self.attempt
        moved = Attempt(
            a.channel,
            when,
            a.person_id,
            a.debt_ids,
            a.role,
            a.destination,
            a.content,
            a.purpose,
            a.collectors,
        )
        return Request(moved, self.person, self.history, self.debts)


NEVER = "never"


Text = str | Callable[[], str]


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule that refuses the attempt, why (en and zh-CN), and when it could next allow it:
    an instant, or None when no passage of time alone will (a new event is needed).

    The reasons may be given as functions: the gate builds many violations it never shows
    (while it looks for the earliest allowed instant), so their text is made only when read.
    """

    rule: str
    en: Text
    zh: Text
    retry_at: datetime | None = None

    @property
    def reason(self) -> str:
        return self.en if isinstance(self.en, str) else self.en()

    @property
    def reason_zh(self) -> str:
        return self.zh if isinstance(self.zh, str) else self.zh()


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    violations: tuple[Violation, ...]
    earliest_allowed_at: datetime | None
    rulebook: str
    rulebook_version: str
