"""``arrears calls``: a call's transcript and scorecard, polling the speech recogniser, the
stand-in telephony provider, and the calls demo."""

from __future__ import annotations

import json
import secrets
import time
from typing import Annotated

import typer

from arrears.cli.common import _app, _errors, _fail, app, out

calls_app = typer.Typer(help="Calls: dial, inspection (质检), the stand-in telephony provider.")
app.add_typer(calls_app, name="calls")


@calls_app.command("show")
def show(attempt_id: str) -> None:
    """A call: its progress, recording, transcript and scorecard (words in clear: for
    compliance)."""
    from arrears.service.conduct.inspection import call_record

    a = _app()
    with _errors():
        call = call_record(a, attempt_id)
    out.print(
        f"{call.attempt_id} · {call.channel} · loan {call.loan_id} · {call.collector_id or '-'} · "
        f"{call.dial_status or '-'} · {call.result or '-'} · {call.duration_seconds or 0} s"
    )
    out.print(f"recording: {call.recording_sha256 or 'none'}; transcript: {call.transcript_status}")
    for s in call.segments:
        out.print(f"  {s['start']:>6.1f}  {s['speaker']:<8} {s['text']}", highlight=False)
    if call.scorecard:
        out.print(json.dumps(call.scorecard, ensure_ascii=False, indent=2), highlight=False)


@calls_app.command("poll")
def poll() -> None:
    """Ask the speech recogniser about every transcript still waiting (polling providers)."""
    from arrears.service.conduct.inspection import poll as ask

    a = _app()
    with _errors():
        done = ask(a)
    for d in done:
        out.print(json.dumps(d, ensure_ascii=False, default=str), highlight=False)
    out.print(f"{len(done)} asked")


@calls_app.command("demo")
def demo(
    collector: Annotated[str, typer.Option(help="the collector's staff number")] = "C0007",
) -> None:
    """A collector's call through the stand-in dialer (loopback), inspected and scored, and a
    dial at night refused with its reason."""
    from arrears.generate.call_demo import run
    from arrears.web.app import create_app

    a = _app()
    with _errors():
        shown = run(a, a.settings.webhook_secret or secrets.token_hex(16), create_app, collector)
    for line in shown.lines:
        out.print(line, highlight=False)


@calls_app.command("standin")
def standin(
    port: Annotated[int, typer.Option(help="loopback port")] = 8790,
    pace: Annotated[float, typer.Option(help="seconds between a call's events")] = 0.5,
) -> None:
    """Run the stand-in dialer and speech recogniser on loopback (for a demo console): it
    signs its callbacks with ARREARS_WEBHOOK_SECRET. Nothing here recognises real speech."""
    from arrears.generate.standin import StandIn, persona_of

    a = _app()
    if not a.settings.webhook_secret:
        _fail("ARREARS_WEBHOOK_SECRET is not set: the stand-in signs its callbacks with it")
    phone = StandIn(a.settings.webhook_secret or "", persona=persona_of(a), pace=pace).start(port)
    out.print(f"stand-in dialer and recogniser on {phone.url} (Ctrl-C stops)")
    try:
        while True:
            time.sleep(1)
            for e in phone.errors:
                out.print(f"[red]{e}[/]")
            phone.errors.clear()
    except KeyboardInterrupt:
        phone.stop()
