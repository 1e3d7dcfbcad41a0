"""A random schedule of attempts, each kept only when the gate allows it: the history it builds
never breaks a rule, checked by an independent count."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.compliance.facts import Attempt, Event, Person, Request
from arrears.compliance.gate import check
from arrears.compliance.rulebook import load

START = datetime(2026, 11, 1, tzinfo=UTC)
NUMBERS = ("138", "139")
RESULTS = ("busy", "not_in_service", "no_answer", "voicemail", "connected", "conversation")

steps = st.lists(
    st.tuples(
        st.integers(1, 180),  # minutes after the previous attempt
        st.sampled_from(NUMBERS),
        st.sampled_from(RESULTS),
        st.sampled_from(("D1", "D2")),
    ),
    min_size=1,
    max_size=120,
)


def run(book_id: str, tz: str, plan: list[tuple[int, str, str, str]]) -> list[Event]:
    book = load(book_id)
    person = Person(timezones=(tz,))
    history: list[Event] = []
    at = START
    for minutes, number, result, debt in plan:
        at += timedelta(minutes=minutes)
        att = Attempt("call", at, "B1", (debt,), "debtor", number)
        if check(Request(att, person, tuple(history)), book).allowed:
            history.append(Event("call", at, "outbound", result, "B1", (debt,), number, "debtor"))
    return history


@settings(max_examples=60, deadline=None)
@given(steps)
def test_cn_histories_built_by_the_gate_keep_every_rule(
    plan: list[tuple[int, str, str, str]],
) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    history = run("cn", "Asia/Shanghai", plan)
    connected: Counter[date] = Counter()
    dials: Counter[tuple[date, str | None]] = Counter()
    for e in history:
        local = e.at.astimezone(tz)
        assert 8 <= local.hour < 22
        day = local.date()
        dials[(day, e.destination)] += 1
        if e.result in ("connected", "conversation"):
            connected[day] += 1
    assert max(connected.values(), default=0) <= 3
    assert max(dials.values(), default=0) <= 6


@settings(max_examples=60, deadline=None)
@given(steps)
def test_us_histories_built_by_the_gate_keep_every_rule(
    plan: list[tuple[int, str, str, str]],
) -> None:
    tz = ZoneInfo("America/Chicago")
    history = run("us-regf", "America/Chicago", plan)
    for e in history:
        local = e.at.astimezone(tz)
        assert (8, 0) <= (local.hour, local.minute) <= (21, 0)
    for debt in ("D1", "D2"):
        mine = [e for e in history if debt in e.debt_ids]
        counted = [
            e.at.astimezone(tz).date() for e in mine if e.result not in ("busy", "not_in_service")
        ]
        for day in set(counted):
            window = [d for d in counted if day <= d <= day + timedelta(days=6)]
            assert len(window) <= 7
        for talk in (e for e in mine if e.result == "conversation"):
            first = talk.at.astimezone(tz).date()
            later = [
                e
                for e in mine
                if e.at > talk.at and e.at.astimezone(tz).date() <= first + timedelta(days=6)
            ]
            assert later == []


ZONES = (
    "Asia/Shanghai",
    "America/New_York",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Europe/London",
    "Asia/Kolkata",
    "America/Los_Angeles",
)


@settings(max_examples=25, deadline=None)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
    minute=st.integers(0, 60 * 24 * 365),
    book_id=st.sampled_from(["cn", "us-regf"]),
)
def test_earliest_allowed_at_is_the_first_allowed_minute(
    zones: list[str], minute: int, book_id: str
) -> None:
    """Against a brute-force scan minute by minute (across DST changes in the year)."""
    book = load(book_id)
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    person = Person(timezones=tuple(zones))
    req = Request(Attempt("call", at, "B1", ("D1",)), person)
    found = check(req, book).earliest_allowed_at
    probe = at
    for _ in range(3 * 24 * 60):
        if check(req.at(probe), book).allowed:
            break
        probe = probe.replace(second=0, microsecond=0) + timedelta(minutes=1)
    else:
        assert found is None
        return
    assert found == probe
