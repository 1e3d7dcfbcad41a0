"""Small ingestion files written by the tests themselves."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

PORTFOLIO = {
    "portfolio_id": "cash",
    "name": "Cash loans",
    "creditor": "Demo Finance",
    "product": "cash_loan",
    "currency": "CNY",
    "rulebook": "cn",
    "strategy": "default",
    "timezone": "Asia/Shanghai",
    "penalty_rate_multiplier": "1.5",
    "penalty_base": "principal",
    "grace_days": "0",
    "allocation": "components_first",
}
BORROWER = {
    "borrower_id": "B1",
    "name": "张三",
    "national_id": "110101199003077774",
    "locale": "zh-CN",
    "timezone": "Asia/Shanghai",
    "consents": "sms,push,agent_call",
}
CONTACT = {
    "contact_id": "B1-C1",
    "borrower_id": "B1",
    "kind": "phone",
    "owner_role": "borrower",
    "value": "13812345678",
    "is_valid": "true",
    "is_primary": "true",
}
LOAN = {
    "loan_id": "L1",
    "portfolio_id": "cash",
    "borrower_id": "B1",
    "currency": "CNY",
    "principal": "1200000",
    "annual_rate": "0.18",
    "method": "equal_payment",
    "term_months": "12",
    "first_due_date": "2026-01-15",
}


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in columns})
    return path


def readme_loan_files(folder: Path, payments: list[dict[str, Any]] | None = None) -> Path:
    """The README loan as ingestion files (schedule derived from its terms)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "portfolios.csv", [PORTFOLIO])
    write_csv(folder / "borrowers.csv", [BORROWER])
    write_csv(folder / "contact_points.csv", [CONTACT])
    write_csv(folder / "loans.csv", [LOAN])
    if payments:
        write_csv(folder / "payments.csv", payments)
    return folder


def two_borrower_files(folder: Path) -> Path:
    """The README loan (B1, L1) and a second borrower's loan like it (B2, L2)."""
    readme_loan_files(folder)
    b2 = {**BORROWER, "borrower_id": "B2", "name": "李四", "national_id": "110101198807070012"}
    c2 = {**CONTACT, "contact_id": "B2-C1", "borrower_id": "B2", "value": "13900001111"}
    l2 = {**LOAN, "loan_id": "L2", "borrower_id": "B2", "principal": "600000"}
    write_csv(folder / "borrowers.csv", [BORROWER, b2])
    write_csv(folder / "contact_points.csv", [CONTACT, c2])
    write_csv(folder / "loans.csv", [LOAN, l2])
    return folder
