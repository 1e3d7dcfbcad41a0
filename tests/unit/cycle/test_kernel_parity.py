"""The compiled portfolio replay equals the scalar domain, loan by loan, to the minor unit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.cycle.book_delinquency import compute, compute_parts
from arrears.cycle.snapshot import SCHEMAS, Snapshot, conform
from arrears.domain.delinquency import DEFAULT_BUCKETS, DEFAULT_STAGES, statement
from arrears.domain.ledger import Loan
from tests.unit.cycle.portfolio import tables
from tests.unit.loans import example
from tests.unit.test_ledger_properties import AS_OF, loans


def _expected(loan: Loan, as_of: date) -> dict[str, object]:
    s = statement(loan, as_of, explain=False)
    return {
        "loan_id": loan.loan_id,
        "dpd": s.dpd,
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
        "cap_reached_on": s.cap_reached_on,
        "credit_balance": s.credit_balance,
        "paid_total": s.paid_total,
        "oldest_unpaid_due": s.oldest_unpaid_due_date,
        "next_due": s.next_due_date,
        "bucket": s.bucket,
        "stage": s.stage,
        "paid_today": any(not p.reversed and p.date == as_of for p in loan.payments),
        "paid_today_amount": sum(
            p.amount for p in loan.payments if not p.reversed and p.date == as_of
        ),
        "quarantine": None,  # every loan the domain can replay is computed
    }


def _check(portfolio: list[Loan], as_of: date) -> None:
    got = compute(*tables(portfolio), as_of, buckets=DEFAULT_BUCKETS, stages=DEFAULT_STAGES)
    rows = got.to_pylist()
    assert len(rows) == len(portfolio)
    for loan, row in zip(portfolio, rows, strict=True):
        assert row == _expected(loan, as_of), loan


@settings(max_examples=200, deadline=None)
@given(st.lists(loans(), min_size=1, max_size=6), AS_OF)
def test_portfolio_replay_equals_the_scalar_domain(portfolio: list[Loan], as_of: date) -> None:
    portfolio = [replace(loan, loan_id=f"L{k}") for k, loan in enumerate(portfolio)]
    _check(portfolio, as_of)


@settings(max_examples=40, deadline=None)
@given(st.lists(loans(), min_size=1, max_size=9), AS_OF, st.integers(1, 4))
def test_the_book_in_parts_on_two_threads_equals_the_book_at_once(
    portfolio: list[Loan], as_of: date, part: int
) -> None:
    """The parts' loan ranges cut through the book anywhere; the result is the same table."""
    portfolio = [replace(loan, loan_id=f"L{k}") for k, loan in enumerate(portfolio)]
    loans_t, inst, pays = tables(portfolio)
    snap = Snapshot(
        as_of,
        **{name: schema.empty_table() for name, schema in SCHEMAS.items()},
    )
    snap.instalments, snap.payments = (
        conform("instalments", inst, "t"),
        conform("payments", pays, "t"),
    )
    whole = compute(loans_t, inst, pays, as_of, buckets=DEFAULT_BUCKETS, stages=DEFAULT_STAGES)
    parts = compute_parts(
        loans_t, snap.ledger, as_of, buckets=DEFAULT_BUCKETS, stages=DEFAULT_STAGES, part=part
    )
    assert parts.to_pylist() == whole.to_pylist()


def test_the_readme_example_35_days_late() -> None:
    loan = example()
    as_of = date(2026, 1, 15) + timedelta(days=35)
    _check([loan], as_of)
    row = compute(*tables([loan]), as_of, buckets=DEFAULT_BUCKETS, stages=DEFAULT_STAGES)
    assert row["total_due"][0].as_py() == 222727  # the README's hand-worked 2,227.27


def test_huge_amounts_take_the_scalar_path_and_still_agree() -> None:
    loan = example(
        principal=4_000_000_000_000_000,
        policy={"penalty_daily_rate": "0.0123457", "charges_cap_ratio": "0.24"},
    )
    _check([loan, example(loan_id="small")], date(2026, 6, 30))


@settings(deadline=None)  # the first example compiles the kernel
@given(st.text(max_size=12), st.lists(st.text(max_size=20), max_size=30))
def test_compiled_experiment_buckets_equal_the_scalar_hash(salt: str, ids: list[str]) -> None:
    import pyarrow as pa

    from arrears.cycle.accounts import bucket, buckets_of

    assert buckets_of(salt, pa.array(ids, pa.string())).to_pylist() == [
        bucket(salt, x) for x in ids
    ]


def test_fnv1a_matches_the_published_vectors() -> None:
    from arrears.cycle.kernel import fnv1a

    assert fnv1a(b"") == 0xCBF29CE484222325
    assert fnv1a(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a(b"foobar") == 0x85944171F73967E8
