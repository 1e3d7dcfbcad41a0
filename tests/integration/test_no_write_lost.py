"""Nothing committed is ever lost: an ``arrears serve`` process on a SQLite store takes a
whole-store snapshot (the console's strategy dry-run diff), then writes through the console and
the API (a strategy version, an approval, a payment), and is stopped with SIGTERM or killed
with SIGKILL. Every write it answered for is then in the store, read from another process.

(The snapshot once opened the database through ADBC's own SQLite library in the server
process; the two libraries do not share POSIX locks, the write-ahead log was deleted under the
server's connections and the writes after the diff were gone.)"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from arrears.generate.portfolio import Options as GenOptions
from arrears.generate.portfolio import generate
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.arrangements import propose
from arrears.service.daily.cycle import run_cycle
from arrears.service.staff.users import add_user, create_token
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from tests.conftest import FIXED_NOW, make_app
from tests.support.servers import free_port

DAY = date(2026, 11, 23)
PASSWORD = "correct-horse-battery"
STRATEGY = (Path(__file__).parents[2] / "src/arrears/strategy/strategies/default.yaml").read_text()


def _sign_in(base: str, user: str, page: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=base, timeout=120)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    assert (
        c.post("/login", data={"username": user, "password": PASSWORD, "csrf": token}).status_code
        == 303
    )
    return c, _csrf(c, page)


def _csrf(c: httpx.Client, page: str) -> str:
    text = c.get(page).text
    return re.search(r'name="csrf" value="([^"]+)"', text).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_writes_after_a_whole_store_snapshot_survive_the_server_stopping(
    tmp_path: Path, stop: signal.Signals
) -> None:
    db = tmp_path / "store.db"
    app = make_app(f"sqlite:///{db}")
    upgrade(app.engine)
    generate(tmp_path / "gen", GenOptions(loans=300, seed=21, as_of=DAY))
    ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    run_cycle(app, DAY, strategy=load("default"))
    for user, role in (("mei", "strategy_manager"), ("bo", "supervisor")):
        add_user(app, username=user, password=PASSWORD, role=role)
    bearer = create_token(app, "bank", ["read", "write"])
    loans = [f"LN{k:010d}" for k in range(1, 301)]
    owed = {x: statement_for_loan(app, x, DAY) for x in loans}
    late = max(loans, key=lambda x: owed[x]["overdue"]["penalty"])
    pending = propose(
        app,
        late,
        "waiver",
        {"penalty": owed[late]["overdue"]["penalty"]},
        by="chen",
        role="collector",
        reason="hardship",
    )
    assert pending.status == "pending_approval"
    payer = next(x for x in loans if owed[x]["total_due"] > 1000 and x != late)
    app.engine.dispose()

    port = free_port()
    env = {**os.environ, "ARREARS_DATABASE_URL": f"sqlite:///{db}", "ARREARS_ENV": "test"}
    command = [sys.executable, "-m", "arrears", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    clients: list[httpx.Client] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.2)
        mei, csrf = _sign_in(base, "mei", "/strategy")
        clients.append(mei)
        up = mei.post("/strategy/upload", data={"csrf": csrf, "text": STRATEGY})
        assert up.status_code == 303
        version = int(re.search(r"uploaded=(\d+)", up.headers["location"]).group(1))  # type: ignore[union-attr]
        diff = mei.get(f"/strategy/{version}/diff")  # the whole-store snapshot
        assert diff.status_code == 200
        # writes after the snapshot: the console's approval, the API's payment
        bo, csrf = _sign_in(base, "bo", "/approvals")
        clients.append(bo)
        ok = bo.post(f"/approvals/{pending.arrangement_id}/approve", data={"csrf": csrf})
        assert ok.status_code == 303 and "flash=saved" in ok.headers["location"]
        paid = httpx.post(
            f"{base}/api/v1/payments",
            timeout=60,
            headers={"Authorization": f"Bearer {bearer}"},
            json={"loan_id": payer, "amount": 1000, "payment_id": "P-after-diff"},
        )
        assert paid.status_code == 201, paid.text
        second = mei.post(  # another text: the same one again would be the version kept
            "/strategy/upload",
            data={"csrf": _csrf(mei, "/strategy"), "text": STRATEGY + "\n# revised\n"},
        )
        assert second.status_code == 303
    finally:
        for c in clients:
            c.close()
        server.send_signal(stop)
        server.wait(timeout=30)
    # another process (this one, with its own SQLite connection) reads what was committed
    with sqlite3.connect(db) as conn:
        status = conn.execute(
            "SELECT status FROM arrangement WHERE arrangement_id = ?", (pending.arrangement_id,)
        ).fetchone()
        payment = conn.execute(
            "SELECT amount FROM payment WHERE payment_id = 'P-after-diff'"
        ).fetchone()
        versions = conn.execute("SELECT count(*) FROM strategy_version").fetchone()
        check = conn.execute("PRAGMA integrity_check").fetchone()
    assert status is not None and status[0] != "pending_approval"
    assert payment == (1000,)
    assert versions == (2,)
    assert check == ("ok",)
