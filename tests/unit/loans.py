"""Loans for the unit tests, built the way a lender's file would describe them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from arrears.domain.codec import loan_from_dict
from arrears.domain.ledger import Loan


def example(**overrides: Any) -> Loan:
    """The README example: 12,000.00 CNY at 18% over 12 months from 2026-01-15."""
    data: dict[str, Any] = {
        "loan_id": "L1",
        "currency": "CNY",
        "principal": 1200000,
        "annual_rate": "0.18",
        "method": "equal_payment",
        "term_months": 12,
        "first_due_date": "2026-01-15",
        "policy": {"penalty_rate_multiplier": "1.5", "penalty_base": "principal"},
        "payments": [],
    }
    policy = overrides.pop("policy", None)
    if policy is not None:
        data["policy"] = policy
    data.update(overrides)
    return loan_from_dict(data)


D = date
R = Decimal
