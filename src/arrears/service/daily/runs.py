"""The cycle's runs and plans as stored: the hash chain of runs and its check, the run history,
the plan of a date, and marking actions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from typing import Any

import pyarrow as pa
from sqlalchemy import select, update

from arrears.bootstrap import App
from arrears.store import audit
from arrears.store import tables as t

GENESIS = "0" * 64


def verify_runs(app: App) -> tuple[int, list[str]]:
    """Recompute every run's hash from its row: (runs checked, problems)."""
    cr = t.cycle_run
    problems: list[str] = []
    prev = GENESIS
    with app.engine.connect() as conn:
        rows = conn.execute(select(cr).order_by(cr.c.run_id)).mappings().all()
    for r in rows:
        body = audit.canonical(
            {
                "prev": r["prev_hash"],
                "business_date": r["business_date"].isoformat(),
                "engine": r["engine"],
                "strategy": r["strategy"],
                "strategy_digest": r["strategy_digest"],
                "plan_digest": r["plan_digest"],
                "counts": json.loads(r["counts"]),
            }
        )
        if r["prev_hash"] != prev:
            problems.append(f"run {r['run_id']}: does not follow run before it")
        if hashlib.sha256(body.encode()).hexdigest() != r["hash"]:
            problems.append(f"run {r['run_id']}: its record was changed after it was written")
        prev = r["hash"]
    return len(rows), problems


def run_history(app: App, limit: int = 50) -> list[dict[str, Any]]:
    cr = t.cycle_run
    with app.engine.connect() as conn:
        rows = conn.execute(select(cr).order_by(cr.c.run_id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def last_run(app: App) -> dict[str, Any] | None:
    """The latest run: its id, business date, counts and the accounts it quarantined."""
    rows = run_history(app, limit=1)
    if not rows:
        return None
    counts = json.loads(rows[0]["counts"])
    return {
        "run_id": rows[0]["run_id"],
        "business_date": rows[0]["business_date"],
        "accounts": counts.get("accounts", 0),
        "actions": counts.get("actions", 0),
        "quarantined": counts.get("quarantined", 0),
        "quarantined_accounts": counts.get("quarantined_accounts", []),
    }


def stored_plan(app: App, day: date) -> pa.Table:
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        rows = conn.execute(select(pa_).where(pa_.c.business_date == day)).mappings().all()
    return pa.Table.from_pylist([dict(r) for r in rows])


def mark(app: App, action_ids: Iterable[str], status: str) -> None:
    """Set actions' status (used by tests and, later, the dispatcher)."""
    with app.engine.begin() as conn:
        conn.execute(
            update(t.plan_action)
            .where(t.plan_action.c.action_id.in_(list(action_ids)))
            .values(status=status)
        )
