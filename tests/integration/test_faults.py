"""Faults injected while arrears writes, bounded and on loopback: ``arrears serve`` killed with
SIGKILL at random moments while call outcomes, approvals and payment notifications arrive;
``arrears cycle`` killed mid-write; the PostgreSQL server restarted under a running server and
dispatcher. Every write that was answered is in the store, nothing is there twice, and the
cycle's day is whole (its plan is the one a clean run makes). Each test records its figures
(faults injected, writes checked, lost, duplicated) as properties of the JUnit report."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.generate.portfolio import Options as GenOptions
from arrears.generate.portfolio import generate
from arrears.service.books.statements import statement_for_loan
from arrears.service.borrower import checkout
from arrears.service.cases.arrangements import propose
from arrears.service.daily.cycle import run_cycle
from arrears.service.staff.users import add_user, create_token
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from arrears.web.api.webhooks import signature
from tests.conftest import FIXED_NOW, make_app
from tests.support.servers import free_port

DAY = date(2026, 11, 23)
PASSWORD = "correct-horse-battery"
KILLS = 6


class Server:
    """``arrears serve`` as a process that can be killed and started again on its port."""

    def __init__(self, env: dict[str, str], at: datetime | None = None) -> None:
        self.env = env
        # with ``at``, the server's clock reads ``at`` when the test begins and runs on in real
        # time, across restarts (so the contacts are judged at a fixed local hour, whenever the
        # test runs)
        self.at = at
        self.began = time.monotonic()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        clock = [] if self.at is None else ["--at", self.now().isoformat()]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "arrears", "serve", "--port", str(self.port), *clock],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/login", timeout=2)
                return
            except httpx.HTTPError:
                assert time.monotonic() < deadline and self.proc.poll() is None, "no server"
                time.sleep(0.1)

    def now(self) -> datetime:
        """What the server's clock reads now."""
        if self.at is None:
            return datetime.now(UTC)
        return self.at + timedelta(seconds=time.monotonic() - self.began)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)


Settled = Callable[[httpx.Response], bool]


def _until_done(
    server: Server, call: Callable[[], httpx.Response], settled: Settled
) -> tuple[httpx.Response, int]:
    """Make ``call`` until it is answered and ``settled``; (the answer, how many tries)."""
    tries = 0
    while True:
        tries += 1
        try:
            r = call()
        except httpx.HTTPError:
            r = None
        if r is not None and settled(r):
            return r, tries
        assert tries < 200, (
            "never settled",
            None if r is None else (r.status_code, r.headers, r.text[:300]),
        )
        if server.proc is not None and server.proc.poll() is not None:
            server.start()  # it was killed: bring it back, as a supervisor process would
        time.sleep(0.05)


def _store(tmp_path: Path) -> tuple[App, str]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    app = make_app(url)
    upgrade(app.engine)
    generate(tmp_path / "gen", GenOptions(loans=400, seed=31, as_of=DAY))
    ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    run_cycle(app, DAY, strategy=load("default"))
    return app, url


def test_serve_killed_during_writes_loses_and_duplicates_nothing(
    tmp_path: Path, record_property: Any
) -> None:
    app, url = _store(tmp_path)
    add_user(app, username="bo", password=PASSWORD, role="supervisor")
    bearer = create_token(app, "bank", ["read", "write"])
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        called = conn.execute(
            select(pa_.c.action_id, pa_.c.loan_id)
            .where(pa_.c.channel == "agent_call", pa_.c.status == "planned")
            .order_by(pa_.c.action_id)
            .limit(15)
        ).all()
        calls = [r.action_id for r in called]
        # the waivers and payments go to other loans: either may cancel a loan's planned calls
        loans = [
            x
            for x in conn.execute(select(t.loan.c.loan_id).order_by(t.loan.c.loan_id)).scalars()
            if x not in {r.loan_id for r in called}
        ]
    owed = {x: statement_for_loan(app, x, DAY) for x in loans}
    late = [x for x in loans if owed[x]["overdue"]["penalty"] > 10]
    proposals = [
        propose(
            app,
            x,
            "waiver",
            {"penalty": owed[x]["overdue"]["penalty"]},
            by="chen",
            role="collector",
            reason="hardship",
        ).arrangement_id
        for x in late[:15]
    ]
    payers = [x for x in loans if owed[x]["total_due"] > 500 and x not in late[:15]][:15]
    orders = [checkout.start_order(app, x, 500, "sandbox").order_id for x in payers]
    assert len(calls) >= 10 and len(proposals) >= 10 and len(orders) >= 10
    secret = app.settings.checkout_secret
    app.engine.dispose()

    env = {**os.environ, "ARREARS_DATABASE_URL": url, "ARREARS_ENV": "test"}
    server = Server(env, at=FIXED_NOW)  # 10:00 in Shanghai: the calls may be made
    server.start()
    try:
        kills, acknowledged, tries, work = _kill_during_writes(
            server, bearer, secret, calls, proposals, orders
        )
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill(signal.SIGTERM)
    _check_nothing_lost(
        url, calls, proposals, orders, kills, acknowledged, tries, len(work), record_property
    )


def _kill_during_writes(
    server: Server,
    bearer: str,
    secret: str,
    calls: list[str],
    proposals: list[str],
    orders: list[str],
) -> tuple[int, int, int, list[Any]]:
    rng = random.Random(20261202)
    kills, acknowledged, tries = 0, 0, 0
    with httpx.Client(base_url=server.base, timeout=30) as c:
        page = c.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        c.post("/login", data={"username": "bo", "password": PASSWORD, "csrf": token})
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/approvals").text).group(1)  # type: ignore[union-attr]
        work: list[tuple[str, Callable[[], httpx.Response], Callable[[httpx.Response], bool]]]
        work = []
        for action in calls:
            work.append(
                (
                    "outcome",
                    lambda a=action: httpx.post(
                        f"{server.base}/api/v1/actions/{a}/outcome",
                        timeout=30,
                        headers={"Authorization": f"Bearer {bearer}"},
                        json={"collector_id": "C0007", "result": "no_answer"},
                    ),
                    lambda r: (
                        r.status_code == 201
                        or (
                            r.status_code == 422
                            and ("already done" in r.text or "already worked" in r.text)
                        )
                    ),
                )
            )
        for pid in proposals:
            work.append(
                (
                    "approval",
                    lambda p=pid: c.post(f"/approvals/{p}/approve", data={"csrf": csrf}),
                    lambda r: (
                        r.status_code == 303
                        and (
                            "saved" in r.headers["location"]
                            or "not%20waiting" in r.headers["location"]
                            or "not waiting" in r.headers["location"]
                        )
                    ),
                )
            )
        for oid in orders:

            def notify(o: str = oid) -> httpx.Response:
                raw = json.dumps({"order_id": o, "status": "paid", "amount": 500}).encode()
                stamp = str(int(server.now().timestamp()))  # the server's clock
                return httpx.post(
                    f"{server.base}/portal/pay/notify",
                    content=raw,
                    timeout=30,
                    headers={
                        "X-Arrears-Timestamp": stamp,
                        "X-Arrears-Signature": signature(secret, stamp, raw),
                        "Content-Type": "application/json",
                    },
                )

            work.append(("notify", notify, lambda r: r.status_code == 200))
        rng.shuffle(work)
        kill_at = sorted(rng.sample(range(3, len(work) - 3), KILLS))
        for k, (_, call, settled) in enumerate(work):
            if kills < KILLS and k == kill_at[kills]:
                # a kill lands while a write is in flight: a request is sent, then the process
                # dies a few milliseconds later, before or after it committed
                try:
                    httpx.post(f"{server.base}/portal/pay/notify", content=b"{}", timeout=0.001)
                except httpx.HTTPError:
                    pass
                time.sleep(rng.random() * 0.05)
                server.kill()
                kills += 1
            _, n = _until_done(server, call, settled)
            acknowledged += 1
            tries += n
    return kills, acknowledged, tries, work


def _check_nothing_lost(
    url: str,
    calls: list[str],
    proposals: list[str],
    orders: list[str],
    kills: int,
    acknowledged: int,
    tries: int,
    writes: int,
    record_property: Any,
) -> None:
    check = make_app(url)  # another process's view: a new engine on the file
    with check.engine.connect() as conn:
        worked = conn.execute(
            select(t.contact_attempt.c.action_id, func.count())
            .where(t.contact_attempt.c.action_id.in_(calls))
            .group_by(t.contact_attempt.c.action_id)
        ).all()
        approved = conn.execute(
            select(t.arrangement.c.status).where(t.arrangement.c.arrangement_id.in_(proposals))
        ).all()
        audit = conn.execute(
            select(func.count()).where(t.audit_log.c.kind == "arrangement_approved")
        ).scalar()
        paid = conn.execute(
            select(t.payment.c.payment_id, func.count())
            .where(t.payment.c.payment_id.in_([f"pay-{o}" for o in orders]))
            .group_by(t.payment.c.payment_id)
        ).all()
    check.engine.dispose()
    lost = (
        (len(calls) - len(worked))
        + sum(s != "active" for (s,) in approved)
        + (len(orders) - len(paid))
        + (len(proposals) - (audit or 0))
    )
    duplicated = (
        sum(n - 1 for _, n in worked)
        + sum(n - 1 for _, n in paid)
        + max(0, (audit or 0) - len(proposals))
    )
    for name, value in (
        ("faults_injected", kills),
        ("writes_checked", acknowledged),
        ("requests_sent", tries),
        ("lost", lost),
        ("duplicated", duplicated),
    ):
        record_property(name, value)
    assert kills == KILLS and acknowledged == writes
    assert (lost, duplicated) == (0, 0)


def _plan_digest(app: App, day: date) -> tuple[int, str]:
    with app.engine.connect() as conn:
        row = conn.execute(
            select(t.cycle_run.c.run_id, t.cycle_run.c.plan_digest)
            .where(t.cycle_run.c.business_date == day)
            .order_by(t.cycle_run.c.run_id.desc())
            .limit(1)
        ).one()
    return int(row.run_id), str(row.plan_digest)


def test_cycle_killed_mid_write_leaves_the_day_whole(tmp_path: Path, record_property: Any) -> None:
    """``arrears cycle`` SIGKILLed at random moments (reading, deciding, writing) and run again:
    the day ends with the plan a clean run makes, and the run chain verifies."""
    clean = make_app(f"sqlite:///{tmp_path / 'clean.db'}")
    upgrade(clean.engine)
    generate(tmp_path / "gen", GenOptions(loans=3000, seed=5, as_of=DAY))
    ingest(clean.engine, clean.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    run_cycle(clean, DAY, strategy=load("default"))
    _, want = _plan_digest(clean, DAY)
    clean.engine.dispose()

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    killed = make_app(url)
    upgrade(killed.engine)
    ingest(killed.engine, killed.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    killed.engine.dispose()
    env = {**os.environ, "ARREARS_DATABASE_URL": url, "ARREARS_ENV": "test"}
    cmd = [sys.executable, "-m", "arrears", "cycle", "--as-of", DAY.isoformat()]
    started = time.monotonic()
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    whole = time.monotonic() - started  # how long a run takes here: kills land inside it
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 0.95) * whole)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    verified = subprocess.run(
        [sys.executable, "-m", "arrears", "runs", "--verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    check = make_app(url)
    _, got = _plan_digest(check, DAY)
    with check.engine.connect() as conn:
        actions = conn.execute(
            select(func.count())
            .select_from(t.plan_action)
            .where(t.plan_action.c.business_date == DAY)
        ).scalar()
    check.engine.dispose()
    record_property("faults_injected", kills)
    record_property("writes_checked", actions)
    assert kills >= 2, "the kills landed after the runs had finished"
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert got == want  # the same plan as a run that was never interrupted


@pytest.mark.postgres
def test_postgres_restarted_under_the_server_and_the_dispatcher(
    tmp_path: Path, record_property: Any
) -> None:
    """The database goes away and comes back while ``arrears serve`` answers and ``arrears
    dispatch --follow`` sends: both reconnect and carry on; every planned message goes out
    once, and payments posted through the API before and after are there once."""
    from tests.support.pg import PgServer
    from tests.support.servers import Gateway

    pg = PgServer()
    admin = pg.start()
    try:
        url = admin
        app = make_app(url)
        upgrade(app.engine)
        generate(tmp_path / "gen", GenOptions(loans=600, seed=12, as_of=DAY))
        ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
        run_cycle(app, DAY, strategy=load("default"))
        bearer = create_token(app, "bank", ["read", "write"])
        pa_ = t.plan_action
        with app.engine.connect() as conn:
            sms = conn.execute(
                select(func.count()).where(
                    pa_.c.channel == "sms",
                    pa_.c.status == "planned",
                    pa_.c.window_start <= FIXED_NOW + timedelta(hours=1),
                )
            ).scalar()
            loans = (
                conn.execute(select(t.loan.c.loan_id).order_by(t.loan.c.loan_id)).scalars().all()
            )
        payers = [x for x in loans if statement_for_loan(app, x, DAY)["total_due"] > 300][:20]
        app.engine.dispose()
        assert sms and sms >= 10 and len(payers) == 20
        gw = Gateway(delay=0.5).start()  # slow: the restart lands while messages go out
        providers = tmp_path / "providers.yaml"
        providers.write_text(
            json.dumps({"sms": {"kind": "http", "url": gw.url, "rate_per_second": 10000}})
        )
        env = {
            **os.environ,
            "ARREARS_DATABASE_URL": url,
            "ARREARS_ENV": "test",
            "ARREARS_PROVIDERS_FILE": str(providers),
        }
        server = Server(env)
        server.start()
        at = (FIXED_NOW + timedelta(hours=1)).isoformat()
        dispatcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "arrears",
                "dispatch",
                "--channel",
                "sms",
                "--follow",
                "--at",
                at,
                "--batch",
                "5",
                "--backoff-seconds",
                "1",
                "--worker",
                "w1",
                "--lease-seconds",
                "5",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        answered, at_restart = 0, 0
        try:
            for k, loan in enumerate(payers):
                if k == 3:  # the database restarts mid-way (a fast shutdown, then up again)
                    while not gw.accepted:  # the dispatcher is at work
                        time.sleep(0.05)
                    at_restart = len(gw.accepted)
                    pg._run(
                        str(pg.bindir / "pg_ctl"),
                        "-D",
                        str(pg.data),
                        "-m",
                        "fast",
                        "-w",
                        "-l",
                        str(pg.base / "server.log"),
                        "restart",
                    )
                body = {"loan_id": loan, "amount": 300, "payment_id": f"P-RESTART-{k}"}
                r, _ = _until_done(
                    server,
                    lambda b=body: httpx.post(
                        f"{server.base}/api/v1/payments",
                        json=b,
                        timeout=30,
                        headers={"Authorization": f"Bearer {bearer}"},
                    ),
                    lambda r: r.status_code == 201 or "posted already" in r.text,
                )
                answered += 1
            deadline = time.monotonic() + 120
            while len(gw.accepted) < sms and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            dispatcher.send_signal(signal.SIGTERM)
            dispatcher.wait(timeout=30)
            server.kill(signal.SIGTERM)
            gw.stop()
        check = make_app(url)
        with check.engine.connect() as conn:
            posted = conn.execute(
                select(t.payment.c.payment_id, func.count())
                .where(t.payment.c.payment_id.like("P-RESTART-%"))
                .group_by(t.payment.c.payment_id)
            ).all()
            sent = conn.execute(
                select(func.count())
                .select_from(t.outbox_message)
                .where(t.outbox_message.c.channel == "sms")
            ).scalar()
        check.engine.dispose()
        offered = sum(1 for r in gw.requests)
        record_property("faults_injected", 1)
        record_property("writes_checked", answered + sms)
        lost = (len(payers) - len(posted)) + (sms - len(gw.accepted))
        duplicated = sum(n - 1 for _, n in posted) + max(0, (sent or 0) - sms)
        record_property("lost", lost)
        record_property("duplicated", duplicated)
        assert 0 < at_restart < sms, "the restart landed while the dispatcher was sending"
        assert offered >= len(gw.accepted)
        assert (lost, duplicated) == (0, 0), (len(posted), len(gw.accepted), sms, sent)
    finally:
        pg.stop()
