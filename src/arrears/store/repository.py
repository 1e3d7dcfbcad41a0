"""Read and write domain objects: loans (with their instalments, payments and policy) and
daily delinquency snapshots."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from arrears.domain.codec import POLICY_FIELDS, policy_from_dict
from arrears.domain.delinquency import Statement
from arrears.domain.ledger import Loan, Payment, Waiver
from arrears.domain.schedule import Instalment, Method, build_schedule
from arrears.store import tables as t
from arrears.store.db import upsert_statement


class NotFound(LookupError):
    """No such record in the store."""


def _policy(loan_row: Mapping[Any, Any], portfolio_row: Mapping[Any, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in POLICY_FIELDS:
        value = loan_row.get(name)
        if value is None and portfolio_row is not None:
            value = portfolio_row.get(name)
        if value is not None:
            out[name] = value
    return out


def _loan(
    row: Mapping[Any, Any],
    portfolio_row: Mapping[Any, Any] | None,
    instalments: list[Instalment],
    payments: list[Payment],
    waivers: list[Waiver] | None = None,
) -> Loan:
    loan = build_loan({**row, **_policy(row, portfolio_row)}, instalments, payments)
    return replace(loan, waivers=tuple(waivers)) if waivers else loan


def waivers_of(conn: Connection, loan_ids: list[str] | None = None) -> dict[str, list[Waiver]]:
    """The waivers of ``loan_ids`` (every loan's when None), by loan."""
    w = t.waiver
    q = select(w).order_by(w.c.loan_id, w.c.on, w.c.waiver_id)
    if loan_ids is not None:
        q = q.where(w.c.loan_id.in_(loan_ids))
    out: dict[str, list[Waiver]] = defaultdict(list)
    for r in conn.execute(q).mappings():
        out[r["loan_id"]].append(
            Waiver(
                r["waiver_id"], r["on"], penalty=r["penalty"], fee=r["fee"], interest=r["interest"]
            )  # fmt: skip
        )
    return out


def build_loan(
    row: Mapping[Any, Any], instalments: list[Instalment], payments: list[Payment]
) -> Loan:
    """A domain Loan from a loan row whose policy columns are already resolved (NULL = the
    domain default); with no instalments, the schedule is built from the terms."""
    if not instalments:
        if row["method"] == Method.EXPLICIT.value:
            raise NotFound(f"loan {row['loan_id']}: explicit schedule has no instalments stored")
        instalments = list(
            build_schedule(
                principal=row["principal"],
                annual_rate=Decimal(row["annual_rate"]),
                method=Method(row["method"]),
                term_months=row["term_months"],
                first_due_date=row["first_due_date"],
            )
        )
    return Loan(
        loan_id=row["loan_id"],
        currency=row["currency"],
        principal=row["principal"],
        annual_rate=Decimal(row["annual_rate"]),
        instalments=tuple(sorted(instalments, key=lambda i: (i.due_date, i.seq))),
        policy=policy_from_dict(
            {k: row[k] for k in POLICY_FIELDS if row.get(k) is not None},
            prefix=f"loan {row['loan_id']} ",
        ),
        payments=tuple(payments),
    )


def _payment(row: Mapping[Any, Any]) -> Payment:
    return Payment(row["payment_id"], row["paid_on"], row["amount"], row["status"] == "reversed")


def _inst(row: Mapping[Any, Any]) -> Instalment:
    return Instalment(row["seq"], row["due_date"], row["principal"], row["interest"], row["fee"])


class LoanRepository:
    """Loans as domain objects, read through one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._portfolios: dict[str, Mapping[Any, Any]] | None = None

    def portfolios(self) -> dict[str, Mapping[Any, Any]]:
        if self._portfolios is None:
            rows = self.conn.execute(select(t.portfolio)).mappings()
            self._portfolios = {r["portfolio_id"]: dict(r) for r in rows}
        return self._portfolios

    def get(self, loan_id: str) -> Loan:
        row = (
            self.conn.execute(select(t.loan).where(t.loan.c.loan_id == loan_id)).mappings().first()
        )
        if row is None:
            raise NotFound(f"loan {loan_id!r} is not in the store")
        insts = self.conn.execute(
            select(t.instalment).where(t.instalment.c.loan_id == loan_id)
        ).mappings()
        pays = self.conn.execute(select(t.payment).where(t.payment.c.loan_id == loan_id)).mappings()
        return _loan(
            row,
            self.portfolios().get(row["portfolio_id"]),
            [_inst(r) for r in insts],
            [_payment(r) for r in pays],
            waivers_of(self.conn, [loan_id]).get(loan_id),
        )

    def iter_all(self, page: int = 5000) -> Iterator[tuple[str, Loan]]:
        """Every loan with its portfolio id, in loan_id order, ``page`` loans at a time."""
        yield from self.iter_range(None, None, page)

    def iter_range(
        self, after: str | None, upto: str | None, page: int = 5000
    ) -> Iterator[tuple[str, Loan]]:
        """Loans with ``after < loan_id <= upto`` (None: unbounded), in loan_id order."""
        last = after
        while True:
            q = select(t.loan).order_by(t.loan.c.loan_id).limit(page)
            if last is not None:
                q = q.where(t.loan.c.loan_id > last)
            if upto is not None:
                q = q.where(t.loan.c.loan_id <= upto)
            rows = list(self.conn.execute(q).mappings())
            if not rows:
                return
            yield from self._page(rows)
            last = rows[-1]["loan_id"]

    def _page(self, rows: list[Any]) -> Iterator[tuple[str, Loan]]:
        lo, hi = rows[0]["loan_id"], rows[-1]["loan_id"]
        insts: dict[str, list[Instalment]] = defaultdict(list)
        for r in self.conn.execute(
            select(t.instalment).where(t.instalment.c.loan_id.between(lo, hi))
        ).mappings():
            insts[r["loan_id"]].append(_inst(r))
        pays: dict[str, list[Payment]] = defaultdict(list)
        for r in self.conn.execute(
            select(t.payment).where(t.payment.c.loan_id.between(lo, hi))
        ).mappings():
            pays[r["loan_id"]].append(_payment(r))
        portfolios = self.portfolios()
        waived = waivers_of(self.conn, [r["loan_id"] for r in rows])
        for row in rows:
            lid = row["loan_id"]
            pid = row["portfolio_id"]
            yield pid, _loan(row, portfolios.get(pid), insts.pop(lid, []), pays.pop(lid, []),
                             waived.get(lid))  # fmt: skip

    def boundaries(self, every: int) -> list[str]:
        """Every ``every``-th loan id in order: split points for parallel work."""
        numbered = select(
            t.loan.c.loan_id, func.row_number().over(order_by=t.loan.c.loan_id).label("n")
        ).subquery()
        q = select(numbered.c.loan_id).where(numbered.c.n % every == 0).order_by(numbered.c.loan_id)
        return list(self.conn.execute(q).scalars())

    def count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.loan)).scalar_one())


SNAPSHOT_KEYS = ("as_of", "loan_id")


def snapshot_row(portfolio_id: str, st: Statement) -> dict[str, Any]:
    return {
        "as_of": st.as_of,
        "loan_id": st.loan_id,
        "portfolio_id": portfolio_id,
        "dpd": st.dpd,
        "bucket": st.bucket,
        "stage": st.stage,
        "overdue_principal": st.overdue.principal,
        "overdue_interest": st.overdue.interest,
        "overdue_fee": st.overdue.fee,
        "overdue_penalty": st.overdue.penalty,
        "total_due": st.total_due,
        "outstanding_principal": st.outstanding_principal,
        "penalty_accrued": st.penalty_accrued,
        "cap_reached": st.cap_reached,
    }


def write_snapshots(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert one day's delinquency snapshot rows (re-running a date replaces them)."""
    if rows:
        conn.execute(upsert_statement(conn, t.delinquency_snapshot, SNAPSHOT_KEYS), rows)


def snapshot_exists(conn: Connection, as_of: date) -> bool:
    q = select(t.delinquency_snapshot.c.loan_id).where(t.delinquency_snapshot.c.as_of == as_of)
    return conn.execute(q.limit(1)).first() is not None
