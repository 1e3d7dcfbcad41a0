"""The API and the console under load: 50 simulated collectors working their queues at once
against a PostgreSQL store of 1,000,000 generated loans run through today's cycle.

Each collector, in a loop (bounded in count and time, loopback only): reads its queue
(``GET /api/v1/queues/{queue}/items``), opens the account (``GET /api/v1/loans/{id}/statement``
and the console's account page, which also logs the view of personal data), and records the
call's outcome (``POST /api/v1/actions/{id}/outcome``, the note checked by the lexicon). The
server is ``arrears serve --workers 2`` in its own processes. Reported: requests per second and
p50/p99 latency of each endpoint. Goal: p99 <= 150 ms.

    scripts/bench api
    BENCH_API_LOANS=2000 BENCH_API_COLLECTORS=4 BENCH_API_ROUNDS=2 BENCH_API_THINK=0.05 \
        scripts/bench api                                  # a tiny run

The benchmark fails (exit status 1, nothing written) if the server does not start or dies, a
collector cannot sign in or its client fails, an endpoint answers with a server error, a
redirect to sign in, 401 or 403, or an endpoint gets no good answer at all; other refusals
(429, say) are counted. BENCH_BREAK=serve makes the server's command fail (bench/common.py).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import StepFailed, as_run, guard, machine, prepend, tail  # noqa: E402

LOANS = int(os.environ.get("BENCH_API_LOANS", "1000000"))
COLLECTORS = int(os.environ.get("BENCH_API_COLLECTORS", "50"))
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "30"))  # accounts each collector works
LIMIT_SECONDS = 600
WORKERS = os.environ.get("BENCH_API_WORKERS", "2")
THINK = float(os.environ.get("BENCH_API_THINK", "1.0"))  # seconds a collector spends per step
CLIENTS = min(5, COLLECTORS)  # client processes the collectors are spread over
PASSWORD = "bench-password-1"
QUEUES = ("early_callback", "mid_calls", "late_calls", "legal_desk")
ENDPOINTS = ("queue", "account (API)", "account (page)", "wrap-up")
#: answers that say the benchmark itself is broken, not the server busy: never a figure
BROKEN = re.compile(r"5\d\d|30[1-8]|401|403")


def _store(url: str, work: Path) -> tuple[str, float]:
    """Generate, ingest and run today's cycle; add the collectors; return an API token."""
    from arrears.bootstrap import bootstrap
    from arrears.generate.portfolio import Options, generate
    from arrears.service.daily.cycle import run_cycle
    from arrears.service.staff.users import add_user, create_token
    from arrears.settings import Settings
    from arrears.store.db import upgrade
    from arrears.store.ingest.loader import ingest
    from arrears.strategy.model import load

    app = bootstrap(Settings(database_url=url))
    upgrade(app.engine)
    t0 = time.perf_counter()
    today = app.today()
    generate(work / "gen", Options(loans=LOANS, seed=11, as_of=today, workers=2))
    ten = datetime.combine(today, dtime(10), ZoneInfo("Asia/Shanghai"))
    ingest(app.engine, app.cipher, [work / "gen"], clock=lambda: ten)
    app.clock = lambda: ten
    run_cycle(app, today, strategy=load("default"))
    # the cycle runs at night; by the time collectors sign in, PostgreSQL's autovacuum has been
    # through the million rows it wrote: do it now rather than measure it
    with app.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    setup = time.perf_counter() - t0
    for k in range(COLLECTORS):
        add_user(
            app, username=f"c{k:03d}", password=PASSWORD, role="collector", collector_id=f"C{k:04d}"
        )
    return create_token(app, "bench", ["read", "write"]), setup


class Timings:
    def __init__(self) -> None:
        self.by: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: list[str] = []  # collectors that could not work (their traceback)
        self.lock = threading.Lock()

    def add(self, name: str, seconds: float, status: int, ok: bool) -> None:
        with self.lock:
            self.by.setdefault(name, []).append(seconds)
            self.statuses[(name, status)] += 1
            if not ok:
                self.errors[name] = self.errors.get(name, 0) + 1

    def __getstate__(self) -> dict[str, Any]:  # sent from a client process: no lock
        return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, lock=threading.Lock())

    def merge(self, other: Timings) -> None:
        for name, xs in other.by.items():
            self.by.setdefault(name, []).extend(xs)
        for name, n in other.errors.items():
            self.errors[name] = self.errors.get(name, 0) + n
        self.statuses.update(other.statuses)
        self.failures += other.failures

    def problems(self) -> list[str]:
        """Why this phase's figures cannot stand, if they cannot."""
        out = [f"{len(self.failures)} collector(s) failed"] if self.failures else []
        bad = {k: n for k, n in self.statuses.items() if BROKEN.fullmatch(str(k[1]))}
        if bad:
            out.append("answers " + ", ".join(f"{e} {c} x{n}" for (e, c), n in sorted(bad.items())))
        good = {e for e, xs in self.by.items() if len(xs) > self.errors.get(e, 0)}
        if missing := [e for e in ENDPOINTS if e not in good]:
            out.append(f"no good answer from {', '.join(missing)}")
        return out


def _timed(
    t: Timings,
    name: str,
    client: httpx.Client,
    method: str,
    path: str,
    ok_codes: tuple[int, ...] = (200, 201),
    **kw: Any,
) -> httpx.Response:
    start = time.perf_counter()
    r = client.request(method, path, **kw)
    t.add(name, time.perf_counter() - start, r.status_code, r.status_code in ok_codes)
    return r


def _ok(r: httpx.Response, what: str, codes: tuple[int, ...] = (200,)) -> httpx.Response:
    if r.status_code not in codes:
        raise RuntimeError(f"{what}: HTTP {r.status_code} {r.text[:200]!r}")
    return r


def _sign_in(web: httpx.Client, username: str) -> None:
    """The console's sign-in as a browser does it: the form (its double-submit token), then
    the post; a session cookie must come back."""
    form = _ok(web.get("/login"), "GET /login").text
    found = re.search(r'name="csrf" value="([^"]*)"', form)
    data = {"username": username, "password": PASSWORD, "csrf": found.group(1) if found else ""}
    _ok(web.post("/login", data=data), f"sign-in of {username}", (302, 303))
    if not web.cookies.get("arrears_session"):
        raise RuntimeError(f"sign-in of {username}: no session cookie")


def _collector(k: int, base: str, token: str, t: Timings, stop: float, think: float) -> None:
    """One collector's loop; anything that stops it is kept as a failure of the phase."""
    try:
        _work(k, base, token, t, stop, think)
    except Exception:
        with t.lock:
            t.failures.append(f"collector c{k:03d}: {traceback.format_exc()}")


def _work(k: int, base: str, token: str, t: Timings, stop: float, think: float) -> None:
    rng = random.Random(k)
    queue = QUEUES[k % len(QUEUES)]
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    web = httpx.Client(base_url=base, timeout=30)
    try:
        _sign_in(web, f"c{k:03d}")
        # warm, not timed: each server process compiles its queries and pages once
        warm = _ok(api.get(f"/api/v1/queues/{queue}/items", params={"per_page": 1}), "queue")
        for x in warm.json().get("items", [])[:1]:
            _ok(api.get(f"/api/v1/loans/{x['loan_id']}/statement"), "statement")
            _ok(web.get(f"/accounts/{x['loan_id']}"), "account page")
        for _ in range(ROUNDS):
            if time.monotonic() > stop:
                return
            got = _timed(
                t, "queue", api, "GET", f"/api/v1/queues/{queue}/items", params={"per_page": 20}
            )
            items = got.json().get("items", []) if got.status_code == 200 else []
            if not items:
                return
            item = items[rng.randrange(len(items))]
            loan = item["loan_id"]
            time.sleep(rng.uniform(0.5, 1.5) * think)  # reading the list
            _timed(t, "account (API)", api, "GET", f"/api/v1/loans/{loan}/statement")
            _timed(t, "account (page)", web, "GET", f"/accounts/{loan}")
            time.sleep(rng.uniform(0.5, 1.5) * think)  # the call itself
            body = {
                "collector_id": f"C{k:04d}",
                "result": rng.choice(("conversation", "no_answer", "busy")),
                "note": "借款人表示本周内还款",
            }
            # another collector may have worked it first: a 422 then is the right answer
            _timed(
                t,
                "wrap-up",
                api,
                "POST",
                f"/api/v1/actions/{item['action_id']}/outcome",
                (201, 422),
                json=body,
            )
    finally:
        api.close()
        web.close()


def _group(args: tuple[list[int], str, str, float]) -> Timings:
    """One client process: its collectors as threads; their timings."""
    ids, base, token, think = args
    t = Timings()
    stop = time.monotonic() + LIMIT_SECONDS
    threads = [
        threading.Thread(target=_collector, args=(k, base, token, t, stop, think)) for k in ids
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return t


def _phase(base: str, token: str, think: float) -> Timings:
    """All the collectors at once, spread over client processes (one Python process with 50
    busy threads would measure its own GIL, not the server)."""
    groups = [list(range(g, COLLECTORS, CLIENTS)) for g in range(CLIENTS)]
    with mp.get_context("fork").Pool(CLIENTS) as pool:
        # a client process that dies loses its part: wait no longer than the collectors may take
        parts = pool.map_async(_group, [(g, base, token, think) for g in groups if g]).get(
            timeout=LIMIT_SECONDS + 120
        )
    t = Timings()
    for part in parts:
        t.merge(part)
    return t


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


def _serve(url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``arrears serve`` in its own processes, up and answering; else the benchmark fails with
    the server's stderr."""
    from tests.support.servers import free_port

    port = free_port()
    env = {**os.environ, "ARREARS_DATABASE_URL": url, "ARREARS_ENV": "development"}
    cmd, shown = as_run(
        "serve",
        [str(ROOT / ".venv/bin/arrears"), "serve", "--port", str(port), "--workers", WORKERS],
    )
    with log.open("wb") as err:
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while server.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    why = "not answering after 120 s" if server.poll() is None else f"exit status {server.poll()}"
    server.kill()
    server.wait()
    raise StepFailed("serve", shown, why, tail(log.read_text(errors="replace")))


def main() -> None:
    from tests.conftest import _pg_database
    from tests.support.pg import PgServer

    if LOANS < 1 or COLLECTORS < 1:
        raise SystemExit("BENCH_API_LOANS and BENCH_API_COLLECTORS must be at least 1")
    pg = PgServer()
    admin = pg.start()
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    server = None
    try:
        url = _pg_database(admin)
        token, setup = _store(url, work)
        server, base = _serve(url, work / "serve.log")
        phases = []
        for label, think in (("paced", THINK), ("flat out", 0.0)):
            t0 = time.perf_counter()
            t = _phase(base, token, think)
            if problems := t.problems():
                raise StepFailed(
                    f"{label} run",
                    f"{COLLECTORS} collectors against {base}",
                    "; ".join(problems),
                    tail("\n".join(t.failures[:3])),
                )
            phases.append((label, think, t, time.perf_counter() - t0))
        if server.poll() is not None:
            raise StepFailed(
                "serve",
                "arrears serve",
                f"exit status {server.poll()} during the runs",
                tail((work / "serve.log").read_text(errors="replace")),
            )
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=20)
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    _write(phases, setup)


def _knobs() -> str:
    """The knobs set away from their defaults, as the section's command shows them."""
    names = (
        "BENCH_API_LOANS",
        "BENCH_API_COLLECTORS",
        "BENCH_API_ROUNDS",
        "BENCH_API_WORKERS",
        "BENCH_API_THINK",
    )
    given = [f"{n}={os.environ[n]}" for n in names if os.environ.get(n)]
    return f" ({', '.join(given)})" if given else ""


def _write(phases: list[tuple[str, float, Timings, float]], setup: float) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {when}: the API and the console, {COLLECTORS} collectors",
        "",
        f"Machine: {machine()}. Command: `scripts/bench api`{_knobs()}. Store: PostgreSQL 15 on loopback, "
        f"{LOANS:,} generated loans ingested and run through today's cycle ({setup:.0f} s). "
        f"Server: `arrears serve --workers {WORKERS}`. {COLLECTORS} collectors at once ({CLIENTS} "
        f"client processes of threads, loopback, the same 2 cores as the server and the store), each up to {ROUNDS} accounts: its queue, the account (API "
        "statement and console page, which logs the view), the wrap-up. Two runs: *paced*, "
        f"where each collector takes 0.5-1.5 × {THINK:g} s to read the list and again for the "
        "call (people on the phone), and *flat out*, with no pause at all (a stress test). Before "
        "timing: `VACUUM ANALYZE` after the cycle (autovacuum's work by the morning), and each "
        "collector opens one account untimed (each server process compiles once).",
        "",
        "| run | endpoint | requests | requests/s | p50 (ms) | p99 (ms) | max (ms) | refused |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for label, _think, t, wall in phases:
        worst = 0.0
        for name, xs in t.by.items():
            p99 = _pct(xs, 0.99)
            worst = max(worst, p99)
            lines.append(
                f"| {label} | {name} | {len(xs):,} | {len(xs) / wall:,.1f} | "
                f"{statistics.median(xs) * 1000:.1f} | {p99:.1f} | "
                f"{max(xs) * 1000:.1f} | {t.errors.get(name, 0)} |"
            )
        total = sum(len(v) for v in t.by.values())
        verdicts.append(
            f"{label}: {total:,} requests in {wall:.1f} s ({total / wall:,.0f}/s), "
            f"worst p99 {worst:.1f} ms: {'met' if worst <= 150 else 'not met'}"
        )
    lines += [
        "",
        "Goal: p99 <= 150 ms on every endpoint. " + "; ".join(verdicts) + ".",
        "`refused` counts answers other than 200/201 (for the wrap-up, other than 201 "
        "or the 422 of an item another collector worked first); a server error, a "
        "redirect to sign in, 401 or 403 fails the run instead.",
        "",
        "",
    ]
    prepend(lines)


if __name__ == "__main__":
    sys.exit(guard(main))
