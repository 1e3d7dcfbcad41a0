"""Dispatcher throughput: messages per second handed to a local SMS gateway (HTTP) and a local
SMTP server (STARTTLS), by one and by two dispatcher processes sharing a PostgreSQL store, and
the duplicates the providers saw (the goal is none).

The store: a generated portfolio, ingested and run through the day's cycle, then one action
per account in collection per measured run (its own step id, so the runs do not share work),
SMS to the borrower's phone, email to the borrower's address. Each dispatcher does the whole
job per message: lease, second look (a fresh read of the account and the compliance gate),
render with a new code, write the attempt, code and message, send, record, audit. The gateway
and the SMTP server each run in a process of their own; every dispatcher waits, imported and
connected, for a common start signal, and the clock runs from it to the last one's end.

    scripts/bench dispatch                              # 40,000 loans
    BENCH_DISPATCH_LOANS=300 scripts/bench dispatch     # a tiny run

A dispatcher or a provider that fails, a run that sends nothing, or a message the providers saw
that was never planned stops the benchmark (exit status 1, nothing written); BENCH_BREAK=sms-1
(or sms-2, email-1, email-2) makes that run's dispatchers fail on purpose (bench/common.py).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import StepFailed, broken, guard, machine, prepend  # noqa: E402

DAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: every window is open
LOANS = int(os.environ.get("BENCH_DISPATCH_LOANS", "40000"))
#: seconds a dispatcher may take to start (import, connect), and a run to finish
START_SECONDS, RUN_SECONDS = 300, 1800


# ------------------------------------------------------------------------------------------
# providers, each in its own process


def _gateway(pipe: Any) -> None:
    from tests.support.servers import Gateway

    gw = Gateway().start()
    pipe.send(gw.url)
    pipe.recv()  # stop
    by_key: dict[str, int] = {}
    for r in gw.requests:
        key = r["headers"].get("Idempotency-Key", "")
        by_key[key] = by_key.get(key, 0) + 1
    pipe.send(
        {"requests": len(gw.requests), "accepted": len(gw.accepted), "keys": sorted(gw.accepted)}
    )
    gw.stop()


def _smtp(pipe: Any, folder: Path) -> None:
    import email

    from tests.support.servers import SmtpServer

    server = SmtpServer(folder, "starttls").start()
    pipe.send((server.port, str(server.cert)))
    pipe.recv()
    keys = [
        str(email.message_from_bytes(m["data"])["X-Idempotency-Key"]) for m in server.box.messages
    ]
    pipe.send({"messages": len(keys), "keys": sorted(keys)})
    server.stop()


def _provider(target: Any, *args: Any) -> tuple[Any, Any, Any]:
    parent, child = mp.Pipe()
    p = mp.get_context("fork").Process(target=target, args=(child, *args), daemon=True)
    p.start()
    child.close()  # only the provider holds its end: its death ends the wait below
    return p, parent, _answer(p, parent, target.__name__.strip("_"), "start")


def _answer(p: Any, pipe: Any, name: str, what: str, timeout: float = 120) -> Any:
    """A provider's answer; it failing or never answering fails the benchmark."""
    try:
        if pipe.poll(timeout):
            return pipe.recv()
    except EOFError:
        pass
    p.join(1)
    raise StepFailed(
        f"{name} provider",
        f"bench/dispatch.py {name} process ({what})",
        f"no answer (exit code {p.exitcode}); its traceback is above",
    )


# ------------------------------------------------------------------------------------------
# the store


def _store(url: str, work: Path) -> dict[str, list[tuple[str, str]]]:
    """Generate, ingest, run the cycle; return the accounts in collection with a phone and
    those with an email address: (loan, borrower)."""
    from sqlalchemy import select

    from arrears.bootstrap import bootstrap
    from arrears.generate.portfolio import Options, generate
    from arrears.service.daily.cycle import run_cycle
    from arrears.settings import Env, Settings
    from arrears.store import tables as t
    from arrears.store.db import upgrade
    from arrears.store.ingest.loader import ingest
    from arrears.strategy.model import load

    app = bootstrap(Settings(env=Env.TEST, database_url=url), clock=lambda: NOW)
    upgrade(app.engine)
    generate(work / "gen", Options(loans=LOANS, seed=7, as_of=DAY, workers=2))
    ingest(app.engine, app.cipher, [work / "gen"], clock=lambda: NOW)
    run_cycle(app, DAY, strategy=load("default"))
    with app.engine.begin() as conn:
        conn.execute(t.plan_action.delete())  # only the bench's actions from here on
        rows = conn.execute(
            select(t.account_stage.c.loan_id, t.loan.c.borrower_id, t.contact_point.c.kind)
            .select_from(
                t.account_stage.join(t.loan, t.loan.c.loan_id == t.account_stage.c.loan_id).join(
                    t.contact_point, t.contact_point.c.borrower_id == t.loan.c.borrower_id
                )
            )
            .where(t.contact_point.c.owner_role == "borrower", t.contact_point.c.is_valid.is_(True))
            .distinct()
        ).all()
    app.engine.dispose()
    out: dict[str, list[tuple[str, str]]] = {"phone": [], "email": []}
    for loan_id, borrower_id, kind in rows:
        if kind in out:
            out[kind].append((loan_id, borrower_id))
    return {k: sorted(set(v)) for k, v in out.items()}


def _plan(
    url: str, accounts: list[tuple[str, str]], step: str, channel: str, template: str, count: int
) -> list[str]:
    """Insert one action per account (the first ``count``) for a measured run."""
    from sqlalchemy import insert, select

    from arrears.bootstrap import bootstrap
    from arrears.settings import Env, Settings
    from arrears.store import tables as t

    app = bootstrap(Settings(env=Env.TEST, database_url=url), clock=lambda: NOW)
    with app.engine.begin() as conn:
        run_id = conn.execute(select(t.cycle_run.c.run_id).limit(1)).scalar_one()
        loans = dict(
            conn.execute(select(t.loan.c.loan_id, t.loan.c.portfolio_id)).all()  # type: ignore[arg-type]
        )
        stages = dict(
            conn.execute(select(t.account_stage.c.loan_id, t.account_stage.c.stage)).all()
        )  # type: ignore[arg-type]
        ids = []
        rows = []
        for loan_id, borrower_id in accounts[:count]:
            action_id = f"{DAY}|{loan_id}|{step}"
            ids.append(action_id)
            rows.append(
                {
                    "action_id": action_id,
                    "business_date": DAY,
                    "run_id": run_id,
                    "loan_id": loan_id,
                    "borrower_id": borrower_id,
                    "portfolio_id": loans[loan_id],
                    "stage": stages[loan_id],
                    "segment": "all",
                    "step_id": step,
                    "channel": channel,
                    "template": template,
                    "queue": None,
                    "pool": None,
                    "locale": "zh-CN",
                    "priority": 1.0,
                    "experiment": None,
                    "arm": None,
                    "window_start": NOW.replace(hour=0),
                    "window_end": NOW.replace(hour=14),
                    "status": "planned",
                    "rule": None,
                }
            )
        conn.execute(insert(t.plan_action), rows)
    app.engine.dispose()
    return ids


# ------------------------------------------------------------------------------------------
# dispatchers


def _dispatcher(
    url: str,
    providers: str,
    outbox: str,
    worker: str,
    channel: str,
    go: Any,
    result: Any,
    label: str,
) -> None:
    """One dispatcher process: "ready", then its "report" on ``result``; or its traceback as an
    "error" (and exit status 1)."""
    try:
        _dispatch(url, providers, outbox, worker, channel, go, result, label)
    except BaseException:
        result.put({"kind": "error", "worker": worker, "error": traceback.format_exc()})
        raise


def _dispatch(
    url: str,
    providers: str,
    outbox: str,
    worker: str,
    channel: str,
    go: Any,
    result: Any,
    label: str,
) -> None:
    from arrears.bootstrap import bootstrap
    from arrears.channels.profiles import build, read
    from arrears.service.outreach.dispatch import dispatch
    from arrears.service.outreach.state import Options
    from arrears.service.outreach.templates import ensure_loaded
    from arrears.settings import Env, Settings

    shift = NOW - datetime.now(UTC)
    settings = Settings(
        env=Env.TEST, database_url=url, providers_file=Path(providers), outbox_dir=Path(outbox)
    )
    app = bootstrap(settings, clock=lambda: datetime.now(UTC) + shift)
    chans = build(read(Path(providers)), Path(outbox))
    ensure_loaded(app)
    if broken(label):
        raise RuntimeError(f"{label}: broken on purpose (BENCH_BREAK)")
    result.put({"kind": "ready", "worker": worker})
    go.wait()
    started = time.perf_counter()
    report = dispatch(app, chans, Options(worker=worker, channels=(channel,), batch=200, senders=8))
    result.put(
        {
            "kind": "report",
            "worker": worker,
            "seconds": time.perf_counter() - started,
            "sent": report.sent,
            "cancelled": report.cancelled,
            "parked": report.parked,
            "fenced": report.fenced,
            "rules": dict(report.by_rule),
        }
    )
    for c in {id(x): x for x in chans.values()}.values():
        c.close()


def _gather(q: Any, procs: list[Any], label: str, kind: str, timeout: float) -> list[Any]:
    """A ``kind`` item ("ready", "report") from each of ``procs`` on ``q``; a dispatcher that
    failed, died or took too long fails the benchmark, its traceback in the message."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    command = f"dispatch(channels=({label.split('-')[0]},)) in {len(procs)} spawned process(es)"
    while len(got) < len(procs):
        try:
            item = q.get(timeout=1)
        except queue.Empty:
            codes = [p.exitcode for p in procs]
            if any(c not in (None, 0) for c in codes) or all(c is not None for c in codes):
                raise StepFailed(
                    label, command, f"a dispatcher exited before its {kind} (exit codes {codes})"
                ) from None
            if time.monotonic() > deadline:
                raise StepFailed(label, command, f"no {kind} in {timeout:.0f} s") from None
            continue
        if item["kind"] == "error":
            raise StepFailed(label, command, f"dispatcher {item['worker']} failed", item["error"])
        got.append(item)
    return got


def _measure(
    url: str, providers: str, outbox: str, channel: str, processes: int, label: str, planned: int
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    go, result = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_dispatcher,
            args=(url, providers, outbox, f"{label}-{k}", channel, go, result, label),
        )
        for k in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        # every one imported and connected (spawned interpreters), waiting for the signal
        _gather(result, procs, label, "ready", START_SECONDS)
        t0 = time.perf_counter()
        go.set()
        reports = _gather(result, procs, label, "report", RUN_SECONDS)
        wall = time.perf_counter() - t0
        for p in procs:
            p.join(60)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    codes = [p.exitcode for p in procs]
    sent = sum(r["sent"] for r in reports)
    command = f"dispatch(channels=({channel},)) in {processes} spawned process(es)"
    if any(c != 0 for c in codes):
        raise StepFailed(label, command, f"dispatchers' exit codes {codes}")
    if sent == 0:
        raise StepFailed(label, command, f"sent nothing of {planned:,} planned: {reports}")
    return {
        "label": label,
        "channel": channel,
        "processes": processes,
        "sent": sent,
        "seconds": wall,
        "rate": sent / wall,
        "reports": reports,
    }


def main() -> None:
    from tests.conftest import _pg_database
    from tests.support.pg import PgServer

    if LOANS < 1:
        raise SystemExit(f"BENCH_DISPATCH_LOANS must be at least 1, got {LOANS}")
    pg = PgServer()
    admin = pg.start()
    work = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    providers_procs: list[Any] = []
    try:
        gw_proc, gw_pipe, gw_url = _provider(_gateway)
        providers_procs.append(gw_proc)
        (work / "smtp").mkdir()
        smtp_proc, smtp_pipe, (smtp_port, cert) = _provider(_smtp, work / "smtp")
        providers_procs.append(smtp_proc)
        url = _pg_database(admin)
        t0 = time.perf_counter()
        accounts = _store(url, work)
        setup = time.perf_counter() - t0
        providers = work / "providers.yaml"
        providers.write_text(
            json.dumps(
                {
                    "sms": {"kind": "http", "url": gw_url, "rate_per_second": 100000},
                    "email": {
                        "kind": "smtp",
                        "host": "127.0.0.1",
                        "port": smtp_port,
                        "security": "starttls",
                        "cafile": cert,
                        "rate_per_second": 100000,
                    },
                }
            )
        )
        runs = []
        n_sms, n_mail = len(accounts["phone"]), len(accounts["email"])
        planned: dict[str, list[str]] = {}
        for label, channel, procs in (
            ("sms-1", "sms", 1),
            ("sms-2", "sms", 2),
            ("email-1", "email", 1),
            ("email-2", "email", 2),
        ):
            kind = "phone" if channel == "sms" else "email"
            template = "early_sms" if channel == "sms" else "reminder_email"
            planned[label] = _plan(
                url,
                accounts[kind],
                f"bench.{label}",
                channel,
                template,
                n_sms if channel == "sms" else n_mail,
            )
            runs.append(
                _measure(
                    url,
                    str(providers),
                    str(work / "outbox"),
                    channel,
                    procs,
                    label,
                    len(planned[label]),
                )
            )
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "reports"}), flush=True)
        gw_pipe.send("stop")
        gw = _answer(gw_proc, gw_pipe, "gateway", "stop")
        smtp_pipe.send("stop")
        mail = _answer(smtp_proc, smtp_pipe, "smtp", "stop")
    finally:
        for p in providers_procs:
            p.kill()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    sms_keys = set(planned["sms-1"]) | set(planned["sms-2"])
    mail_keys = set(planned["email-1"]) | set(planned["email-2"])
    sms_dups = gw["requests"] - gw["accepted"]
    mail_dups = mail["messages"] - len(set(mail["keys"]))
    strays = (set(gw["keys"]) - sms_keys) | (set(mail["keys"]) - mail_keys)
    if strays:
        raise StepFailed(
            "providers",
            "the gateway's and the SMTP server's idempotency keys",
            f"{len(strays)} messages never planned, e.g. {sorted(strays)[:3]}",
        )
    _write(runs, setup, sms_dups, mail_dups, gw, mail)


def _write(
    runs: list[dict[str, Any]],
    setup: float,
    sms_dups: int,
    mail_dups: int,
    gw: dict[str, Any],
    mail: dict[str, Any],
) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {when}: the dispatcher",
        "",
        f"Machine: {machine()}. Command: `scripts/bench dispatch`"
        f"{f' (BENCH_DISPATCH_LOANS={LOANS})' if LOANS != 40_000 else ''}. Store: PostgreSQL 15 on "
        f"loopback, {LOANS:,} generated loans ingested and run through the day's cycle "
        f"({setup:.0f} s), then one action per account in collection for each run. Providers: "
        "the stand-in SMS gateway (HTTP/1.1, its own process) and aiosmtpd with STARTTLS (its "
        "own process). Each dispatcher: batches of 200, 8 sender threads; per message the "
        "lease, the second look (a fresh read of the account, the strategy's suppressions, "
        "the compliance gate), rendering with a new code, the attempt, code and message "
        "written, the send, the record and its audit entry.",
        "",
        "| run | processes | sent | seconds | messages/s | not sent (why) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        why: dict[str, int] = {}
        for rep in r["reports"]:
            for k, v in rep["rules"].items():
                why[k] = why.get(k, 0) + v
        text = ", ".join(f"{k} {v}" for k, v in sorted(why.items(), key=lambda x: -x[1])) or "-"
        lines.append(
            f"| {r['label']} | {r['processes']} | {r['sent']:,} | {r['seconds']:.1f} | "
            f"{r['rate']:,.0f} | {text} |"
        )
    best_sms = max(r["rate"] for r in runs if r["channel"] == "sms")
    best_mail = max(r["rate"] for r in runs if r["channel"] == "email")
    lines += [
        "",
        "| goal | result | met |",
        "|---|---|---|",
        f"| >= 500 SMS/s | {best_sms:,.0f}/s | {'met' if best_sms >= 500 else 'NOT met'} |",
        f"| >= 200 emails/s | {best_mail:,.0f}/s | {'met' if best_mail >= 200 else 'NOT met'} |",
        f"| zero duplicates | gateway: {gw['requests']:,} requests, {gw['accepted']:,} "
        f"messages ({sms_dups} repeats); SMTP: {mail['messages']:,} deliveries, "
        f"{len(set(mail['keys'])):,} distinct ({mail_dups} duplicates) | "
        f"{'met' if sms_dups == 0 and mail_dups == 0 else 'NOT met'} |",
        "",
    ]
    prepend(lines)


if __name__ == "__main__":
    sys.exit(guard(main))
