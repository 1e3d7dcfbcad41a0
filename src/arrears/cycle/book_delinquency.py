"""Delinquency for a whole portfolio at once: Arrow tables in, one row per loan out.

The compiled replay (:mod:`arrears.cycle.kernel`) does the work; this module turns Arrow
columns into its flat arrays, resolves each loan's penalty policy exactly (once per distinct
policy, through :class:`arrears.domain.ledger.Policy`), sends the rare loan the kernel cannot take
(no stored instalments, or amounts so large that 64-bit products could overflow) through the
scalar domain, and classifies DPD into buckets and stages.

Input tables (column names as in the store):

* ``loans``: loan_id, principal, annual_rate and the policy columns of
  :data:`arrears.domain.codec.POLICY_FIELDS` (already defaulted from the portfolio);
* ``instalments``: loan_idx (row of ``loans``), seq, due_date, principal, interest, fee;
* ``payments``: loan_idx, paid_on, amount (posted payments only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.cycle import kernel
from arrears.domain.codec import POLICY_FIELDS, policy_from_dict
from arrears.domain.delinquency import SETTLED, BandTable, statement
from arrears.domain.ledger import Allocation, LedgerEvent, Loan, Payment, PenaltyBase
from arrears.domain.money import round_half_up
from arrears.domain.schedule import Instalment

EPOCH = date(1970, 1, 1)
#: 2 × amount × numerator must stay below this for the kernel's integer arithmetic
SAFE = 2**62


def day_number(d: date) -> int:
    return (d - EPOCH).days


def _i64(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False), np.int64)


def _days(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return _i64(pc.cast(column, pa.date32()).cast(pa.int32()))


def _offsets(loan_idx: np.ndarray, n_loans: int) -> np.ndarray:
    if loan_idx.size and np.any(np.diff(loan_idx) < 0):
        raise ValueError("rows must be grouped by loan_idx in ascending order")
    return np.searchsorted(loan_idx, np.arange(n_loans + 1), side="left").astype(np.int64)


class _Policies:
    """Each distinct (annual rate, policy) once: its exact daily rate and cap ratio."""

    def __init__(self, loans: pa.Table) -> None:
        cols = ["annual_rate", *POLICY_FIELDS]
        parts = [pc.fill_null(pc.cast(loans[c], pa.string()), "\x00") for c in cols]
        key = pc.binary_join_element_wise(*parts, "|")
        encoded = pc.dictionary_encode(key).combine_chunks()
        self.index = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
        n = len(encoded.dictionary)
        self.rate_num = np.zeros(n, np.int64)
        self.rate_den = np.ones(n, np.int64)
        self.grace = np.zeros(n, np.int64)
        self.pi_base = np.zeros(n, np.bool_)
        self.order = np.zeros(n, np.int64)
        self.cap_ratio: list[Fraction | None] = []
        #: policies that cannot be read, with the reason: their loans are quarantined
        self.bad: dict[int, str] = {}
        for k, text in enumerate(encoded.dictionary.to_pylist()):
            values = [None if v == "\x00" else v for v in text.split("|")]
            try:
                annual = Decimal(str(values[0]))
                policy = policy_from_dict(
                    {f: v for f, v in zip(POLICY_FIELDS, values[1:], strict=True) if v is not None},
                    prefix="portfolio policy ",
                )
                rate = policy.daily_penalty_rate(annual)
            except Exception as exc:  # the loans on it are quarantined, not the book stopped
                self.bad[k] = reason(exc)
                self.cap_ratio.append(None)
                continue
            self.rate_num[k], self.rate_den[k] = rate.numerator, rate.denominator
            self.grace[k] = policy.grace_days
            self.pi_base[k] = policy.base is PenaltyBase.PRINCIPAL_INTEREST
            self.order[k] = 0 if policy.allocation is Allocation.COMPONENTS_FIRST else 1
            ratio = policy.charges_cap_ratio
            self.cap_ratio.append(None if ratio is None else Fraction(ratio))


def _caps(principal: np.ndarray, pol: _Policies) -> tuple[np.ndarray, np.ndarray]:
    """The charges cap per loan (-1: none) and loans whose cap cannot be computed in int64."""
    cap = np.full(principal.shape[0], -1, np.int64)
    risky = np.zeros(principal.shape[0], np.bool_)
    for k, ratio in enumerate(pol.cap_ratio):
        if ratio is None:
            continue
        rows = pol.index == k
        num, den = ratio.numerator, ratio.denominator
        p = principal[rows]
        if np.any(p.astype(np.float64) * num * 2 + den >= SAFE):
            risky[rows] = True  # the scalar domain computes these loans whole
            cap[rows] = [round_half_up(int(x) * ratio) for x in p]
        else:
            cap[rows] = (2 * p * num + den) // (2 * den)
    return cap, risky


def compute(
    loans: pa.Table,
    instalments: pa.Table,
    payments: pa.Table,
    as_of: date,
    *,
    buckets: BandTable,
    stages: BandTable,
    threads: int | None = None,
    events: Mapping[str, Sequence[LedgerEvent]] | None = None,
) -> pa.Table:
    """One row per loan (in ``loans`` order): DPD, bucket, stage, the amounts owed, whether a
    payment dated ``as_of`` was posted (``paid_today``) and how much (``paid_today_amount``).
    Loans with ``events`` (waivers, arrangements, penalty pauses) are replayed by the scalar
    domain (the kernel knows payments only)."""
    events = events or {}
    n = loans.num_rows
    pol = _Policies(loans)
    i_idx = _i64(instalments["loan_idx"])
    p_paid = _days(payments["paid_on"])
    keep = p_paid <= day_number(as_of)
    p_idx = _i64(payments["loan_idx"])[keep]
    inst_off = _offsets(i_idx, n)
    pay_off = _offsets(p_idx, n)
    i_p, i_i, i_f = (_i64(instalments[c]) for c in ("principal", "interest", "fee"))
    principal = _i64(loans["principal"])
    cap, risky = _caps(principal, pol)
    rate_num, rate_den = pol.rate_num[pol.index], pol.rate_den[pol.index]
    counts = np.diff(inst_off)
    # per-loan sums; a trailing 0 keeps every offset in range when the last loans have no
    # instalments (reduceat refuses an offset equal to the length), and empty runs count 0
    owed = np.add.reduceat(np.append(i_p + i_i + i_f, 0), inst_off[:-1]) if n else np.zeros(0)
    owed = np.where(counts > 0, owed, 0)
    skip = risky | (counts == 0) | (owed.astype(np.float64) * rate_num * 2 + rate_den >= SAFE)
    #: rows that cannot be computed (quarantined), with the reason
    why: dict[int, str] = (
        {int(i): pol.bad[int(k)] for i, k in enumerate(pol.index) if int(k) in pol.bad}
        if pol.bad
        else {}
    )
    if why:
        skip[list(why)] = True
    if events:
        with_events = pc.is_in(loans["loan_id"], value_set=pa.array(sorted(events), pa.string()))
        skip = skip | with_events.to_numpy(zero_copy_only=False)
    out = kernel.replay(
        day_number(as_of),
        *kernel.readonly(
            inst_off,
            _days(instalments["due_date"]),
            _i64(instalments["seq"]),
            i_p,
            i_i,
            i_f,
            pay_off,
            p_paid[keep],
            _i64(payments["amount"])[keep],
            rate_num,
            rate_den,
            pol.grace[pol.index],
            cap,
            pol.pi_base[pol.index],
            pol.order[pol.index],
            skip,
        ),
        threads=threads,
    )
    for i in np.flatnonzero(skip):
        if int(i) in why:
            continue
        try:
            out[i] = _scalar_row(
                loans, instalments, payments, int(i), inst_off, as_of, keep, events
            )
        except Exception as exc:  # one account never stops the book: it is quarantined
            why[int(i)] = reason(exc)
    today = p_paid[keep] == day_number(as_of)
    paid_today = np.zeros(n, np.bool_)
    paid_today[p_idx[today]] = True
    paid_amount = np.zeros(n, np.int64)
    np.add.at(paid_amount, p_idx[today], _i64(payments["amount"])[keep][today])
    table = (
        _table(loans, out, buckets, stages)
        .append_column("paid_today", pa.array(paid_today))
        .append_column("paid_today_amount", pa.array(paid_amount, pa.int64()))
    )
    quarantine = [why.get(i) for i in range(n)] if why else pa.nulls(n, pa.string())
    return table.append_column("quarantine", pa.array(quarantine, pa.string()))


def reason(exc: BaseException) -> str:
    """Why an account could not be computed, in one line (the exception's kind and message)."""
    text = " ".join(str(exc).split()) or "no detail"
    return f"{type(exc).__name__}: {text}"[:500]


#: reads the instalments and payments of loans lo..hi-1 (loan_idx counted from lo)
LedgerReader = Callable[[int, int], tuple[pa.Table, pa.Table]]
#: loans per part: small enough to bound memory, large enough to keep the kernel busy
PART = 250_000


def compute_parts(
    loans: pa.Table,
    read: LedgerReader,
    as_of: date,
    *,
    buckets: BandTable,
    stages: BandTable,
    part: int | None = None,
    workers: int = 2,
    events: Mapping[str, Sequence[LedgerEvent]] | None = None,
) -> pa.Table:
    """:func:`compute` for the whole book, ``part`` loans at a time on ``workers`` threads
    (reading a part, converting it and replaying it all run without the GIL for the most
    part), so only a few parts' schedules and payments are in memory at once."""
    n, size = loans.num_rows, part or PART
    ranges = [(lo, min(lo + size, n)) for lo in range(0, n, size)] or [(0, 0)]

    def one(r: tuple[int, int]) -> pa.Table:
        lo, hi = r
        inst, pays = read(lo, hi)
        chunk = loans.slice(lo, hi - lo)
        return compute(
            chunk, inst, pays, as_of, buckets=buckets, stages=stages, threads=1, events=events
        )

    if len(ranges) == 1 or workers <= 1:
        return pa.concat_tables([one(r) for r in ranges])
    with ThreadPoolExecutor(workers) as pool:
        return pa.concat_tables(list(pool.map(one, ranges)))


def _scalar_row(
    loans: pa.Table,
    instalments: pa.Table,
    payments: pa.Table,
    i: int,
    inst_off: np.ndarray,
    as_of: date,
    keep: np.ndarray,
    events: Mapping[str, Sequence[LedgerEvent]],
) -> np.ndarray:
    """One loan through the scalar domain, reported in the kernel's layout."""
    row = loans.slice(i, 1).to_pylist()[0]
    inst = instalments.slice(int(inst_off[i]), int(inst_off[i + 1] - inst_off[i])).to_pylist()
    idx = np.flatnonzero(keep & (_i64(payments["loan_idx"]) == i))
    pays = payments.take(pa.array(idx)).to_pylist() if idx.size else []
    loan = loan_from_rows(row, inst, pays, events.get(row["loan_id"], ()))
    s = statement(loan, as_of, explain=False)

    def d(x: date | None) -> int:
        return kernel.NONE if x is None else day_number(x)

    values = {
        "dpd": kernel.NONE if s.dpd is None else s.dpd,
        "overdue_principal": s.overdue.principal,
        "overdue_interest": s.overdue.interest,
        "overdue_fee": s.overdue.fee,
        "overdue_penalty": s.overdue.penalty,
        "due_today_principal": s.due_today.principal,
        "due_today_interest": s.due_today.interest,
        "due_today_fee": s.due_today.fee,
        "total_due": s.total_due,
        "outstanding_principal": s.outstanding_principal,
        "penalty_accrued": s.penalty_accrued,
        "charges_total": s.charges_total,
        "cap_reached_on": d(s.cap_reached_on),
        "credit_balance": s.credit_balance,
        "paid_total": s.paid_total,
        "oldest_unpaid_due": d(s.oldest_unpaid_due_date),
        "next_due": d(s.next_due_date),
    }
    return np.array([values[c] for c in kernel.OUT], np.int64)


def loan_from_rows(
    row: dict[str, Any],
    instalments: list[dict[str, Any]],
    payments: list[dict[str, Any]],
    events: Sequence[LedgerEvent] = (),
) -> Loan:
    """A domain Loan from snapshot rows (the scalar path and the reference implementation)."""
    from arrears.store.repository import build_loan

    inst = [
        Instalment(r["seq"], r["due_date"], r["principal"], r["interest"], r["fee"])
        for r in instalments
    ]
    pays = [
        Payment(
            r.get("payment_id") or f"p{k}", r["paid_on"], r["amount"], r.get("status") == "reversed"
        )
        for k, r in enumerate(payments)
    ]
    loan = build_loan(row, inst, pays)
    return loan.with_events(events)


def _classify(dpd: np.ndarray, table: BandTable, settled: np.ndarray) -> pa.Array:
    names = np.array([*table.names, SETTLED], dtype=object)
    lows = np.array([b.low for b in table.bands[1:]], np.int64)
    k = np.searchsorted(lows, dpd, side="right")
    k = np.where(settled, len(table.names), k)
    return pa.array(names[k], pa.string())


def _table(loans: pa.Table, out: np.ndarray, buckets: BandTable, stages: BandTable) -> pa.Table:
    settled = out[:, 0] == kernel.NONE
    cols: dict[str, pa.Array] = {"loan_id": loans["loan_id"].combine_chunks()}
    for k, name in enumerate(kernel.OUT):
        values = out[:, k]
        if name in ("dpd",):
            cols[name] = pa.array(values, pa.int32(), mask=settled)
        elif name in ("cap_reached_on", "oldest_unpaid_due", "next_due"):
            cols[name] = pa.array(
                values.astype(np.int32), pa.int32(), mask=values == kernel.NONE
            ).cast(pa.date32())
        else:
            cols[name] = pa.array(values, pa.int64())
    bucket = _classify(out[:, 0], buckets, settled)
    cols["bucket"] = pc.if_else(pa.array(settled), pa.nulls(len(settled), pa.string()), bucket)
    cols["stage"] = _classify(out[:, 0], stages, settled)
    return pa.table(cols)
