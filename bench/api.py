"""The API and the console under load: 50 simulated collectors working their queues at once
against a PostgreSQL store of 1,000,000 generated loans run through today's cycle.

Each collector, in a loop (bounded in count and time, loopback only): reads its queue
(``GET /api/v1/queues/{queue}/items``), opens the account (``GET /api/v1/loans/{id}/statement``
and the console's account page, which also logs the view of personal data), and records the
call's outcome (``POST /api/v1/actions/{id}/outcome``, the note checked by the lexicon). The
server is ``arrears serve --workers 2`` in its own processes. Reported: requests per second and
p50/p99 latency of each endpoint. Goal: p99 <= 150 ms.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, prepend  # noqa: E402

LOANS = int(os.environ.get("BENCH_API_LOANS", "1000000"))
COLLECTORS = int(os.environ.get("BENCH_API_COLLECTORS", "50"))
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "30"))  # accounts each collector works
LIMIT_SECONDS = 600
PASSWORD = "bench-password-1"
QUEUES = ("early_callback", "mid_calls", "late_calls", "legal_desk")


def _store(url: str, work: Path) -> tuple[str, float]:
    """Generate, ingest and run today's cycle; add the collectors; return an API token."""
    from arrears.bootstrap import bootstrap
    from arrears.generate.portfolio import Options, generate
    from arrears.service.cycle import run_cycle
    from arrears.service.users import add_user, create_token
    from arrears.settings import Settings
    from arrears.store.db import upgrade
    from arrears.store.ingest.loader import ingest
    from arrears.strategy.model import load

    app = bootstrap(Settings(database_url=url))
    upgrade(app.engine)
    t0 = time.perf_counter()
    today = app.today()
    generate(work / "gen", Options(loans=LOANS, seed=11, as_of=today, workers=2))
    ingest(app.engine, app.cipher, [work / "gen"])
    ten = datetime.combine(today, dtime(10), ZoneInfo("Asia/Shanghai"))
    app.clock = lambda: ten
    run_cycle(app, today, strategy=load("default"))
    setup = time.perf_counter() - t0
    for k in range(COLLECTORS):
        add_user(app, username=f"c{k:03d}", password=PASSWORD, role="collector",
                 collector_id=f"C{k:04d}")  # fmt: skip
    return create_token(app, "bench", ["read", "write"]), setup


class Timings:
    def __init__(self) -> None:
        self.by: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def add(self, name: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.by.setdefault(name, []).append(seconds)
            if not ok:
                self.errors[name] = self.errors.get(name, 0) + 1


def _timed(
    t: Timings, name: str, client: httpx.Client, method: str, path: str,
    ok_codes: tuple[int, ...] = (200, 201), **kw: Any,
) -> httpx.Response:  # fmt: skip
    start = time.perf_counter()
    r = client.request(method, path, **kw)
    t.add(name, time.perf_counter() - start, r.status_code in ok_codes)
    return r


def _collector(k: int, base: str, token: str, t: Timings, stop: float) -> None:
    rng = random.Random(k)
    queue = QUEUES[k % len(QUEUES)]
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    web = httpx.Client(base_url=base, timeout=30)
    try:
        web.post("/login", data={"username": f"c{k:03d}", "password": PASSWORD})
        for _ in range(ROUNDS):
            if time.monotonic() > stop:
                return
            got = _timed(t, "queue", api, "GET", f"/api/v1/queues/{queue}/items",
                         params={"per_page": 20})  # fmt: skip
            items = got.json().get("items", []) if got.status_code == 200 else []
            if not items:
                return
            item = items[rng.randrange(len(items))]
            loan = item["loan_id"]
            _timed(t, "account (API)", api, "GET", f"/api/v1/loans/{loan}/statement")
            _timed(t, "account (page)", web, "GET", f"/accounts/{loan}")
            body = {"collector_id": f"C{k:04d}", "result": rng.choice(("conversation",
                    "no_answer", "busy")), "note": "借款人表示本周内还款"}  # fmt: skip
            # another collector may have worked it first: a 422 then is the right answer
            _timed(t, "wrap-up", api, "POST", f"/api/v1/actions/{item['action_id']}/outcome",
                   (201, 422), json=body)  # fmt: skip
    finally:
        api.close()
        web.close()


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


def main() -> None:
    from tests.conftest import _pg_database
    from tests.support.pg import PgServer
    from tests.support.servers import free_port

    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    pg = PgServer()
    admin = pg.start()
    server = None
    try:
        url = _pg_database(admin)
        token, setup = _store(url, work)
        port = free_port()
        env = {**os.environ, "ARREARS_DATABASE_URL": url, "ARREARS_ENV": "development"}
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/arrears"), "serve", "--port", str(port), "--workers", "2"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        t = Timings()
        stop = time.monotonic() + LIMIT_SECONDS
        threads = [threading.Thread(target=_collector, args=(k, base, token, t, stop))
                   for k in range(COLLECTORS)]  # fmt: skip
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        pg.stop()
    _write(t, wall, setup)


def _write(t: Timings, wall: float, setup: float) -> None:
    total = sum(len(v) for v in t.by.values())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {when}: the API and the console, {COLLECTORS} collectors", "",
        f"Machine: {machine()}. Command: `scripts/bench api`. Store: PostgreSQL 15 on loopback, "
        f"{LOANS:,} generated loans ingested and run through today's cycle ({setup:.0f} s). "
        f"Server: `arrears serve --workers 2`. {COLLECTORS} collectors at once (threads, "
        f"loopback), each up to {ROUNDS} accounts: its queue, the account (API statement and "
        "console page), the wrap-up. "
        f"{total:,} requests in {wall:.1f} s: {total / wall:,.0f} requests/s.", "",
        "| endpoint | requests | p50 (ms) | p99 (ms) | max (ms) | refused |",
        "|---|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    worst = 0.0
    for name, xs in t.by.items():
        p99 = _pct(xs, 0.99)
        worst = max(worst, p99)
        lines.append(f"| {name} | {len(xs):,} | {statistics.median(xs) * 1000:.1f} | "
                     f"{p99:.1f} | {max(xs) * 1000:.1f} | {t.errors.get(name, 0)} |")  # fmt: skip
    verdict = "met" if worst <= 150 else "not met"
    lines += ["", f"Goal: p99 <= 150 ms on every endpoint: {verdict} (worst p99 {worst:.1f} ms).",
              "`refused` counts answers other than 200/201 (for the wrap-up, other than 201 "
              "or the 422 of an item another collector worked first).", "", ""]  # fmt: skip
    prepend(lines)


if __name__ == "__main__":
    main()
