"""Simulated days (the demo's history) go through the service layer: each day a cycle run,
messages sent through the outbox, calls worked, promises and payments, and the clock put back."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from arrears.generate.portfolio import Options, generate
from arrears.generate.simulate import simulate
from arrears.service.queries.day_plan import run_listing
from arrears.settings import Env, Settings
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from tests.conftest import FIXED_NOW

DAY = date(2026, 11, 23)


def test_three_simulated_days_leave_a_history(tmp_path: Path) -> None:
    from arrears.bootstrap import bootstrap

    settings = Settings(
        env=Env.TEST,
        database_url=f"sqlite:///{tmp_path / 's.db'}",
        outbox_dir=tmp_path / "outbox",
        outbox_files=True,
    )
    app = bootstrap(settings, clock=lambda: FIXED_NOW)
    upgrade(app.engine)
    start = DAY - timedelta(days=3)
    generate(tmp_path / "gen", Options(loans=1200, seed=5, as_of=start))
    ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    done = simulate(app, [start + timedelta(days=k) for k in range(3)], seed=3)
    assert app.clock() == FIXED_NOW  # put back
    assert done.days == 3 and done.sent > 0 and done.calls > 0 and done.payments > 0
    runs = sorted(r["business_date"] for r in run_listing(app, limit=200, offset=0).rows)
    with app.engine.connect() as conn:
        calls = conn.execute(
            select(func.count()).where(
                t.contact_attempt.c.channel == "call",
                t.contact_attempt.c.collector_id.in_(("C0007", "C0012", "C0023")),
            )
        ).scalar()
        paid = conn.execute(select(func.count()).where(t.payment.c.source == "simulation")).scalar()
        snap = conn.execute(
            select(func.count()).where(t.delinquency_snapshot.c.as_of == start)
        ).scalar()
    assert runs == [start, start + timedelta(days=1), start + timedelta(days=2)]
    assert calls == done.calls and paid == done.payments and snap == 1200
    assert any((tmp_path / "outbox").rglob("*.txt"))
