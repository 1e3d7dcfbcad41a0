"""The calls demo, in one process: arrears' API served on a loopback port (its webhooks), the
stand-in dialer and recogniser on another, and a collector's calls placed through the service
as the console places them.

1. At 10:30 in the borrower's own timezone a collector dials a planned call; their phone rings
   first, then the borrower's; the dialer's signed events fill the call; the recording is
   fetched, sealed and logged; the transcript comes back and is scored; a breach in it raises a
   QA alert with its time span (the stand-in speaks a script with a breach, so there is one to
   see).
2. At 23:30 in that borrower's own timezone another dial is refused, with the rule and when it
   becomes allowed (no contact 22:00-08:00 borrower local time: 23:30 in Shanghai is 21:30 in
   Urumqi, an hour a call to a borrower there is allowed).

The clock is moved to those instants for the demo only (the demo runs at any hour)."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from arrears.bootstrap import App
from arrears.generate.standin import StandIn, persona_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


@contextmanager
def served(api: Any) -> Iterator[str]:
    """An ASGI app on a free loopback port for the block; its base URL."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def providers_yaml(phone: str, api: str, base: str = "") -> str:
    """The providers file: ``base`` (a lender's own) with the stand-in's dialer and recogniser."""
    return (
        base.rstrip() + "\n" + f"agent_dialer: {{kind: http, url: '{phone}/bridges', "
        f"callback_url: '{api}/api/v1/webhooks/dialer'}}\n"
        + f"asr: {{kind: http, submit_url: '{phone}/asr/jobs', poll_url: '{phone}/asr/jobs', "
        f"callback_url: '{api}/api/v1/webhooks/asr'}}\n"
    ).lstrip()


@dataclass
class Shown:
    """What the demo did, for the command line to show."""

    lines: list[str] = field(default_factory=list)
    attempt_id: str | None = None
    alert_id: str | None = None

    def say(self, text: str) -> None:
        self.lines.append(text)


def _planned_call(app: App, phone: StandIn) -> tuple[str, str, ZoneInfo] | None:
    """A planned agent call of today whose borrower's phone answers: the loan, the action and
    the borrower's timezone."""
    from arrears.service.conduct.calls import _number
    from arrears.service.outreach.worklist import items
    from arrears.store import tables as t

    for queue in ("early_callback", "mid_calls", "late_calls"):
        for item in items(app, queue, app.today(), limit=200):
            with app.engine.begin() as conn:
                from sqlalchemy import select

                b = t.borrower
                borrower, zone = conn.execute(
                    select(b.c.borrower_id, b.c.timezone)
                    .join(t.loan, t.loan.c.borrower_id == b.c.borrower_id)
                    .where(t.loan.c.loan_id == item.loan_id)
                ).one()
                number = _number(app, conn, borrower)
            if number and number[-1] not in "09":
                return item.loan_id, item.action_id, ZoneInfo(zone)
    return None


def run(
    app: App, secret: str, make_api: Callable[[App, str], Any], collector: str = "C0007"
) -> Shown:
    """Dial, inspect and refuse, as the module says; what happened, line by line.
    ``make_api(app, secret)``: arrears' web application (its webhooks receive the dialer's)."""
    from arrears.service.conduct import alerts, calls, inspection
    from arrears.service.errors import ServiceError

    shown = Shown()
    real = app.clock
    day = real().astimezone(SHANGHAI).date()
    now = [datetime.combine(day, dtime(10, 30), SHANGHAI)]
    app.clock = lambda: now[0]
    phone = StandIn(secret, persona=persona_of(app), clock=app.clock, breaches=True)
    phone.start()
    try:
        with served(make_api(app, secret)) as api, tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "providers.yaml"
            base = app.settings.providers_file
            path.write_text(
                providers_yaml(phone.url, api, base.read_text("utf-8") if base else ""), "utf-8"
            )
            app.settings = app.settings.model_copy(update={"providers_file": path})
            found = _planned_call(app, phone)
            if found is None:
                shown.say("no planned agent call to an answering phone today")
                return shown
            loan, action, zone = found
            now[0] = datetime.combine(day, dtime(10, 30), zone)
            placed = calls.dial(app, loan, collector_id=collector, action_id=action)
            shown.attempt_id = placed.attempt_id
            shown.say(
                f"10:30 ({zone.key}) {collector} dials loan {loan} from the console: the "
                f"stand-in rang the collector's phone (seat {collector}) first, then the "
                f"borrower's {placed.number} (the collector sees only this)"
            )
            phone.drain()
            call = inspection.call_record(app, placed.attempt_id)
            shown.say(
                f"  the dialer reported: {call.dial_status}, {call.result}, "
                f"{call.duration_seconds} s; recording SHA-256 {str(call.recording_sha256)[:16]}… "
                "sealed and in the evidence log"
            )
            card = call.scorecard or {}
            shown.say(
                f"  transcript: {len(call.segments)} lines; scorecard {card.get('score')}"
                f"{' (flagged)' if card.get('flagged') else ''}"
            )
            for f in card.get("findings", []):
                shown.say(f"    {f['start']:.1f}–{f['end']:.1f} s  {f['zh']} · {f['en']}")
            qa = [a for a in alerts.alerts(app) if a["attempt_id"] == placed.attempt_id]
            if qa:
                shown.alert_id = qa[0]["alert_id"]
                shown.say(
                    f"  QA alert {qa[0]['alert_id'][:11]}… waits for compliance: "
                    f"/compliance/calls/{placed.attempt_id}"
                )
            calls.wrap_up(
                app,
                placed.attempt_id,
                collector_id=collector,
                result="conversation",
                note="borrower confirmed the amount; will pay on Friday",
            )
            other = _planned_call(app, phone)
            if other is not None:
                now[0] = datetime.combine(day, dtime(23, 30), other[2])
                at = f"23:30 ({other[2].key})"
                try:
                    calls.dial(app, other[0], collector_id=collector, action_id=other[1])
                    shown.say(f"{at} the night dial was placed (it should not have been)")
                except ServiceError as exc:
                    said = exc.said("zh-CN") if hasattr(exc, "said") else str(exc)
                    shown.say(f"{at} {collector} dials loan {other[0]}: refused")
                    shown.say(f"  {exc}")
                    shown.say(f"  {said}")
            if phone.errors:
                raise RuntimeError("; ".join(phone.errors))
    finally:
        phone.stop()
        app.clock = real
    return shown
