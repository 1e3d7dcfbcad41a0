"""The console's "may I call now?" is the gate's answer. On generated histories (agents' calls
and automated calls with mixed results, messages, a hold, an agreed window, two timezones) the
state the account page shows is compared with the gate's decision for a request built here,
by hand, from the same generated rows: allowed or not, the first refusing rule, and the count of
connected calls against the day's cap (automated calls included)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, update

from arrears.bootstrap import App
from arrears.compliance import gate
from arrears.compliance.facts import CONNECTED, Attempt, Event, Person, Request
from arrears.compliance.rulebook import load
from arrears.service.outreach.call_state import call_state
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from tests.conftest import make_app
from tests.support.clock import Clock
from tests.support.files import two_borrower_files

DAY0 = datetime(2026, 2, 19, 0, 0, tzinfo=UTC)
ZONES = ("Asia/Shanghai", "Asia/Urumqi")
RESULTS = ("connected", "conversation", "no_answer", "busy", "voicemail")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Clock]]:
    folder: Path = tmp_path_factory.mktemp("call-state")
    clock = Clock(DAY0 + timedelta(hours=2))
    app = make_app(f"sqlite:///{folder / 'store.db'}")
    app.clock = clock
    upgrade(app.engine)
    ingest(app.engine, app.cipher, [two_borrower_files(folder / "in")], clock=clock)
    try:
        yield app, clock
    finally:
        app.engine.dispose()


contact = st.fixed_dictionaries(
    {
        "channel": st.sampled_from(("call", "robocall", "sms")),
        "ago": st.integers(1, 30 * 60),  # minutes before now: a history has no future
        "direction": st.sampled_from(("outbound", "outbound", "inbound")),
        "result": st.sampled_from(RESULTS),
        "role": st.sampled_from(("debtor", "debtor", "debtor", "emergency_contact")),
    }
)
history = st.fixed_dictionaries(
    {
        "contacts": st.lists(contact, max_size=8),
        "zone": st.sampled_from(ZONES),
        "window": st.sampled_from((None, "09:00-12:00", "13:30-20:00")),
        "hold": st.sampled_from((None, "dispute", "complaint")),
        "now": st.integers(0, 24 * 60 - 1),  # minutes after DAY0
    }
)


def _write(app: App, h: dict[str, Any], now: datetime) -> list[Event]:
    """Store the generated history for borrower B1; the events the gate sees for it."""
    ca, hd = t.contact_attempt, t.hold
    events = []
    with app.engine.begin() as conn:
        conn.execute(delete(ca).where(ca.c.borrower_id == "B1"))
        conn.execute(delete(hd).where(hd.c.borrower_id == "B1"))
        conn.execute(
            update(t.borrower)
            .where(t.borrower.c.borrower_id == "B1")
            .values(timezone=h["zone"], contact_window=h["window"])
        )
        for k, c in enumerate(h["contacts"]):
            at = now - timedelta(minutes=c["ago"])
            conn.execute(
                insert(ca).values(
                    attempt_id=f"gen-{k}",
                    borrower_id="B1",
                    loan_id="L1",
                    channel=c["channel"],
                    at=at,
                    direction=c["direction"],
                    role=c["role"],
                    result=c["result"],
                )
            )
            person = "B1" if c["role"] == "debtor" else f"B1/{c['role']}"
            events.append(
                Event(
                    kind=c["channel"],
                    at=at,
                    direction=c["direction"],
                    result=c["result"],
                    person_id=person,
                    debt_ids=("L1",),
                    role=c["role"],
                )
            )
        if h["hold"]:
            start = DAY0 - timedelta(days=1)
            conn.execute(
                insert(hd).values(
                    hold_id="gen-hold",
                    borrower_id="B1",
                    loan_id="L1",
                    kind=h["hold"],
                    starts_at=start,
                    created_by="test",
                    reason="generated",
                )
            )
            if h["hold"] == "dispute":  # a dispute on file is a written fact, not a pause
                events.append(Event(kind="dispute", at=start, debt_ids=("L1",), written=True))
            else:
                events.append(Event(kind="hold", at=start, hold=h["hold"], debt_ids=("L1",)))
    return events


def _window(text: str | None) -> tuple[time, time] | None:
    if not text:
        return None
    a, b = text.split("-")
    return time.fromisoformat(a), time.fromisoformat(b)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(h=history)
def test_the_console_says_what_the_gate_decides(
    store: tuple[App, Clock], h: dict[str, Any]
) -> None:
    app, clock = store
    now = DAY0 + timedelta(minutes=h["now"])
    events = _write(app, h, now)
    clock.at = now
    state = call_state(app, "L1", now)
    assert state is not None
    book = load("cn")
    req = Request(
        Attempt(channel="call", at=now, person_id="B1", debt_ids=("L1",)),
        Person(timezones=(h["zone"],), agreed_window=_window(h["window"])),
        tuple(events),
    )
    decision = gate.check(req, book)
    assert state.allowed == decision.allowed
    assert [v.rule for v in state.refusals] == [v.rule for v in decision.violations]
    zone = ZoneInfo(h["zone"])
    today = now.astimezone(zone).date()
    connected = sum(
        1
        for c in h["contacts"]
        if c["channel"] in ("call", "robocall")
        and c["direction"] == "outbound"
        and c["result"] in CONNECTED
        and c["role"] == "debtor"
        and (now - timedelta(minutes=c["ago"])).astimezone(zone).date() == today
    )
    assert state.connected == connected
    assert state.limit == book.frequency.connected_calls_per_person_per_day
    if state.allowed:
        assert state.until is not None and state.until > now
        # the gate still allows the call a minute before the stretch ends, and refuses it at
        # the end (unless the stretch runs to midnight)
        assert gate.check(req.at(state.until - timedelta(minutes=1)), book).allowed
        midnight = datetime.combine(today + timedelta(days=1), time(0), zone)
        if state.until < midnight:
            assert not gate.check(req.at(state.until), book).allowed
