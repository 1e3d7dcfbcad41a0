"""Compare plans: what a candidate strategy would do differently on the same day's portfolio."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from arrears.bootstrap import App
from arrears.cycle import engines, snapshot
from arrears.cycle.run import make_plan
from arrears.service.books.bands import bands_for
from arrears.service.daily.cycle import strategy_from
from arrears.service.errors import Invalid
from arrears.service.store import require_current
from arrears.strategy.model import Strategy


@dataclass
class PlanDiff:
    current: str
    candidate: str
    rows: list[dict[str, Any]]  # stage, channel, status, current, candidate
    added: int
    removed: int
    changed: int


def diff_plans(
    app: App,
    day: date,
    *,
    candidate: str | Strategy,
    current: str | None = None,
    engine: str | None = None,
) -> PlanDiff:
    """Both strategies' plans on the same snapshot (nothing is written)."""
    require_current(app)
    old, new = strategy_from(app, current), strategy_from(app, candidate)
    name = engine or app.settings.cycle_engine
    if name not in engines.ENGINES:
        raise Invalid(
            f"engine: expected one of {', '.join(engines.ENGINES)}, got {name!r}", field="engine"
        )
    snap = snapshot.from_store(app.engine, day)
    bands = bands_for(app.settings)
    eng = engines.connect(name)
    try:
        a = make_plan(snap, old, eng, buckets=bands.buckets).plan
        b = make_plan(snap, new, eng, buckets=bands.buckets).plan
    finally:
        eng.close()

    def keyed(t: Any) -> dict[str, tuple[str, float]]:
        return {
            r["action_id"]: (r["status"], r["priority"])
            for r in t.select(["action_id", "status", "priority"]).to_pylist()
        }

    ka, kb = keyed(a), keyed(b)

    def counts(t: Any) -> Counter[tuple[str, str, str]]:
        cols = [t[c].to_pylist() for c in ("stage", "channel", "status")]
        return Counter(zip(*cols, strict=True))

    ca, cb = counts(a), counts(b)
    rows = [
        {
            "stage": s,
            "channel": c,
            "status": st,
            "current": ca[(s, c, st)],
            "candidate": cb[(s, c, st)],
        }
        for s, c, st in sorted(set(ca) | set(cb))
    ]
    return PlanDiff(
        current=old.name,
        candidate=new.name,
        rows=rows,
        added=len(kb.keys() - ka.keys()),
        removed=len(ka.keys() - kb.keys()),
        changed=sum(1 for k in ka.keys() & kb.keys() if ka[k] != kb[k]),
    )
