"""How often people were contacted, for compliance: per borrower (contacts, calls, connected
calls, the most connected calls on one of the borrower's own days and the most dials to one
number on one day, against the rulebook's limits) and per collector (calls, connected calls,
talk time, borrowers reached, the most connected calls to one borrower on one day, breaches).

Days are the borrower's local days (the rules count them so); the rows are the period's contact
attempts, lender's and agencies' together."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.compliance.facts import CALLS, CONNECTED
from arrears.compliance.rulebook import load as load_rulebook
from arrears.service.errors import Invalid
from arrears.store import tables as t
from arrears.store.db import as_utc

#: the longest period one report reads
MAX_DAYS = 92


@dataclass(frozen=True)
class Limits:
    """A rulebook's daily limits (None: it sets none) and the zone for an unknown one."""

    connected: int | None
    dials: int | None
    zone: str


@dataclass(frozen=True)
class FrequencyReport:
    since: date
    until: date
    #: the limits each borrower is judged against, by rulebook (that of the borrower's loans)
    limits: dict[str, Limits]
    borrowers: list[dict[str, Any]]
    #: how many borrowers were contacted (``borrowers`` may hold only the first of them)
    borrowers_total: int
    collectors: list[dict[str, Any]]


def contact_frequency(
    app: App, since: date, until: date, *, limit: int | None = 200
) -> FrequencyReport:
    """The report for ``since``..``until`` (both included): the ``limit`` borrowers most
    contacted (those over a limit first; all of them with None) and every collector who
    called. As the rules count them: outbound calls to the borrower, by the rulebook of the
    borrower's loans."""
    if until < since:
        raise Invalid(f"until: {until} is before since ({since})", field="until")
    if (until - since).days + 1 > MAX_DAYS:
        raise Invalid(f"since: at most {MAX_DAYS} days at once", field="since")
    ca, b = t.contact_attempt, t.borrower
    start = datetime.combine(since - timedelta(days=1), time(0), UTC)
    end = datetime.combine(until + timedelta(days=2), time(0), UTC)
    q = (
        select(
            ca.c.borrower_id,
            ca.c.collector_id,
            ca.c.channel,
            ca.c.at,
            ca.c.result,
            ca.c.destination_hash,
            ca.c.duration_seconds,
            ca.c.breach,
            ca.c.direction,
            ca.c.role,
            b.c.timezone,
        )
        .join(b, b.c.borrower_id == ca.c.borrower_id, isouter=True)
        .where(ca.c.at >= start, ca.c.at < end)
    )
    with app.engine.connect() as conn:
        books = dict(
            conn.execute(
                select(t.loan.c.borrower_id, func.min(t.portfolio.c.rulebook))
                .join(t.portfolio, t.portfolio.c.portfolio_id == t.loan.c.portfolio_id)
                .group_by(t.loan.c.borrower_id)
            ).all()
        )
        limits = {
            name: Limits(
                book.frequency.connected_calls_per_person_per_day,
                book.frequency.dial_attempts_per_destination_per_day,
                book.default_timezone,
            )
            for name in sorted(set(books.values()) | {"cn"})
            for book in [load_rulebook(name)]
        }
        people = _People(books, limits)
        for row in conn.execute(q):
            people.add(row, since, until)
    everyone = people.borrowers()
    return FrequencyReport(
        since,
        until,
        {k: v for k, v in limits.items() if k in set(books.values())} or limits,
        everyone if limit is None else everyone[:limit],
        len(everyone),
        people.collectors(),
    )


class _People:
    """The period's attempts, counted by borrower and by collector."""

    def __init__(self, books: dict[str, str], limits: dict[str, Limits]) -> None:
        self.books, self.limits = books, limits
        self.b: dict[str, Counter[str]] = defaultdict(Counter)
        self.connected_day: Counter[tuple[str, date]] = Counter()
        self.dials_day: Counter[tuple[str, str, date]] = Counter()
        self.c: dict[str, Counter[str]] = defaultdict(Counter)
        self.reached: dict[str, set[str]] = defaultdict(set)
        self.c_day: Counter[tuple[str, str, date]] = Counter()

    def limits_of(self, borrower_id: str) -> Limits:
        return self.limits[self.books.get(borrower_id, "cn")]

    def add(self, row: Any, since: date, until: date) -> None:
        fallback = self.limits_of(row.borrower_id).zone  # the rulebook's, as the gate does
        try:
            zone = ZoneInfo(row.timezone or fallback)
        except (ValueError, KeyError):
            zone = ZoneInfo(fallback)
        day = as_utc(row.at).astimezone(zone).date()
        if not since <= day <= until or row.direction != "outbound":
            return
        bid = row.borrower_id
        # the limits count calls to the borrower: not to a guarantor or an emergency contact
        call = row.channel in CALLS and row.role == "debtor"
        connected = call and row.result in CONNECTED
        counts = self.b[bid]
        counts["contacts"] += 1
        counts["calls"] += call
        counts["connected"] += connected
        if connected:
            self.connected_day[(bid, day)] += 1
        if call and row.destination_hash:
            self.dials_day[(bid, row.destination_hash, day)] += 1
        if row.collector_id and row.channel == "call":  # whoever they called
            answered = row.result in CONNECTED
            c = self.c[row.collector_id]
            c["calls"] += 1
            c["connected"] += answered
            c["talk_seconds"] += int(row.duration_seconds or 0) if answered else 0
            c["breaches"] += bool(row.breach)
            if connected:  # the borrower reached
                self.reached[row.collector_id].add(bid)
                self.c_day[(row.collector_id, bid, day)] += 1

    def borrowers(self) -> list[dict[str, Any]]:
        most_connected: Counter[str] = Counter()
        over: dict[str, set[date]] = defaultdict(set)
        for (bid, day), n in self.connected_day.items():
            most_connected[bid] = max(most_connected[bid], n)
            top = self.limits_of(bid).connected
            if top is not None and n > top:
                over[bid].add(day)
        most_dials: Counter[str] = Counter()
        for (bid, _, day), n in self.dials_day.items():
            most_dials[bid] = max(most_dials[bid], n)
            top = self.limits_of(bid).dials
            if top is not None and n > top:
                over[bid].add(day)
        rows: list[dict[str, Any]] = [
            {
                "borrower_id": bid,
                "contacts": c["contacts"],
                "calls": c["calls"],
                "connected": c["connected"],
                "most_connected_in_a_day": most_connected[bid],
                "most_dials_to_a_number_in_a_day": most_dials[bid],
                "days_over_a_limit": len(over[bid]),
            }
            for bid, c in self.b.items()
        ]
        rows.sort(
            key=lambda r: (
                -int(r["days_over_a_limit"]),
                -int(r["most_connected_in_a_day"]),
                -int(r["contacts"]),
                str(r["borrower_id"]),
            )
        )
        return rows

    def collectors(self) -> list[dict[str, Any]]:
        most: Counter[str] = Counter()
        for (cid, _, _), n in self.c_day.items():
            most[cid] = max(most[cid], n)
        rows: list[dict[str, Any]] = [
            {
                "collector_id": cid,
                "calls": c["calls"],
                "connected": c["connected"],
                "talk_minutes": round(c["talk_seconds"] / 60, 1),
                "borrowers_reached": len(self.reached[cid]),
                "most_connected_to_a_borrower_in_a_day": most[cid],
                "breaches": c["breaches"],
            }
            for cid, c in self.c.items()
        ]
        rows.sort(key=lambda r: (-int(r["calls"]), str(r["collector_id"])))
        return rows
