"""Exactly once, under SIGKILL: two dispatcher processes share a PostgreSQL store and are killed
at random moments while they work (at least 50 kills), replaced each time, and finally the
``arrears dispatch`` command finishes what is left. (The processes are forked from the test,
so a new one starts in milliseconds, not the seconds an interpreter takes to import: the kills
land while work is in flight, not during start-up.)

Then every planned message has gone out: the gateway holds each SMS and push once, and every
repeat it was offered carried the same words and code under the same key; the outbox holds each
letter and robocall once; every email arrived with one Message-ID and one text; and the store
holds one contact attempt and one verification code per message."""

from __future__ import annotations

import email
import email.policy
import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from arrears.bootstrap import bootstrap
from arrears.channels.profiles import build, read
from arrears.generate.portfolio import Options as GenOptions
from arrears.generate.portfolio import generate
from arrears.service.daily.cycle import run_cycle
from arrears.service.outreach.dispatch import dispatch
from arrears.service.outreach.state import Options
from arrears.service.outreach.verify import verify
from arrears.settings import Env, Settings
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from tests.conftest import FIXED_NOW, _pg_database, make_app
from tests.support.servers import Gateway, SmtpServer

DAY = date(2026, 11, 23)
KILLS = 50
LEASE = 2.0
CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}")


#: every dispatcher's clock reads FIXED_NOW at this real instant and runs on from it (one time
#: for all, or one process's leases would look fresh or stale to another)
T0 = datetime.now(UTC)


def _now() -> datetime:
    return FIXED_NOW + (datetime.now(UTC) - T0)


def _cli(env: dict[str, str], worker: str, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "arrears",
        "dispatch",
        "--at",
        _now().isoformat(),
        "--lease-seconds",
        str(LEASE),
        "--batch",
        "2",
        "--senders",
        "2",
        "--backoff-seconds",
        "1",
        "--worker",
        worker,
    ]
    with open(log, "ab") as f:
        return subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)


def _dispatcher(parent: Any, url: str, providers: Path, outbox: Path, worker: str) -> None:
    """A dispatcher process's life (forked): its own engine and adapters, then work."""
    parent.dispose(close=False)  # the test's pooled connections are the test's, not ours
    settings = Settings(env=Env.TEST, database_url=url, providers_file=providers, outbox_dir=outbox)
    app = bootstrap(settings, clock=_now)
    chans = build(read(providers), outbox, files=True)
    dispatch(
        app,
        chans,
        Options(worker=worker, batch=2, senders=2, lease_seconds=LEASE, backoff_seconds=1),
    )
    os._exit(0)


def _fork(parent: Any, url: str, providers: Path, outbox: Path, worker: str) -> Any:
    p = multiprocessing.get_context("fork").Process(
        target=_dispatcher, args=(parent, url, providers, outbox, worker), daemon=True
    )
    p.start()
    return p


def _working(app: Any, worker: str, p: Any, limit: float = 20.0) -> bool:
    """Wait until ``worker`` holds a lease (it is working) or has ended."""
    pa_ = t.plan_action
    end = time.monotonic() + limit
    while time.monotonic() < end and p.is_alive():
        with app.engine.connect() as conn:
            held = conn.execute(
                select(func.count()).select_from(pa_).where(pa_.c.lease_owner == worker)
            ).scalar()
        if held:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.postgres
def test_sigkill_at_random_moments_leaves_every_message_sent_once(
    pg_admin_url: str, tmp_path: Path, record_property: Any
) -> None:
    url = _pg_database(pg_admin_url)
    app = make_app(url)
    upgrade(app.engine)
    generate(tmp_path / "gen", GenOptions(loans=6000, seed=21, as_of=DAY))
    ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    run_cycle(app, DAY, strategy=load("default"))
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        planned = {
            r.action_id: r.channel
            for r in conn.execute(
                select(pa_.c.action_id, pa_.c.channel).where(
                    pa_.c.status == "planned",
                    pa_.c.channel.in_(("sms", "push", "email", "letter", "robocall")),
                    pa_.c.window_start <= FIXED_NOW,  # open now (and for the next hours)
                    pa_.c.window_end > FIXED_NOW + timedelta(hours=1),
                )
            )
        }
    assert len(planned) > 150 and {"sms", "push"} <= set(planned.values())

    gw = Gateway(delay=0.25).start()  # a slow provider: kills land mid-send too
    smtp = SmtpServer(tmp_path, "starttls").start()
    providers = tmp_path / "providers.yaml"
    providers.write_text(
        json.dumps(
            {
                "sms": {"kind": "http", "url": gw.url, "rate_per_second": 10000},
                "push": {
                    "kind": "http",
                    "url": gw.url.replace("/send", "/push"),
                    "rate_per_second": 10000,
                },
                "email": {
                    "kind": "smtp",
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "security": "starttls",
                    "cafile": str(smtp.cert),
                    "rate_per_second": 10000,
                },
            }
        )
    )
    env = {
        **os.environ,
        "ARREARS_DATABASE_URL": url,
        "ARREARS_PROVIDERS_FILE": str(providers),
        "ARREARS_OUTBOX_DIR": str(tmp_path / "outbox"),
        "ARREARS_OUTBOX_FILES": "1",
        "ARREARS_ENV": "test",
    }
    log = tmp_path / "dispatch.log"
    outbox = tmp_path / "outbox"
    rng = random.Random(20261130)
    kills, born, idle = 0, 0, 0
    procs: dict[int, tuple[str, Any]] = {}
    try:
        for slot in (0, 1):
            procs[slot] = (f"w{born}", _fork(app.engine, url, providers, outbox, f"w{born}"))
            born += 1
        deadline = time.monotonic() + 300
        while kills < KILLS and time.monotonic() < deadline:
            slot = rng.randrange(2)
            name, p = procs[slot]
            working = _working(app, name, p)
            if working:
                time.sleep(rng.uniform(0.0, 0.25))
            else:
                idle += 1  # it found nothing to do, or did not start working in time
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                kills += working
            p.join()
            procs[slot] = (f"w{born}", _fork(app.engine, url, providers, outbox, f"w{born}"))
            born += 1
        for _, p in procs.values():
            p.join(timeout=300)
        time.sleep(LEASE + 0.5)  # the last victims' leases run out; the command finishes
        last = _cli(env, "final", log)
        assert last.wait(timeout=300) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        for _, p in procs.values():
            if p.is_alive():
                p.kill()
                p.join()
        gw.stop()
        smtp.stop()
    assert kills >= KILLS, f"only {kills} kills landed while a dispatcher worked ({idle} idle)"

    with app.engine.connect() as conn:
        rows = conn.execute(
            select(pa_.c.action_id, pa_.c.channel, pa_.c.status, pa_.c.attempt_id).where(
                pa_.c.action_id.in_(list(planned))
            )
        ).all()
        attempts = conn.execute(
            select(t.contact_attempt.c.action_id, t.contact_attempt.c.attempt_id).where(
                t.contact_attempt.c.action_id.in_(list(planned))
            )
        ).all()
        codes_per_attempt = dict(
            conn.execute(
                select(t.verification_code.c.attempt_id, func.count()).group_by(
                    t.verification_code.c.attempt_id
                )
            ).all()
        )
    status = {r.action_id: r.status for r in rows}
    assert set(status.values()) <= {"sent", "cancelled", "parked"}, status
    sent = {a for a, s in status.items() if s == "sent"}
    assert len(sent) > 120
    _one_attempt_and_code_each(sent, attempts, codes_per_attempt)
    repeats = _gateway_once(gw, {a for a in sent if planned[a] in ("sms", "push")})
    _outbox_once(tmp_path / "outbox", {a: planned[a] for a in sent})
    _mail_once(smtp, {a for a in sent if planned[a] == "email"})
    record_property(
        "dispatch_kills",
        f"{kills} kills, {born} processes, {len(sent)} sent, "
        f"{repeats} repeats dropped by the gateway's key",
    )
    # the code a borrower received verifies
    for key in sorted(gw.accepted)[:5]:
        found = CODE.search(json.dumps(gw.accepted[key], ensure_ascii=False))
        assert found is not None
        verdict = verify(app, found.group())
        assert verdict.genuine and verdict.details is not None
    app.engine.dispose()


def _one_attempt_and_code_each(sent: set[str], attempts: Any, codes: dict[str, int]) -> None:
    """One contact attempt per message that went out (none for the rest), one code each."""
    by_action: dict[str, list[str]] = defaultdict(list)
    for a in attempts:
        by_action[a.action_id].append(a.attempt_id)
    assert all(len(v) == 1 for v in by_action.values())
    assert sent <= set(by_action)
    assert all(codes.get(by_action[a][0]) == 1 for a in sent)


def _gateway_once(gw: Gateway, sent: set[str]) -> int:
    """Each SMS and push accepted once; every repeat carried the same words and code."""
    assert set(gw.accepted) == sent
    offered: dict[str, set[str]] = defaultdict(set)
    for r in gw.requests:
        offered[r["headers"].get("Idempotency-Key")].add(
            json.dumps(r["body"], sort_keys=True, ensure_ascii=False)
        )
    differ = {k: sorted(v) for k, v in offered.items() if len(v) != 1}
    assert not differ, f"a key offered with different payloads: {differ}"
    return len(gw.requests) - len(gw.accepted)


def _outbox_once(folder: Path, sent: dict[str, str]) -> None:
    """One file per letter and robocall."""
    keys = [
        json.loads(f.read_text())["idempotency_key"]
        for ch in ("letter", "robocall")
        for f in (folder / ch).rglob("*.json")
    ]
    assert sorted(keys) == sorted(a for a, ch in sent.items() if ch in ("letter", "robocall"))


def _mail_once(smtp: SmtpServer, sent: set[str]) -> None:
    """Every email arrived; copies (a kill between SMTP's answer and our record) share the
    Message-ID and the words, so the mailbox shows one message."""
    mails: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for m in smtp.box.messages:
        parsed = email.message_from_bytes(m["data"], policy=email.policy.default)
        text = next(p for p in parsed.walk() if p.get_content_type() == "text/plain")
        mails[str(parsed["X-Idempotency-Key"])].add(
            (str(parsed["Message-ID"]), str(text.get_payload(decode=True)))
        )
    assert set(mails) == sent
    assert all(len(v) == 1 for v in mails.values())
