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

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.compliance.facts import CALLS, CONNECTED
from arrears.compliance.rulebook import load as load_rulebook
from arrears.service.errors import Invalid
from arrears.store import tables as t
from arrears.store.db import as_utc

#: the longest period one report reads
MAX_DAYS = 92


@dataclass(frozen=True)
class FrequencyReport:
    since: date
    until: date
    #: the rulebook's limits the figures are judged against (None: the rulebook sets none)
    connected_limit: int | None
    dials_limit: int | None
    borrowers: list[dict[str, Any]]
    collectors: list[dict[str, Any]]


def contact_frequency(
    app: App, since: date, until: date, *, rulebook: str = "cn", limit: int = 200
) -> FrequencyReport:
    """The report for ``since``..``until`` (both included): the ``limit`` borrowers most
    contacted (those over a limit first) and every collector who called."""
    if until < since:
        raise Invalid(f"until: {until} is before since ({since})", field="until")
    if (until - since).days + 1 > MAX_DAYS:
        raise Invalid(f"since: at most {MAX_DAYS} days at once", field="since")
    freq = load_rulebook(rulebook).frequency
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
            b.c.timezone,
        )
        .join(b, b.c.borrower_id == ca.c.borrower_id, isouter=True)
        .where(ca.c.at >= start, ca.c.at < end)
    )
    people = _People()
    with app.engine.connect() as conn:
        for row in conn.execute(q):
            people.add(row, since, until, app.settings.business_timezone)
    limits = (freq.connected_calls_per_person_per_day, freq.dial_attempts_per_destination_per_day)
    return FrequencyReport(
        since,
        until,
        limits[0],
        limits[1],
        people.borrowers(*limits)[:limit],
        people.collectors(),
    )


class _People:
    """The period's attempts, counted by borrower and by collector."""

    def __init__(self) -> None:
        self.b: dict[str, Counter[str]] = defaultdict(Counter)
        self.connected_day: Counter[tuple[str, date]] = Counter()
        self.dials_day: Counter[tuple[str, str, date]] = Counter()
        self.c: dict[str, Counter[str]] = defaultdict(Counter)
        self.reached: dict[str, set[str]] = defaultdict(set)
        self.c_day: Counter[tuple[str, str, date]] = Counter()

    def add(self, row: Any, since: date, until: date, business_tz: str) -> None:
        try:
            zone = ZoneInfo(row.timezone or business_tz)
        except (ValueError, KeyError):
            zone = ZoneInfo(business_tz)
        day = as_utc(row.at).astimezone(zone).date()
        if not since <= day <= until:
            return
        bid, call = row.borrower_id, row.channel in CALLS
        connected = call and row.result in CONNECTED
        counts = self.b[bid]
        counts["contacts"] += 1
        counts["calls"] += call
        counts["connected"] += connected
        if connected:
            self.connected_day[(bid, day)] += 1
        if call and row.destination_hash:
            self.dials_day[(bid, row.destination_hash, day)] += 1
        if row.collector_id and row.channel == "call":
            c = self.c[row.collector_id]
            c["calls"] += 1
            c["connected"] += connected
            c["talk_seconds"] += int(row.duration_seconds or 0) if connected else 0
            c["breaches"] += bool(row.breach)
            if connected:
                self.reached[row.collector_id].add(bid)
                self.c_day[(row.collector_id, bid, day)] += 1

    def borrowers(
        self, connected_limit: int | None, dials_limit: int | None
    ) -> list[dict[str, Any]]:
        most_connected: Counter[str] = Counter()
        over: dict[str, set[date]] = defaultdict(set)
        for (bid, day), n in self.connected_day.items():
            most_connected[bid] = max(most_connected[bid], n)
            if connected_limit is not None and n > connected_limit:
                over[bid].add(day)
        most_dials: Counter[str] = Counter()
        for (bid, _, day), n in self.dials_day.items():
            most_dials[bid] = max(most_dials[bid], n)
            if dials_limit is not None and n > dials_limit:
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
