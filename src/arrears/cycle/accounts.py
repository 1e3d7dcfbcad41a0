"""One row per loan: everything the strategy and the gate look at, as of the business date.

This is the part done in Python over Arrow before an engine takes over: delinquency (the compiled
replay), the strategy stage and days in it, the borrower's send window and day boundaries in UTC
(each distinct timezone and agreed window worked out once with zoneinfo), and each experiment's
hash bucket. History aggregates (contacts, promises, holds ...) are joined by the engine
(:mod:`arrears.cycle.plan`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rulebook import load as load_rulebook
from arrears.cycle import book_delinquency as delinquency
from arrears.cycle import kernel
from arrears.cycle.snapshot import TS, Snapshot, decoded
from arrears.domain.delinquency import DEFAULT_STAGES, BandTable
from arrears.strategy.model import Strategy

#: offsets (in days from the business date) whose local midnight the gate needs, as t_m7 ...
DAY_OFFSETS = (-7, -6, -5, -4, -3, -2, -1, 0, 1)


def _col(offset: int) -> str:
    return f"t_m{-offset}" if offset < 0 else f"t_p{offset}"


def parse_window(text: str | None) -> tuple[time, time] | None:
    """A borrower's agreed window "HH:MM-HH:MM" (local time), or None."""
    if not text:
        return None
    start, _, end = text.partition("-")
    try:
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        return None


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def send_window(
    as_of: date, tz: ZoneInfo, agreed: tuple[time, time] | None, book: Rulebook
) -> tuple[datetime, datetime]:
    """When channels under the hours rule may be used on ``as_of``: the agreed window if the
    rulebook honours it, else the rulebook's hours; a window across midnight ends the next day."""
    start, end = book.hours.start, book.hours.end
    if agreed is not None and book.hours.honour_agreed_window:
        start, end = agreed
    begin = local_instant(as_of, start, tz)
    finish = local_instant(as_of + timedelta(days=1) if end <= start else as_of, end, tz)
    return begin, finish


BUCKETS = 10_000


def bucket(salt: str, loan_id: str) -> int:
    """An account's experiment bucket, 0..9999: FNV-1a of "salt:loan_id", so stable across
    days, runs and engines."""
    return kernel.fnv1a(f"{salt}:{loan_id}".encode()) % BUCKETS


def buckets_of(salt: str, loan_ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    """:func:`bucket` for a whole column, compiled over the Arrow string buffers."""
    arr = loan_ids.combine_chunks() if isinstance(loan_ids, pa.ChunkedArray) else loan_ids
    arr = arr.cast(pa.large_string())  # 64-bit offsets whatever the input
    if len(arr) == 0:
        return pa.array([], pa.int64())
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    start = kernel.fnv1a(f"{salt}:".encode())
    hashes: Any = kernel.fnv1a_buckets  # a numba dispatcher: typed by its arguments at call time
    return pa.array(hashes(np.uint64(start), *kernel.readonly(offsets, data), BUCKETS))


def strategy_stage(dpd: pa.Array, strategy: Strategy) -> pa.Array:
    """The strategy's stage for each DPD (null when settled or between the strategy's stages)."""
    out = pa.nulls(len(dpd), pa.string())
    for s in reversed(strategy.stages):
        cond = pc.is_valid(dpd)
        if s.low is not None:
            cond = pc.and_(cond, pc.greater_equal(dpd, s.low))
        if s.high is not None:
            cond = pc.and_(cond, pc.less_equal(dpd, s.high))
        out = pc.if_else(pc.fill_null(cond, False), pa.scalar(s.name), out)
    return out


#: the columns of :func:`windows`, after its keys
TIME_COLUMNS = ("win_start", "win_end", *(_col(o) for o in DAY_OFFSETS))


def windows(pairs: pa.Table, rulebooks: list[str], as_of: date) -> pa.Table:
    """Send windows and local day boundaries in UTC for each (timezone, agreed window) of
    ``pairs`` (the window '' when none is agreed) under each rulebook: worked out once per
    distinct key with zoneinfo; the engine joins them to the accounts. A timezone that is not a
    known zone gets no row: its accounts have no window and are quarantined."""
    rows: dict[str, list[Any]] = {n: [] for n in ("timezone", "window_key", "rulebook")}
    rows |= {n: [] for n in TIME_COLUMNS}
    for tz_name, window in zip(
        pairs["timezone"].to_pylist(), pairs["window_key"].to_pylist(), strict=True
    ):
        try:
            tz = ZoneInfo(tz_name)
        except (ValueError, KeyError, TypeError):
            continue  # no window: the borrower's accounts are quarantined (run.make_plan)
        for book_id in rulebooks:
            book = load_rulebook(book_id)
            ws, we = send_window(as_of, tz, parse_window(window), book)
            rows["timezone"].append(tz_name)
            rows["window_key"].append(window)
            rows["rulebook"].append(book_id)
            rows["win_start"].append(ws)
            rows["win_end"].append(we)
            for o in DAY_OFFSETS:
                rows[_col(o)].append(local_instant(as_of + timedelta(days=o), time(0), tz))
    types = {"timezone": pa.string(), "window_key": pa.string(), "rulebook": pa.string()}
    return pa.table({n: pa.array(v, types.get(n, TS)) for n, v in rows.items()})


#: the delinquency columns an account carries
AMOUNTS = (
    "dpd",
    "bucket",
    "total_due",
    "overdue_principal",
    "overdue_penalty",
    "outstanding_principal",
)


def schema(strategy: Strategy) -> pa.Schema:
    """The columns of :attr:`Accounts.active` (known before any loan is read, so the engine can
    compile its queries meanwhile)."""
    s, i64 = pa.string(), pa.int64()
    return pa.schema(
        [
            ("account_seq", i64),
            ("loan_id", s),
            ("borrower_id", s),
            ("portfolio", s),
            ("product", s),
            ("rulebook", s),
            ("score", pa.float64()),
            ("dpd", pa.int32()),
            ("bucket", s),
            ("total_due", i64),
            ("overdue_principal", i64),
            ("overdue_penalty", i64),
            ("outstanding_principal", i64),
            ("stage", s),
            ("prior_stage", s),
            ("prior_since", pa.date32()),
            ("days_in_stage", i64),
            ("paid_today", pa.bool_()),
            ("paid_today_amount", i64),
            ("paid_today_share", pa.float64()),
            *((f"xb_{e.name}", i64) for e in strategy.experiments),
        ]
    )


class Accounts(NamedTuple):
    #: every loan: loan_id, dpd, stage, prior_stage, prior_since (what stage changes need)
    book: pa.Table
    #: the loans in a collection stage: their loan, delinquency, stage and experiment columns
    #: (the engine adds the borrower's, the send windows and the history's)
    active: pa.Table
    #: the loans that could not be computed (loan_id, reason): in neither table above, so they
    #: get no action and keep their stored stage until they can be
    quarantined: pa.Table


def build(
    snap: Snapshot,
    strategy: Strategy,
    *,
    buckets: BandTable,
    computed: pa.Table | None = None,
) -> Accounts:
    """The delinquency and stage of every loan; the full per-loan table (columns documented in
    docs/STRATEGY.md) for the loans in a collection stage, the only ones that can have actions.
    ``computed``: the book's delinquency (:func:`delinquency_of`) when already known: it does
    not depend on the strategy, so two strategies' plans of one day share it."""
    d = delinquency_of(snap, buckets) if computed is None else computed
    sick = pc.is_valid(d["quarantine"])
    quarantined = pa.table({"loan_id": d["loan_id"], "reason": d["quarantine"]}).filter(sick)
    loans_in = snap.loans
    if quarantined.num_rows:
        well = pc.invert(sick)
        d, loans_in = d.filter(well), loans_in.filter(well)
    stage = strategy_stage(d["dpd"], strategy)
    prior_idx = pc.index_in(loans_in["loan_id"], value_set=snap.stages["loan_id"].combine_chunks())
    prior = snap.stages.take(prior_idx)
    book = pa.table(
        {
            "loan_id": loans_in["loan_id"],
            "dpd": d["dpd"],
            "stage": stage,
            "prior_stage": prior["stage"],
            "prior_since": prior["since"],
        }
    )
    keep = pc.is_valid(stage)
    loan_cols = ["loan_id", "borrower_id", "portfolio_id", "product", "rulebook", "score"]
    loans = decoded(loans_in.select(loan_cols).filter(keep))
    d = d.select([*AMOUNTS, "paid_today", "paid_today_amount"]).filter(keep)
    stage, prior = stage.filter(keep), prior.filter(keep)
    same = pc.fill_null(pc.equal(prior["stage"], stage), False)
    as_of_num = (snap.as_of - delinquency.EPOCH).days
    since_num = pc.cast(pc.cast(prior["since"], pa.int32()), pa.int64())
    days_in_stage = pc.if_else(same, pc.subtract(pa.scalar(as_of_num, pa.int64()), since_num), 0)
    cols: dict[str, pa.Array | pa.ChunkedArray] = {
        # the account's place in the loans' order (by loan_id from the store): the plan's
        # order, sorted on a number rather than a string
        "account_seq": pa.array(np.arange(loans.num_rows, dtype=np.int64)),
        "loan_id": loans["loan_id"],
        "borrower_id": loans["borrower_id"],
        "portfolio": loans["portfolio_id"],
        "product": loans["product"],
        "rulebook": loans["rulebook"],
        "score": loans["score"],
        **{c: d[c] for c in AMOUNTS},
        "stage": stage,
        "prior_stage": prior["stage"],
        "prior_since": prior["since"],
        "days_in_stage": days_in_stage,
        "paid_today": d["paid_today"],
        "paid_today_amount": d["paid_today_amount"],
        "paid_today_share": paid_share(d["paid_today_amount"], d["total_due"]),
    }
    for e in strategy.experiments:
        cols[f"xb_{e.name}"] = buckets_of(e.salt, loans["loan_id"])
    return Accounts(book, pa.table(cols), quarantined)


def delinquency_of(snap: Snapshot, buckets: BandTable) -> pa.Table:
    """What every loan of ``snap`` owes and how late it is (the strategy plays no part)."""
    return delinquency.compute_parts(
        snap.loans,
        snap.ledger,
        snap.as_of,
        buckets=buckets,
        stages=DEFAULT_STAGES,
        events=snap.events,
    )


def paid_share(paid: Any, due: Any) -> pa.Array:
    """What today's payments paid of what was due before them: paid / (paid + due now), not
    rounded (a threshold such as 0.5 must not be reached by rounding); 0 when nothing was
    paid. The scalar engine computes it with :func:`share_paid`."""
    paid_np = np.asarray(pc.fill_null(paid, 0), dtype=np.float64)
    before = paid_np + np.asarray(pc.fill_null(due, 0), dtype=np.float64)
    out = np.divide(paid_np, before, out=np.zeros_like(paid_np), where=before > 0)
    return pa.array(out, pa.float64())


def share_paid(paid: int, due: int) -> float:
    """One account's :func:`paid_share`."""
    return paid / (paid + due) if paid > 0 and paid + due > 0 else 0.0
