"""Compare plans: what a candidate strategy would do differently on the same day's portfolio."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.cycle import accounts, engines, snapshot
from arrears.cycle.run import make_plan
from arrears.service.books.bands import bands_for
from arrears.service.daily.cycle import strategy_from
from arrears.service.errors import Invalid
from arrears.service.store import require_current
from arrears.store import tables as t
from arrears.strategy.model import Strategy

log = logging.getLogger(__name__)


#: what an account gets from one plan: (channel, status, rule, priority) of each action, in
#: step order (the priority is a call's place in its queue)
Action = tuple[str, str, str | None, float]
Actions = tuple[Action, ...]


@dataclass(frozen=True)
class AccountChange:
    loan_id: str
    stage: str
    kind: str  # added (only the candidate acts), removed (only the current), changed
    current: Actions
    candidate: Actions


@dataclass
class PlanDiff:
    current: str
    candidate: str
    rows: list[dict[str, Any]]  # stage, channel, status, current, candidate
    added: int
    removed: int
    changed: int
    #: every account whose actions differ (channel, status or the rule behind it), by loan
    accounts: list[AccountChange] = field(default_factory=list)
    seconds: float = 0.0
    #: when it was planned (a kept diff is shown for up to ten minutes)
    planned_at: datetime | None = None


def diff_plans(
    app: App,
    day: date,
    *,
    candidate: str | Strategy,
    current: str | Strategy | None = None,
    engine: str | None = None,
) -> PlanDiff:
    """Both strategies' plans on the same snapshot (nothing is written). The snapshot and the
    book's delinquency are read once for both; compiled queries are reused across calls
    (:mod:`arrears.cycle.run`), so a second look at a candidate costs only the plans' run."""
    started = time.perf_counter()
    require_current(app)
    old, new = strategy_from(app, current), strategy_from(app, candidate)
    name = engine or app.settings.cycle_engine
    if name not in engines.ENGINES:
        raise Invalid(
            f"engine: expected one of {', '.join(engines.ENGINES)}, got {name!r}", field="engine"
        )
    snap = snapshot.from_store(app.engine, day)
    bands = bands_for(app.settings)
    computed = accounts.delinquency_of(snap, bands.buckets)
    eng = engines.connect(name)
    try:
        # with the learned model when one is loaded: a strategy's choices are the model's
        a = make_plan(
            snap, old, eng, buckets=bands.buckets, computed=computed, scorer=app.scorer
        ).plan
        b = make_plan(
            snap, new, eng, buckets=bands.buckets, computed=computed, scorer=app.scorer
        ).plan
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
        for s, c, st in sorted(set(ca) | set(cb), key=lambda k: (_stage_rank(new, old, k[0]), k))
    ]
    return PlanDiff(
        current=old.name,
        candidate=new.name,
        rows=rows,
        added=len(kb.keys() - ka.keys()),
        removed=len(ka.keys() - kb.keys()),
        changed=sum(1 for k in ka.keys() & kb.keys() if ka[k] != kb[k]),
        accounts=account_changes(a, b),
        seconds=time.perf_counter() - started,
    )


def _stage_rank(new: Strategy, old: Strategy, stage: str) -> int:
    """Where ``stage`` stands in the candidate's stages (then the current's): by days past due,
    as a person reads them, not by name."""
    order = [x.name for x in new.stages] + [x.name for x in old.stages]
    return order.index(stage) if stage in order else len(order)


def account_changes(current: Any, candidate: Any) -> list[AccountChange]:
    """The accounts whose day differs between two plans of the same snapshot, by loan."""

    def by_loan(t: Any) -> tuple[dict[str, list[Action]], dict[str, str]]:
        acts: dict[str, list[Action]] = {}
        stage: dict[str, str] = {}
        names = ("loan_id", "stage", "channel", "status", "rule", "priority")
        cols = [t[c].to_pylist() for c in names]
        for loan, st, channel, status, rule, priority in zip(*cols, strict=True):
            acts.setdefault(loan, []).append((channel, status, rule, round(priority or 0, 2)))
            stage[loan] = st
        return acts, stage

    (ia, sa), (ib, sb) = by_loan(current), by_loan(candidate)
    out = []
    for loan in sorted(ia.keys() | ib.keys()):
        was, will = tuple(ia.get(loan, ())), tuple(ib.get(loan, ()))
        if was == will:
            continue
        kind = "added" if not was else ("removed" if not will else "changed")
        out.append(AccountChange(loan, sb.get(loan) or sa[loan], kind, was, will))
    return out


_KEPT: dict[tuple[str, ...], tuple[float, PlanDiff]] = {}
_KEPT_LOCK = threading.Lock()
#: one lock per diff being planned: a second request for it waits and reads the first's
_PLANNING: dict[tuple[str, ...], threading.Lock] = {}
KEEP_SECONDS = 600.0
KEEP_MAX = 4


def kept_diff(app: App, day: date, candidate: Strategy) -> PlanDiff:
    """:func:`diff_plans` against the active strategy, kept for ten minutes (at most four, per
    store) so that paging through the changed accounts and exporting them does not plan the
    day again; two requests for the same diff at once plan it once."""
    current = strategy_from(app, None)
    key = (
        str(app.engine.url),
        candidate.digest,
        current.digest,
        day.isoformat(),
        app.settings.cycle_engine,
    )
    with _KEPT_LOCK:
        _forget_old()
        hit = _KEPT.get(key)
        if hit is not None:
            return hit[1]
        planning = _PLANNING.setdefault(key, threading.Lock())
    with planning:
        with _KEPT_LOCK:
            hit = _KEPT.get(key)
        if hit is not None:
            return hit[1]
        d = diff_plans(app, day, candidate=candidate, current=current)
        d.planned_at = app.clock()
        with _KEPT_LOCK:
            _KEPT[key] = (time.monotonic(), d)
            _forget_old()
            _PLANNING.pop(key, None)
    return d


def _forget_old() -> None:
    """Drop the kept diffs past their time, then the oldest beyond :data:`KEEP_MAX` (the lock
    is held)."""
    now = time.monotonic()
    for k in [k for k, (at, _) in _KEPT.items() if now - at > KEEP_SECONDS]:
        del _KEPT[k]
    while len(_KEPT) > KEEP_MAX:
        del _KEPT[min(_KEPT, key=lambda k: _KEPT[k][0])]


def warm_up(app: App) -> None:
    """Load the cycle's compiled kernels and compile the active strategy's queries for today,
    ahead of a dry run (a served process calls this once, on a background thread). A failure
    here only costs the first dry run its speed: it is logged, not raised."""
    try:
        from arrears.cycle.run import precompile
        from arrears.cycle.snapshot import SCHEMAS, Snapshot

        day = app.today()
        empty = Snapshot(day, **{n: SCHEMAS[n].empty_table() for n in SCHEMAS})
        accounts.delinquency_of(empty, bands_for(app.settings).buckets)
        precompile(strategy_from(app, None), day, rulebooks_in_use(app))
    except Exception:
        log.warning("warm-up failed; the first dry run will be slower", exc_info=True)


def rulebooks_in_use(app: App) -> list[str]:
    """The rulebooks the portfolios name (those the cycle's queries are compiled for)."""
    with app.engine.connect() as conn:
        found = conn.execute(select(t.portfolio.c.rulebook).distinct()).scalars().all()
    return sorted({str(r) for r in found if r}) or ["cn"]
