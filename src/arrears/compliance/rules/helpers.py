"""Helpers the rules share: local days, the person's timezones, matching events."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from operator import attrgetter
from zoneinfo import ZoneInfo

from arrears.compliance.facts import Event, Request
from arrears.compliance.rulebook import Rulebook


@lru_cache(maxsize=1024)
def _zones(names: tuple[str, ...]) -> tuple[ZoneInfo, ...]:
    return tuple(ZoneInfo(n) for n in names)


def zones(req: Request, book: Rulebook) -> tuple[ZoneInfo, ...]:
    """Every place the person may be: the known timezones, else the rulebook's fallback list."""
    return _zones(req.person.timezones or book.hours.unknown_location_timezones)


def day_zone(req: Request, book: Rulebook) -> ZoneInfo:
    """The timezone whose calendar days the daily limits count in."""
    name = req.person.timezones[0] if req.person.timezones else book.default_timezone
    return _zones((name,))[0]


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def next_day_start(at: datetime, tz: ZoneInfo) -> datetime:
    return start_of_day(local_day(at, tz) + timedelta(days=1), tz)


@dataclass(frozen=True)
class _Sorted:
    """One history, sorted by instant, overall and by kind (built once per history)."""

    events: list[Event]
    instants: list[datetime]
    kinds: dict[str, tuple[list[Event], list[datetime]]]


@dataclass(slots=True)  # built several times per decision: no frozen __setattr__ cost
class Index:
    """The history up to the attempt, grouped by kind, shared by every rule of one decision;
    moving the attempt (for earliest_allowed_at) re-cuts the same sorted lists."""

    history: _Sorted
    at: datetime

    @property
    def past(self) -> list[Event]:
        return self.history.events[: bisect_right(self.history.instants, self.at)]

    def of(self, *kinds: str) -> list[Event]:
        out: list[Event] = []
        for kind in kinds:
            found = self.history.kinds.get(kind)
            if found:
                events, instants = found
                out.extend(events[: bisect_right(instants, self.at)])
        return out

    def since(self, kind: str, start: datetime) -> list[Event]:
        """Events of ``kind`` from ``start`` up to the attempt."""
        found = self.history.kinds.get(kind)
        if not found:
            return []
        events, instants = found
        return events[bisect_left(instants, start) : bisect_right(instants, self.at)]


_last: list[tuple[tuple[Event, ...], _Sorted]] = []
_BY_AT = attrgetter("at")


def index(req: Request) -> Index:
    history = req.history
    if _last and _last[0][0] is history:
        return Index(_last[0][1], req.attempt.at)
    events = sorted(history, key=_BY_AT)
    groups: dict[str, list[Event]] = {}
    for e in events:
        group = groups.get(e.kind)
        if group is None:
            groups[e.kind] = group = []
        group.append(e)
    kinds = {k: (g, list(map(_BY_AT, g))) for k, g in groups.items()}
    built = _Sorted(events, list(map(_BY_AT, events)), kinds)
    _last[:] = [(history, built)]
    return Index(built, req.attempt.at)


def about(event: Event, debt_ids: tuple[str, ...]) -> bool:
    """An event with no debt ids is about every debt."""
    return not event.debt_ids or not debt_ids or bool(set(event.debt_ids) & set(debt_ids))
