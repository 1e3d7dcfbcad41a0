"""hours: contact only inside the allowed window at every place the person may be, outside the
times they named inconvenient, or inside a window they agreed to."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from arrears.compliance.facts import Request, Violation
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules.helpers import zones


def _window(req: Request, book: Rulebook) -> tuple[time, time, bool]:
    h = book.hours
    if h.honour_agreed_window and req.person.agreed_window is not None:
        start, end = req.person.agreed_window
        return start, end, True
    return h.start, h.end, h.end_inclusive


def _inside(t: time, start: time, end: time, inclusive: bool) -> bool:
    if start <= end:
        return start <= t < end or (inclusive and t == end)
    return t >= start or t < end or (inclusive and t == end)  # a window across midnight


def _blocked_at(req: Request, book: Rulebook, at: datetime) -> list[str]:
    """The timezones where ``at`` is outside hours or inside an inconvenient time."""
    start, end, inclusive = _window(req, book)
    bad = []
    inconvenient = req.person.inconvenient_times if book.hours.honour_inconvenient_times else ()
    for tz in zones(req, book):
        local = at.astimezone(tz).time()
        ok = _inside(local, start, end, inclusive)
        if ok and inconvenient:
            ok = not any(_inside(local, a, b, False) for a, b in inconvenient)
        if not ok:
            bad.append(str(tz))
    return bad


def _next_allowed(req: Request, book: Rulebook, at: datetime) -> datetime | None:
    """The first instant after ``at`` when the window is open everywhere: it begins at a window
    start or at the end of an inconvenient time in one of the zones, so only those are tried."""
    start, _, _ = _window(req, book)
    openings = sorted({start, *(b for _, b in req.person.inconvenient_times)})
    tzs = zones(req, book)
    first = {tz: at.astimezone(tz).date() for tz in tzs}  # each zone's own today

    def day(k: int) -> list[datetime]:
        return [
            when
            for tz in tzs
            for t in openings
            if (when := datetime.combine(first[tz] + timedelta(days=k), t, tzinfo=tz)) > at
        ]

    # day by day, so the usual answer (today or tomorrow) is found first; an instant found is
    # only taken once no candidate of a later day (in any zone) can come before it
    pending: list[datetime] = []
    for k in range(9):
        upcoming = day(k)
        frontier = min(upcoming, default=None)
        pending.sort()
        while pending and (frontier is None or pending[0] <= frontier):
            when = pending.pop(0)
            if not _blocked_at(req, book, when):
                return when
        pending.extend(upcoming)
    return None


def check(req: Request, book: Rulebook) -> list[Violation]:
    if req.attempt.channel not in book.hours.channels:
        return []
    bad = _blocked_at(req, book, req.attempt.at)
    if not bad:
        return []
    start, end, _ = _window(req, book)
    where = ", ".join(bad)
    agreed = req.person.agreed_window is not None and book.hours.honour_agreed_window
    return [
        Violation(
            rule=f"{book.id}.hours.window",
            en=lambda: (
                f"outside the {'agreed ' if agreed else ''}contact window "
                f"{start:%H:%M}-{end:%H:%M} or in a time the person named inconvenient "
                f"(local time in {where})"
            ),
            zh=lambda: (
                f"不在{'约定的' if agreed else '允许的'}联系时段 {start:%H:%M}-{end:%H:%M} 内，"
                f"或处于对方声明的不便时段（当地时区：{where}）"
            ),
            retry_at=_next_allowed(req, book, req.attempt.at),
        )
    ]
