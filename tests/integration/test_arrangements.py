"""Waivers through the service layer with two roles, checked by hand on the README loan as of
2026-02-19 (penalty 26.95, interest 346.20, total 2,227.27): within a collector's limit at once;
above it only with a second person in an approving role (never the proposer); the ledger, the
statement and the cycle's replay all see the result."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.cycle import snapshot
from arrears.cycle.delinquency import compute_parts
from arrears.domain.delinquency import DEFAULT_BUCKETS, DEFAULT_STAGES
from arrears.service.arrangements import approve, largest_allowed, propose_waiver, reject
from arrears.service.errors import ServiceError
from arrears.service.statements import statement_for_loan
from arrears.store import tables as t
from arrears.store.ingest.loader import ingest
from tests.support.files import readme_loan_files

DAY = date(2026, 2, 19)
NOW = datetime(2026, 2, 19, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def loan(app: App, tmp_path: Path) -> App:
    ingest(app.engine, app.cipher, [readme_loan_files(tmp_path / "in")], clock=lambda: NOW)
    app.clock = lambda: NOW
    return app


def _total(app: App) -> int:
    return int(statement_for_loan(app, "L1", DAY)["total_due"])


def test_waivers_within_limits_at_once_above_them_only_with_a_second_person(loan: App) -> None:
    assert _total(loan) == 222727
    assert largest_allowed(loan, "L1", "collector", "penalty") == 808  # floor(2,695 x 0.30)
    p = propose_waiver(loan, "L1", {"penalty": 808}, by="C1", role="collector", reason="hardship")
    assert p.status == "active"
    assert p.effect["saving_to_borrower"] == p.effect["cost_to_lender"] == 808
    assert (p.effect["total_due_before"], p.effect["total_due_after"]) == (222727, 221919)
    st = statement_for_loan(loan, "L1", DAY)
    assert st["total_due"] == 221919 and st["waived"]["penalty"] == 808
    assert st["overdue"]["penalty"] == 1887
    # the rest of the penalty is above a collector's 30%: it waits for a second person
    big = propose_waiver(loan, "L1", {"penalty": 1887}, by="C1", role="collector", reason="x")
    assert big.status == "pending_approval" and _total(loan) == 221919
    with pytest.raises(ServiceError, match="C1 proposed it; a second person must approve"):
        approve(loan, big.arrangement_id, by="C1", role="supervisor")
    with pytest.raises(ServiceError, match="a collector cannot approve"):
        approve(loan, big.arrangement_id, by="C2", role="collector")
    assert approve(loan, big.arrangement_id, by="S1", role="supervisor").status == "active"
    assert _total(loan) == 221919 - 1887 == 220032
    with pytest.raises(ServiceError, match="is active, not waiting"):
        approve(loan, big.arrangement_id, by="S2", role="supervisor")
    # all the interest is above a supervisor's 20%: a second person again, even for them
    interest = propose_waiver(loan, "L1", {"interest": 34620}, by="S1", role="supervisor",
                              reason="complaint upheld")  # fmt: skip
    assert interest.status == "pending_approval"
    with pytest.raises(ServiceError, match="second person"):
        approve(loan, interest.arrangement_id, by="S1", role="supervisor")
    approve(loan, interest.arrangement_id, by="A1", role="admin")
    assert _total(loan) == 185412  # only the principal past due is left
    with pytest.raises(ServiceError, match="interest: 1 is more than the 0 unpaid"):
        propose_waiver(loan, "L1", {"interest": 1}, by="S1", role="supervisor", reason="x")
    with pytest.raises(ServiceError, match="principal: only penalty, fee, interest"):
        propose_waiver(loan, "L1", {"principal": 1}, by="S1", role="supervisor", reason="x")
    # the cycle's replay (the compiled kernel routes waived loans to the scalar domain)
    snap = snapshot.from_store(loan.engine, DAY)
    d = compute_parts(snap.loans, snap.ledger, DAY, buckets=DEFAULT_BUCKETS,
                      stages=DEFAULT_STAGES, events=snap.events)  # fmt: skip
    assert d["total_due"].to_pylist() == [185412]
    with loan.engine.connect() as conn:
        rows = conn.execute(select(t.arrangement.c.status, t.arrangement.c.approved_by)
                            .order_by(t.arrangement.c.proposed_at)).all()  # fmt: skip
    assert sorted(rows) == sorted([("active", "C1"), ("active", "S1"), ("active", "A1")])


def test_a_rejected_proposal_changes_nothing(loan: App) -> None:
    p = propose_waiver(loan, "L1", {"penalty": 2695}, by="C1", role="collector", reason="x")
    reject(loan, p.arrangement_id, by="S1", reason="no hardship shown")
    assert _total(loan) == 222727
    with pytest.raises(ServiceError, match="not waiting"):
        reject(loan, p.arrangement_id, by="S1", reason="again")
    with pytest.raises(ServiceError, match="role: expected one of"):
        propose_waiver(loan, "L1", {"penalty": 1}, by="X", role="intern", reason="x")
