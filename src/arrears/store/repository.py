"""Read and write domain objects: loans (with their instalments, payments and policy) and
daily delinquency snapshots."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, or_, select

from arrears.domain.codec import POLICY_FIELDS, policy_from_dict
from arrears.domain.delinquency import Statement
from arrears.domain.ledger import (
    Arrangement,
    Extension,
    LedgerEvent,
    Loan,
    Pause,
    Payment,
    Plan,
    Settlement,
    Waiver,
)
from arrears.domain.schedule import Instalment, Method, build_schedule
from arrears.store import tables as t
from arrears.store.db import as_utc, upsert_statement


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
    events: list[LedgerEvent] | None = None,
) -> Loan:
    loan = build_loan({**row, **_policy(row, portfolio_row)}, instalments, payments)
    return loan.with_events(events or ())


#: arrangement statuses whose terms are in the ledger (agreed, whatever became of them since)
AGREED = ("active", "completed", "breached", "kept", "lapsed")


def arrangement_event(kind: str, arrangement_id: str, starts_on: date, terms: str) -> Arrangement:
    """The ledger event of an agreed extension, plan or settlement from its stored terms."""
    t_ = json.loads(terms)
    if kind == "extension":
        return Extension(
            arrangement_id,
            starts_on,
            date.fromisoformat(t_["until"]),
            fee=int(t_.get("fee", 0)),
            rate=Decimal(t_.get("rate", "0")),
        )
    if kind == "plan":
        return Plan(
            arrangement_id,
            starts_on,
            tuple(date.fromisoformat(d) for d in t_["dues"]),
            whole_balance=bool(t_.get("whole_balance", False)),
            fee=int(t_.get("fee", 0)),
            breach_after=int(t_.get("breach_after", 2)),
            grace_days=int(t_.get("grace_days", 0)),
        )
    if kind == "settlement":
        return Settlement(
            arrangement_id, starts_on, int(t_["amount"]), date.fromisoformat(t_["pay_by"])
        )
    raise ValueError(f"arrangement {arrangement_id}: {kind} is not a ledger arrangement")


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
            )
        )
    return out


def events_of(conn: Connection, loan_ids: list[str] | None = None) -> dict[str, list[LedgerEvent]]:
    """Everything besides payments the replay applies to ``loan_ids`` (every loan's when None):
    waivers, agreed extensions, plans and settlements, and the penalty pauses of the holds
    whose kind pauses penalty under the portfolio's rulebook."""
    out: dict[str, list[LedgerEvent]] = defaultdict(list)
    for loan_id, items in waivers_of(conn, loan_ids).items():
        out[loan_id].extend(items)
    ar = t.arrangement
    q = select(ar.c.loan_id, ar.c.arrangement_id, ar.c.kind, ar.c.starts_on, ar.c.terms).where(
        ar.c.kind.in_(("extension", "plan", "settlement")),
        ar.c.status.in_(AGREED),
        ar.c.terms.is_not(None),  # history loaded without terms is not a ledger event
    )
    if loan_ids is not None:
        q = q.where(ar.c.loan_id.in_(loan_ids))
    for r in conn.execute(q.order_by(ar.c.loan_id, ar.c.starts_on, ar.c.arrangement_id)):
        out[r.loan_id].append(arrangement_event(r.kind, r.arrangement_id, r.starts_on, r.terms))
    for loan_id, pause in _pauses(conn, loan_ids):
        out[loan_id].append(pause)
    return out


def _pauses(conn: Connection, loan_ids: list[str] | None) -> Iterator[tuple[str, Pause]]:
    from arrears.compliance.rulebook import load as load_rulebook

    pausing = {}
    for pid, book, tz in conn.execute(
        select(t.portfolio.c.portfolio_id, t.portfolio.c.rulebook, t.portfolio.c.timezone)
    ):
        kinds = load_rulebook(book).holds.pause_penalty
        if kinds:
            pausing[pid] = (frozenset(kinds), ZoneInfo(tz))
    if not pausing:
        return
    h, ln = t.hold, t.loan
    q = select(ln.c.loan_id, ln.c.portfolio_id, h.c.kind, h.c.starts_at, h.c.ends_at).join(
        h,
        or_(
            h.c.loan_id == ln.c.loan_id,
            and_(h.c.loan_id.is_(None), h.c.borrower_id == ln.c.borrower_id),
        ),
    )
    q = q.where(h.c.kind.in_(sorted(set().union(*(k for k, _ in pausing.values())))))
    if loan_ids is not None:
        q = q.where(ln.c.loan_id.in_(loan_ids))
    for r in conn.execute(q):
        rule = pausing.get(r.portfolio_id)
        if rule is None or r.kind not in rule[0]:
            continue
        tz = rule[1]
        end = None if r.ends_at is None else as_utc(r.ends_at).astimezone(tz).date()
        yield r.loan_id, Pause(as_utc(r.starts_at).astimezone(tz).date(), end)


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
            events_of(self.conn, [loan_id]).get(loan_id),
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
        events = events_of(self.conn, [r["loan_id"] for r in rows])
        for row in rows:
            lid = row["loan_id"]
            pid = row["portfolio_id"]
            yield (
                pid,
                _loan(
                    row, portfolios.get(pid), insts.pop(lid, []), pays.pop(lid, []), events.get(lid)
                ),
            )

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
