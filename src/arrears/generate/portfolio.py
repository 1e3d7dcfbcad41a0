"""Generate a portfolio in the ingestion format, chunk by chunk, deterministic by seed.

Chunk k of a run with seed s is made by its own RNG seeded from (s, k), so the output is the
same whatever the number of worker processes, and memory is bounded by a few chunks in flight.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from arrears.domain.ledger import Allocation, Loan, PenaltyBase, Policy
from arrears.domain.schedule import Instalment, Method, add_months, build_schedule
from arrears.generate import behaviour as bh
from arrears.generate import history, people
from arrears.generate.writers import ENTITY_ORDER, open_writers
from arrears.parallel import ordered_map

Rows = dict[str, list[dict[str, Any]]]

PORTFOLIOS: tuple[dict[str, Any], ...] = (
    {
        "portfolio_id": "cash",
        "name": "随借随还 现金贷 Cash loans",
        "creditor": "示例消费金融有限公司 Demo Consumer Finance Co.",
        "product": "cash_loan",
        "currency": "CNY",
        "rulebook": "cn",
        "strategy": "default",
        "timezone": "Asia/Shanghai",
        "penalty_daily_rate": None,
        "penalty_rate_multiplier": "1.5",
        "penalty_base": "principal",
        "grace_days": 0,
        "penalty_rate_cap_annual": "0.24",
        "charges_cap_ratio": None,
        "allocation": "components_first",
    },
    {
        "portfolio_id": "fenqi",
        "name": "分期购物 Instalment purchases",
        "creditor": "示例消费金融有限公司 Demo Consumer Finance Co.",
        "product": "instalment",
        "currency": "CNY",
        "rulebook": "cn",
        "strategy": "default",
        "timezone": "Asia/Shanghai",
        "penalty_daily_rate": "0.0005",
        "penalty_rate_multiplier": None,
        "penalty_base": "principal_interest",
        "grace_days": 3,
        "penalty_rate_cap_annual": None,
        "charges_cap_ratio": "0.24",
        "allocation": "components_first",
    },
)
CASH_RATES = ("0.0730", "0.1080", "0.1460", "0.1825", "0.2190", "0.2400")


@dataclass(frozen=True)
class Options:
    loans: int
    seed: int
    as_of: date
    fmt: str = "csv"
    chunk: int = 10_000
    workers: int = 1


def _policy(p: dict[str, Any]) -> Policy:
    def dec(key: str) -> Decimal | None:
        return None if p[key] is None else Decimal(p[key])

    return Policy(
        daily_rate=dec("penalty_daily_rate"),
        rate_multiplier=dec("penalty_rate_multiplier"),
        base=PenaltyBase(p["penalty_base"]),
        grace_days=p["grace_days"],
        rate_cap_annual=dec("penalty_rate_cap_annual"),
        charges_cap_ratio=dec("charges_cap_ratio"),
        allocation=Allocation(p["allocation"]),
    )


POLICIES = {p["portfolio_id"]: _policy(p) for p in PORTFOLIOS}


def _amount(rng: random.Random, median_yuan: float, low: int, high: int) -> int:
    """A log-normal amount in whole hundreds of yuan, returned in fen."""
    yuan = min(max(rng.lognormvariate(0, 0.8) * median_yuan, low), high)
    return int(round(yuan / 100) * 100) * 100


def _loan(rng: random.Random, n: int, as_of: date) -> tuple[dict[str, Any], Loan]:
    loan_id = f"LN{n:010d}"
    originated = as_of - timedelta(days=int(720 * rng.random() ** 1.6) + 1)
    first_due = add_months(originated, 1)
    if rng.random() < 0.7:
        pid = "cash"
        principal = _amount(rng, 8000, 500, 200_000)
        rate = Decimal(rng.choice(CASH_RATES))
        method = Method.EQUAL_PAYMENT if rng.random() < 0.7 else Method.EQUAL_PRINCIPAL
        term = rng.choice((3, 6, 6, 12, 12, 12))
        schedule = build_schedule(
            principal=principal,
            annual_rate=rate,
            method=method,
            term_months=term,
            first_due_date=first_due,
        )
    else:
        pid = "fenqi"
        principal = _amount(rng, 4000, 300, 50_000)
        rate = Decimal("0")
        method = Method.EXPLICIT
        term = rng.choice((3, 6, 9, 12, 24))
        base = build_schedule(
            principal=principal,
            annual_rate=rate,
            method=Method.EQUAL_PRINCIPAL,
            term_months=term,
            first_due_date=first_due,
        )
        fee = principal * 6 // 1000  # a 0.6% monthly service fee, the usual 分期 price
        schedule = tuple(Instalment(i.seq, i.due_date, i.principal, 0, fee) for i in base)
    row = {
        "loan_id": loan_id,
        "portfolio_id": pid,
        "borrower_id": f"BR{n:010d}",
        "currency": "CNY",
        "principal": principal,
        "annual_rate": str(rate),
        "method": method.value,
        "term_months": term,
        "first_due_date": first_due,
        "originated_on": originated,
    }
    loan = Loan(loan_id, "CNY", principal, rate, schedule, POLICIES[pid])
    return row, loan


def _borrower(rng: random.Random, p: people.Pools, n: int, as_of: date, rows: Rows) -> None:
    bid = f"BR{n:010d}"
    locale = "en" if rng.random() < 0.03 else "zh-CN"
    tz = rng.choices(("Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong"), (95, 4, 1))[0]
    consents = "sms,push,email,letter,robocall,agent_call,visit"
    if rng.random() < 0.1:
        consents = "sms,push,email,letter,agent_call,visit"
    rows["borrowers"].append(
        {
            "borrower_id": bid,
            "name": rng.choice(p.names),
            "national_id": people.national_id(rng, p, as_of),
            "locale": locale,
            "timezone": tz,
            "consents": consents,
            "contact_window": "09:00-20:00" if rng.random() < 0.05 else None,
            "preferred_channel": None,  # chosen by the borrower in the portal
        }
    )
    points: list[tuple[str, str, str | None, str | None, str, bool, bool]] = [
        ("phone", "borrower", None, None, people.mobile(rng, p), True, True)
    ]
    if rng.random() < 0.25:
        points.append(
            ("phone", "borrower", None, None, people.mobile(rng, p), rng.random() > 0.3, False)
        )
    if rng.random() < 0.6:
        points.append(("email", "borrower", None, None, people.email(rng, p, n), True, True))
    if rng.random() < 0.9:
        points.append(("address", "borrower", None, None, rng.choice(p.addresses), True, True))
    for _ in range(rng.choice((1, 1, 2))):
        points.append(
            (
                "phone",
                "emergency_contact",
                rng.choice(p.names),
                rng.choice(people.RELATIONS),
                people.mobile(rng, p),
                True,
                False,
            )
        )
    for k, (kind, role, owner, relation, value, valid, primary) in enumerate(points, 1):
        rows["contact_points"].append(
            {
                "contact_id": f"{bid}-C{k}",
                "borrower_id": bid,
                "kind": kind,
                "owner_role": role,
                "owner_name": owner,
                "relation": relation,
                "value": value,
                "opt_outs": None,
                "is_valid": valid,
                "is_primary": primary,
            }
        )


def make_chunk(seed: int, index: int, start: int, count: int, as_of: date) -> Rows:
    """Rows for loans ``start .. start+count-1``; a pure function of its arguments."""
    rng = random.Random(seed * 1_000_003 + index)
    p = people.pools(seed)
    rows: Rows = {name: [] for name in ENTITY_ORDER}
    for n in range(start, start + count):
        _borrower(rng, p, n, as_of, rows)
        row, loan = _loan(rng, n, as_of)
        rows["loans"].append(row)
        rows["instalments"].extend(
            {
                "loan_id": loan.loan_id,
                "seq": i.seq,
                "due_date": i.due_date,
                "principal": i.principal,
                "interest": i.interest,
                "fee": i.fee,
            }
            for i in loan.instalments
        )
        behaviour = bh.pick(rng)
        row["score"] = bh.score(behaviour, n)
        loan = bh.simulate(loan, behaviour, as_of, rng)
        history.collection(
            random.Random(seed * 1_000_003 + n), loan, row["borrower_id"], as_of, rows
        )
        rows["payments"].extend(
            {
                "payment_id": pay.payment_id,
                "loan_id": loan.loan_id,
                "paid_on": pay.date,
                "amount": pay.amount,
                "status": "posted",
                "reversed_on": None,
                "source": "bank_transfer",
            }
            for pay in loan.payments
        )
    return rows


def _chunks(opts: Options) -> Iterator[tuple[int, int, int]]:
    for index, start in enumerate(range(0, opts.loans, opts.chunk)):
        yield index, start + 1, min(opts.chunk, opts.loans - start)


def _results(opts: Options) -> Iterator[Rows]:
    """Chunks in order; with workers, a bounded window of chunks computed ahead."""
    jobs = ((opts.seed, index, start, count, opts.as_of) for index, start, count in _chunks(opts))
    return ordered_map(make_chunk, jobs, opts.workers)


def generate(
    out: Path, opts: Options, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Write the portfolio to ``out``; return rows written per file kind."""
    if opts.loans < 1:
        raise ValueError("--loans must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(ENTITY_ORDER, 0)
    with open_writers(out, opts.fmt) as writers:
        writers["portfolios"].write(list(PORTFOLIOS))
        counts["portfolios"] = len(PORTFOLIOS)
        for rows in _results(opts):
            for name, items in rows.items():
                if items:
                    writers[name].write(items)
                    counts[name] += len(items)
            if progress:
                progress(len(rows["loans"]))
    return counts
