"""A synthetic portfolio for the cycle benchmark, made with numpy straight into the snapshot's
Parquet files (the data-lake layout of docs/DATA_FORMATS.md), in chunks so 10,000,000 loans fit
in memory: 12 monthly instalments a loan, a realistic DPD mix (most loans paid on time, a tail
in every stage up to 180+), and a 90-day contact history, heavier the later the account.

    python bench/lake.py OUT_DIR LOANS [--as-of 2026-11-23] [--seed 1]
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from arrears.cycle.snapshot import OPTIONAL, SCHEMAS

EPOCH = date(1970, 1, 1)
CHUNK = 500_000
TERMS = 12
ID_WIDTH = 10
PORTFOLIOS = ("cash", "instalment")
PRODUCTS = {"cash": "cash_loan", "instalment": "instalment"}
CHANNELS = np.array(["sms", "push", "robocall", "call", "call", "email"])
RESULTS = np.array(["connected", "conversation", "no_answer", "busy", "voicemail", "no_answer"])
STAGES = np.array(["pre_due", "early", "mid", "late", "legal"])
PREFERRED = np.array(["sms", "sms", "push", "email"])


def _ids(prefix: str, start: int, n: int) -> pa.Array:
    nums = np.arange(start, start + n)
    return pa.array(np.char.add(prefix, np.char.zfill(nums.astype(str), ID_WIDTH)))


def _days(d: date) -> int:
    return (d - EPOCH).days


def chunk(rng: np.random.Generator, start: int, n: int, as_of: date) -> dict[str, pa.Table]:
    """Loans ``start .. start+n-1`` and everything about them."""
    today = _days(as_of)
    loan_id = _ids("LN", start, n)
    borrower_id = _ids("BR", start, n)
    port = rng.integers(0, 2, n)
    principal = (rng.lognormal(np.log(5_000), 0.8, n) * 100).astype(np.int64) + 50_000
    first_due = today - rng.integers(-30, 400, n)  # originated up to ~13 months ago
    # instalments: equal principal, interest 1.5% a month on the balance, no fees
    k = np.arange(TERMS)
    due = first_due[:, None] + 30 * k[None, :]
    part = principal // TERMS
    inst_p = np.repeat(part[:, None], TERMS, axis=1)
    inst_p[:, -1] += principal - part * TERMS
    balance = principal[:, None] - part[:, None] * k[None, :]
    inst_i = balance * 15 // 1000
    # behaviour: how many of the due instalments were paid (on time), the rest unpaid
    n_due = (due <= today).sum(axis=1)
    kind = rng.random(n)
    missed = np.where(
        kind < 0.80, 0, np.where(kind < 0.9, 1, np.where(kind < 0.95, 2, rng.integers(3, 8, n)))
    )
    missed = np.minimum(missed, n_due)
    n_paid = n_due - missed
    paid_mask = k[None, :] < n_paid[:, None]
    loan_idx = np.repeat(np.arange(start, start + n), TERMS)
    instalments = pa.table(
        {
            "loan_idx": loan_idx,
            "seq": np.tile(k + 1, n),
            "due_date": pa.array(due.ravel().astype(np.int32), pa.int32()).cast(pa.date32()),
            "principal": inst_p.ravel(),
            "interest": inst_i.ravel(),
            "fee": np.zeros(n * TERMS, np.int64),
        }
    )
    late = rng.integers(-3, 4, (n, TERMS)).clip(-3, None)
    pay_day = np.minimum(due + np.where(late > 0, late, 0), today)
    sel = paid_mask.ravel()
    payments = pa.table(
        {
            "loan_idx": loan_idx[sel],
            "paid_on": pa.array(pay_day.ravel()[sel].astype(np.int32), pa.int32()).cast(
                pa.date32()
            ),
            "amount": (inst_p + inst_i).ravel()[sel],
        }
    )
    loans = pa.table(
        {
            "loan_id": loan_id,
            "portfolio_id": pa.array(np.array(PORTFOLIOS)[port]),
            "borrower_id": borrower_id,
            "currency": pa.array(["CNY"] * n),
            "principal": principal,
            "annual_rate": pa.array(["0.18"] * n),
            "method": pa.array(["explicit"] * n),
            "term_months": np.full(n, TERMS),
            "first_due_date": pa.array(first_due.astype(np.int32), pa.int32()).cast(pa.date32()),
            "score": np.round(rng.beta(4, 2, n), 2),
            "penalty_daily_rate": pa.nulls(n, pa.string()),
            "penalty_rate_multiplier": pa.array(["1.5"] * n),
            "penalty_base": pa.array(["principal"] * n),
            "grace_days": np.where(port == 0, 0, 3),
            "penalty_rate_cap_annual": pa.array(["0.24"] * n),
            "charges_cap_ratio": pa.array(["0.24"] * n),
            "allocation": pa.array(["components_first"] * n),
            "product": pa.array(np.array([PRODUCTS[p] for p in PORTFOLIOS])[port]),
            "rulebook": pa.array(["cn"] * n),
        }
    )
    borrowers = pa.table(
        {
            "borrower_id": borrower_id,
            "locale": pa.array(np.where(rng.random(n) < 0.03, "en", "zh-CN")),
            "timezone": pa.array(np.where(rng.random(n) < 0.05, "Asia/Urumqi", "Asia/Shanghai")),
            "consents": pa.array(
                np.where(
                    rng.random(n) < 0.1,
                    "sms,push,email,letter,agent_call,visit",
                    "sms,push,email,letter,robocall,agent_call,visit",
                )
            ),
            "contact_window": pa.array(np.where(rng.random(n) < 0.02, "09:00-20:00", None)),
        }
    )
    points = pa.table(
        {
            "borrower_id": pa.concat_arrays([borrower_id, borrower_id]),
            "kind": pa.array(["phone"] * n + ["email"] * n),
            "opt_outs": pa.array(np.where(rng.random(2 * n) < 0.02, "sms", None)),
        }
    )
    overdue = missed > 0
    dpd = np.where(overdue, today - due[np.arange(n), np.minimum(n_paid, TERMS - 1)], 0)
    tables = {
        "loans": loans,
        "instalments": instalments,
        "payments": payments,
        "borrowers": borrowers,
        "points": points,
        "contacts": _contacts(rng, borrower_id, loan_id, dpd, as_of),
        "promises": _promises(rng, loan_id, overdue, as_of),
        "holds": _holds(rng, borrower_id, overdue, as_of),
        "arrangements": _arrangements(rng, loan_id, overdue),
        "stages": _stages(rng, loan_id, dpd, overdue, as_of),
    }
    # drawn last, so every other column is what it was before the portal added it
    tables["borrowers"] = borrowers.append_column("preferred_channel", _preferred(rng, n))
    return tables


def _preferred(rng: np.random.Generator, n: int) -> pa.Array:
    """The channel a borrower chose in the portal (one in 20 did; all three are consented)."""
    pick = PREFERRED[rng.integers(0, len(PREFERRED), n)]
    return pa.array(np.where(rng.random(n) < 0.05, pick, None))


def _contacts(
    rng: np.random.Generator, borrower_id: pa.Array, loan_id: pa.Array, dpd: np.ndarray, as_of: date
) -> pa.Table:
    n = len(borrower_id)
    # about 1 reminder for a current loan in 90 days; a contact every 2-3 days when late
    lam = np.where(dpd > 0, np.minimum(dpd, 90) / 2.5, 1.0)
    count = rng.poisson(lam)
    total = int(count.sum())
    who = np.repeat(np.arange(n), count)
    back = rng.random(total) * np.minimum(np.repeat(np.maximum(dpd, 1), count), 90)
    base = datetime.combine(as_of, datetime.min.time(), UTC).timestamp()
    at = ((base - back * 86_400) * 1_000_000).astype(np.int64)
    channel = CHANNELS[rng.integers(0, len(CHANNELS), total)]
    result = RESULTS[rng.integers(0, len(RESULTS), total)]
    return pa.table(
        {
            "borrower_id": borrower_id.take(pa.array(who)),
            "loan_id": loan_id.take(pa.array(who)),
            "channel": pa.array(channel),
            "at": pa.array(at, pa.timestamp("us", tz="UTC")),
            "direction": pa.array(np.where(rng.random(total) < 0.95, "outbound", "inbound")),
            "role": pa.array(np.where(rng.random(total) < 0.97, "debtor", "emergency_contact")),
            "result": pa.array(
                np.where(np.isin(channel, ["call", "robocall"]), result, "delivered")
            ),
        }
    )


def _promises(
    rng: np.random.Generator, loan_id: pa.Array, overdue: np.ndarray, as_of: date
) -> pa.Table:
    pick = np.flatnonzero(overdue & (rng.random(len(overdue)) < 0.3))
    status = np.array(["pending", "kept", "broken", "broken"])[rng.integers(0, 4, len(pick))]
    settled = _days(as_of) - rng.integers(1, 80, len(pick))
    return pa.table(
        {
            "loan_id": loan_id.take(pa.array(pick)),
            "status": pa.array(status),
            "settled_on": pa.array(
                np.where(status == "pending", 0, settled).astype(np.int32), mask=status == "pending"
            ).cast(pa.date32()),
        }
    )


def _holds(
    rng: np.random.Generator, borrower_id: pa.Array, overdue: np.ndarray, as_of: date
) -> pa.Table:
    pick = np.flatnonzero(overdue & (rng.random(len(overdue)) < 0.02))
    base = datetime.combine(as_of, datetime.min.time(), UTC).timestamp()
    starts = ((base - rng.random(len(pick)) * 30 * 86_400) * 1_000_000).astype(np.int64)
    kinds = np.array(["complaint", "dispute", "hardship", "cease_request"])
    return pa.table(
        {
            "borrower_id": borrower_id.take(pa.array(pick)),
            "loan_id": pa.nulls(len(pick), pa.string()),
            "kind": pa.array(kinds[rng.integers(0, len(kinds), len(pick))]),
            "starts_at": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "ends_at": pa.nulls(len(pick), pa.timestamp("us", tz="UTC")),
        }
    )


def _arrangements(rng: np.random.Generator, loan_id: pa.Array, overdue: np.ndarray) -> pa.Table:
    pick = np.flatnonzero(overdue & (rng.random(len(overdue)) < 0.03))
    return pa.table(
        {"loan_id": loan_id.take(pa.array(pick)), "kind": pa.array(["plan"] * len(pick))}
    )


def _stages(
    rng: np.random.Generator, loan_id: pa.Array, dpd: np.ndarray, overdue: np.ndarray, as_of: date
) -> pa.Table:
    """Yesterday's stages: the accounts already in collection."""
    pick = np.flatnonzero(overdue & (dpd > 1))
    d = dpd[pick] - 1
    stage = np.select([d <= 17, d <= 30, d <= 90], ["early", "mid", "late"], "legal")
    since = _days(as_of) - np.minimum(rng.integers(1, 30, len(pick)), d)
    return pa.table(
        {
            "loan_id": loan_id.take(pa.array(pick)),
            "stage": pa.array(stage),
            "since": pa.array(since.astype(np.int32), pa.int32()).cast(pa.date32()),
        }
    )


def _conform(name: str, table: pa.Table) -> pa.Table:
    """``table`` in the snapshot's schema: a column the cycle may go without (snapshot.OPTIONAL)
    and this generator does not make yet is written as nulls; a required one is an error."""
    schema = SCHEMAS[name]
    missing = [f.name for f in schema if f.name not in table.column_names]
    if required := [c for c in missing if c not in OPTIONAL.get(name, ())]:
        raise SystemExit(
            f"bench/lake.py makes no column {', '.join(required)} of {name}.parquet, which the "
            "cycle reads (arrears.cycle.snapshot.SCHEMAS): teach chunk() to make it"
        )
    for c in missing:
        table = table.append_column(c, pa.nulls(table.num_rows, schema.field(c).type))
    return table.select(schema.names).cast(schema)


def make_lake(out: Path, loans: int, as_of: date, seed: int = 1) -> dict[str, int]:
    """Write ``loans`` loans to ``out/<table>.parquet``; returns rows per table."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writers: dict[str, pq.ParquetWriter] = {}
    counts: dict[str, int] = dict.fromkeys(SCHEMAS, 0)
    try:
        for start in range(0, loans, CHUNK):
            tables = chunk(rng, start, min(CHUNK, loans - start), as_of)
            for name, table in tables.items():
                table = _conform(name, table)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(out / f"{name}.parquet", SCHEMAS[name])
                writers[name].write_table(table)
                counts[name] += table.num_rows
    finally:
        for w in writers.values():
            w.close()
    return counts


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("loans", type=int)
    p.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 23))
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.loans < 1:
        p.error(f"LOANS must be at least 1, got {a.loans}")
    print(make_lake(a.out, a.loans, a.as_of, a.seed))


if __name__ == "__main__":
    main()
