"""Helpers the rules share: local days, the person's timezones, matching events."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Index:
    """The history up to the attempt, grouped by kind: built once per request and shared by
    every rule (the gate evaluates one request's rules one after another)."""

    past: list[Event]
    by_kind: dict[str, list[Event]]

    def of(self, *kinds: str) -> list[Event]:
        if len(kinds) == 1:
            return self.by_kind.get(kinds[0], [])
        return [e for e in self.past if e.kind in kinds]


_last: list[tuple[tuple[Event, ...], datetime, Index]] = []


def index(req: Request) -> Index:
    at = req.attempt.at
    if _last and _last[0][0] is req.history and _last[0][1] == at:
        return _last[0][2]
    past = [e for e in req.history if e.at <= at]
    by_kind: dict[str, list[Event]] = {}
    for e in past:
        by_kind.setdefault(e.kind, []).append(e)
    built = Index(past, by_kind)
    _last[:] = [(req.history, at, built)]
    return built


def before(events: tuple[Event, ...], at: datetime) -> list[Event]:
    """History up to (not after) ``at``: what was known when the attempt is made."""
    return [e for e in events if e.at <= at]


def about(event: Event, debt_ids: tuple[str, ...]) -> bool:
    """An event with no debt ids is about every debt."""
    return not event.debt_ids or not debt_ids or bool(set(event.debt_ids) & set(debt_ids))
