"""Helpers the rules share: local days, the person's timezones, matching events."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from arrears.compliance.model import Event, Request
from arrears.compliance.rulebook import Rulebook


def zones(req: Request, book: Rulebook) -> list[ZoneInfo]:
    """Every place the person may be: the known timezones, else the rulebook's fallback list."""
    names = req.person.timezones or book.hours.unknown_location_timezones
    return [ZoneInfo(n) for n in names]


def day_zone(req: Request, book: Rulebook) -> ZoneInfo:
    """The timezone whose calendar days the daily limits count in."""
    return ZoneInfo(req.person.timezones[0] if req.person.timezones else book.default_timezone)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def next_day_start(at: datetime, tz: ZoneInfo) -> datetime:
    return start_of_day(local_day(at, tz) + timedelta(days=1), tz)


def before(events: tuple[Event, ...], at: datetime) -> list[Event]:
    """History up to (not after) the attempt: what was known when it is made."""
    return [e for e in events if e.at <= at]


def about(event: Event, debt_ids: tuple[str, ...]) -> bool:
    """An event with no debt ids is about every debt."""
    return not event.debt_ids or not debt_ids or bool(set(event.debt_ids) & set(debt_ids))
