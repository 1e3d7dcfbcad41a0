"""Domain loans as the snapshot's Arrow tables (what the cycle reads from the store)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from arrears.domain.codec import POLICY_FIELDS
from arrears.domain.ledger import Loan


def policy_row(loan: Loan) -> dict[str, str | int | None]:
    p = loan.policy
    return {
        "penalty_daily_rate": None if p.daily_rate is None else str(p.daily_rate),
        "penalty_rate_multiplier": None if p.rate_multiplier is None else str(p.rate_multiplier),
        "penalty_base": p.base.value,
        "grace_days": p.grace_days,
        "penalty_rate_cap_annual": None if p.rate_cap_annual is None else str(p.rate_cap_annual),
        "charges_cap_ratio": None if p.charges_cap_ratio is None else str(p.charges_cap_ratio),
        "allocation": p.allocation.value,
    }


def tables(loans: Sequence[Loan]) -> tuple[pa.Table, pa.Table, pa.Table]:
    rows, inst, pays = [], [], []
    for k, loan in enumerate(loans):
        rows.append(
            {
                "loan_id": loan.loan_id,
                "currency": loan.currency,
                "principal": loan.principal,
                "annual_rate": str(loan.annual_rate),
                "method": "explicit",
                "term_months": None,
                "first_due_date": None,
                **policy_row(loan),
            }
        )
        for i in loan.instalments:
            inst.append(
                {
                    "loan_idx": k,
                    "seq": i.seq,
                    "due_date": i.due_date,
                    "principal": i.principal,
                    "interest": i.interest,
                    "fee": i.fee,
                }
            )
        for p in loan.payments:
            if not p.reversed:
                pays.append(
                    {
                        "loan_idx": k,
                        "payment_id": p.payment_id,
                        "paid_on": p.date,
                        "amount": p.amount,
                    }
                )
    assert set(POLICY_FIELDS) <= set(rows[0]) if rows else True
    inst_schema = pa.schema(
        [
            ("loan_idx", pa.int64()),
            ("seq", pa.int32()),
            ("due_date", pa.date32()),
            ("principal", pa.int64()),
            ("interest", pa.int64()),
            ("fee", pa.int64()),
        ]
    )
    pay_schema = pa.schema(
        [
            ("loan_idx", pa.int64()),
            ("payment_id", pa.string()),
            ("paid_on", pa.date32()),
            ("amount", pa.int64()),
        ]
    )
    return (
        pa.Table.from_pylist(rows),
        pa.Table.from_pylist(inst, inst_schema),
        pa.Table.from_pylist(pays, pay_schema),
    )
