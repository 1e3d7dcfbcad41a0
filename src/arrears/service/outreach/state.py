"""What the dispatcher's steps share: the actions' statuses, a round's options and its report,
the contact point each channel sends to, and the errors that mean the database is gone for a
moment."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.exc import InterfaceError, OperationalError

from arrears.channels.profiles import PROVIDER_CHANNELS

#: the contact point each channel sends to (push goes to the borrower's app account)


POINT = {"sms": "phone", "robocall": "phone", "email": "email", "letter": "address"}


#: statuses: prepared and possibly handed over; ended
SENDING, SENT, PARKED, CANCELLED = "sending", "sent", "parked", "cancelled"


#: templates whose message carries the statement as a PDF
ATTACH_STATEMENT = frozenset({"statement_email"})


#: errors that mean the database is gone for a moment, and how often in a row to wait it out
DB_GONE = (OperationalError, InterfaceError)


RECONNECT_TRIES = 30


#: the associated data a message's texts are sealed under (names sit in them)
BODY, HTML = "outbox_message.body", "outbox_message.html"


@dataclass(frozen=True)
class Options:
    worker: str = field(default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}")
    batch: int = 200
    lease_seconds: float = 120.0
    max_tries: int = 5
    backoff_seconds: float = 30.0  # the first retry's wait; doubled each time, at most 1 hour
    senders: int = 8  # threads handing messages to providers
    channels: tuple[str, ...] = PROVIDER_CHANNELS
    day: date | None = None  # only this business date's actions (all open ones if None)
    follow: bool = False  # keep polling when nothing is ready (a service) instead of stopping
    poll_seconds: float = 1.0
    limit: int | None = None  # stop after this many actions were handled (tests, demos)


@dataclass
class Report:
    claimed: int = 0
    sent: int = 0
    cancelled: int = 0
    moved: int = 0
    retried: int = 0
    parked: int = 0
    fenced: int = 0  # prepared elsewhere, or replaced by a cycle re-run while leased
    by_channel: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    cancelled_ids: dict[str, str] = field(default_factory=dict)  # action id -> rule

    @property
    def handled(self) -> int:
        return self.sent + self.cancelled + self.moved + self.retried + self.parked + self.fenced
