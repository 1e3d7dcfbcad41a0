"""frequency: how often a person or a number may be called.

cn: at most N connected (answered) calls per person per local day, creditor and agencies
together; at most M dial attempts per number per local day.
us-regf (12 CFR 1006.14(b)): per debt, a call is refused when 7 calls were already placed in the
7 consecutive days ending today, or within 7 days after a telephone conversation about that debt
(the conversation's day is day 1). Calls that did not connect (busy, not in service) are not
counted; voicemail and unanswered ringing are. Calls made with the consumer's prior consent,
inside the consent window, are neither counted nor limited. Inbound conversations count for the
second prong; a conversation about several debts counts for each.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from arrears.compliance.facts import CALLS, CONNECTED, Event, Request, Violation
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules.helpers import (
    about,
    day_zone,
    index,
    local_day,
    next_day_start,
    start_of_day,
)

NOT_CONNECTED = frozenset({"busy", "not_in_service"})


def _todays_calls(req: Request, book: Rulebook) -> list[Event]:
    """Calls and automated calls to anyone of the attempt's person's file in its local day."""
    a = req.attempt
    tz = day_zone(req, book)
    today = local_day(a.at, tz)
    since = a.at - timedelta(days=2)  # a local day is within two days of any instant in it
    ix = index(req)
    return [
        e
        for e in ix.since("call", since) + ix.since("robocall", since)
        if local_day(e.at, tz) == today
    ]


def _connected(todays: list[Event], person_id: str) -> list[Event]:
    return [
        e
        for e in todays
        if e.direction == "outbound" and e.result in CONNECTED and e.person_id in (None, person_id)
    ]


def connected_today(req: Request, book: Rulebook) -> int:
    """The connected calls (agents' and automated) to the attempt's person in its local day,
    as the cn limit counts them: what the console shows beside the limit."""
    return len(_connected(_todays_calls(req, book), req.attempt.person_id))


def _cn(req: Request, book: Rulebook) -> list[Violation]:
    f = book.frequency
    if (
        f.connected_calls_per_person_per_day is None
        and f.dial_attempts_per_destination_per_day is None
    ):
        return []
    a = req.attempt
    tz = day_zone(req, book)
    todays = _todays_calls(req, book)
    out = []
    limit = f.connected_calls_per_person_per_day
    if limit is not None:
        connected = _connected(todays, a.person_id)
        if len(connected) >= limit:
            out.append(
                Violation(
                    f"{book.id}.frequency.connected_calls_per_day",
                    f"{len(connected)} of {limit} connected calls to this person already today",
                    f"今日已接通该当事人电话 {len(connected)} 次，上限 {limit} 次（含委外机构）",
                    next_day_start(a.at, tz),
                )
            )
    limit = f.dial_attempts_per_destination_per_day
    if limit is not None and a.destination:
        dials = [e for e in todays if e.direction == "outbound" and e.destination == a.destination]
        if len(dials) >= limit:
            out.append(
                Violation(
                    f"{book.id}.frequency.dials_per_number_per_day",
                    f"{len(dials)} of {limit} dial attempts to this number already today",
                    f"今日已拨打该号码 {len(dials)} 次，上限 {limit} 次",
                    next_day_start(a.at, tz),
                )
            )
    return out


def _consented(consents: list[Event], at: datetime, debt_id: str) -> bool:
    return any(
        e.at <= at and (e.until is None or at <= e.until) and about(e, (debt_id,)) for e in consents
    )


def _us(req: Request, book: Rulebook) -> list[Violation]:
    f = book.frequency
    if f.calls_per_debt_in_7_days is None and f.quiet_days_after_conversation is None:
        return []
    a = req.attempt
    tz = day_zone(req, book)
    today = local_day(a.at, tz)
    # only the last days can count: 7 for the rolling window, the quiet period after a talk
    horizon = a.at - timedelta(days=max(8, (f.quiet_days_after_conversation or 0) + 1))
    ix = index(req)
    recent_calls = ix.since("call", horizon) + ix.since("robocall", horizon)
    consents = ix.of("consent_to_call")
    out = []
    for debt in a.debt_ids or ("",):
        if debt and _consented(consents, a.at, debt):
            continue
        calls = [
            e
            for e in recent_calls
            if e.direction == "outbound"
            and e.person_id in (None, a.person_id)
            and about(e, (debt,) if debt else ())
            and e.result not in NOT_CONNECTED
            and not (debt and consents and _consented(consents, e.at, debt))
        ]
        limit = f.calls_per_debt_in_7_days
        if limit is not None:
            days = sorted(local_day(e.at, tz) for e in calls)
            recent = [d for d in days if today - timedelta(days=6) <= d <= today]
            if len(recent) >= limit:
                out.append(
                    Violation(
                        f"{book.id}.frequency.seven_in_seven",
                        partial(_seven_en, len(recent), debt, limit),
                        partial(_seven_zh, len(recent), debt, limit),
                        _seven_day_retry(days, today, limit, tz),
                    )
                )
        quiet = f.quiet_days_after_conversation
        if quiet is not None:
            talks = [
                local_day(e.at, tz)
                for e in recent_calls
                if e.result == "conversation"
                and e.person_id in (None, a.person_id)
                and about(e, (debt,) if debt else ())
            ]
            last = max(talks, default=None)
            if last is not None and today <= last + timedelta(days=quiet - 1):
                out.append(
                    Violation(
                        f"{book.id}.frequency.after_conversation",
                        partial(_talk_en, debt, last, quiet),
                        partial(_talk_zh, debt, last, quiet),
                        start_of_day(last + timedelta(days=quiet), tz),
                    )
                )
    return out


def _seven_en(n: int, debt: str, limit: int) -> str:
    return f"{n} calls about debt {debt} in the 7 days ending today (limit {limit})"


def _seven_zh(n: int, debt: str, limit: int) -> str:
    return f"过去7天内已就债务 {debt} 致电 {n} 次（上限 {limit} 次）"


def _talk_en(debt: str, day: date, quiet: int) -> str:
    return f"a telephone conversation about debt {debt} on {day} (day 1 of {quiet})"


def _talk_zh(debt: str, day: date, quiet: int) -> str:
    return f"{day} 已就债务 {debt} 与当事人通话，{quiet} 天内不得再次致电（当天为第1天）"


def _seven_day_retry(days: list[date], today: date, limit: int, tz: ZoneInfo) -> datetime:
    day = today + timedelta(days=1)
    while sum(1 for d in days if day - timedelta(days=6) <= d <= day) >= limit:
        day += timedelta(days=1)
    return start_of_day(day, tz)


def check(req: Request, book: Rulebook) -> list[Violation]:
    if req.attempt.channel not in CALLS:
        return []
    return _cn(req, book) + _us(req, book)
