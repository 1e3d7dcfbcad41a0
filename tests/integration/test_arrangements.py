"""Waivers through the service layer with two roles, checked by hand on the README loan as of
2026-02-19 (penalty 26.95, interest 346.20, total 2,227.27): within a collector's limit at once;
above it only with a second person in an approving role (never the proposer); the ledger, the
statement and the cycle's replay all see the result."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.cycle import snapshot
from arrears.cycle.book_delinquency import compute_parts
from arrears.domain.delinquency import DEFAULT_BUCKETS, DEFAULT_STAGES
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.approvals import approve, reject
from arrears.service.cases.arrangements import largest_allowed, propose, propose_waiver
from arrears.service.cases.hold_records import end_hold, start_hold
from arrears.service.cases.payments import post_payment, reverse_payment
from arrears.service.errors import ServiceError
from arrears.service.queries.casework import arrangement_listing
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
    interest = propose_waiver(
        loan, "L1", {"interest": 34620}, by="S1", role="supervisor", reason="complaint upheld"
    )
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
    d = compute_parts(
        snap.loans,
        snap.ledger,
        DAY,
        buckets=DEFAULT_BUCKETS,
        stages=DEFAULT_STAGES,
        events=snap.events,
    )
    assert d["total_due"].to_pylist() == [185412]
    listed = arrangement_listing(loan, "L1", limit=50, offset=0).rows
    rows = [(a["status"], a["approved_by"]) for a in listed]
    assert sorted(rows) == sorted([("active", "C1"), ("active", "S1"), ("active", "A1")])


def test_a_rejected_proposal_changes_nothing(loan: App) -> None:
    p = propose_waiver(loan, "L1", {"penalty": 2695}, by="C1", role="collector", reason="x")
    with pytest.raises(ServiceError, match="C1 proposed it"):  # four eyes, as for approval
        reject(loan, p.arrangement_id, by="C1", role="supervisor", reason="mine")
    with pytest.raises(ServiceError, match="a collector cannot reject"):
        reject(loan, p.arrangement_id, by="C2", role="collector", reason="not mine")
    reject(loan, p.arrangement_id, by="S1", role="supervisor", reason="no hardship shown")
    assert _total(loan) == 222727
    with pytest.raises(ServiceError, match="not waiting"):
        reject(loan, p.arrangement_id, by="S1", role="supervisor", reason="again")
    with loan.engine.connect() as conn:  # the decision is in the evidence log
        rejected = t.audit_log.c.kind == "arrangement_rejected"
        [entry] = conn.execute(select(t.audit_log.c.payload).where(rejected)).all()
    assert "no hardship shown" in str(entry[0]) and "S1" in str(entry[0])
    with pytest.raises(ServiceError, match="role: expected one of"):
        propose_waiver(loan, "L1", {"penalty": 1}, by="X", role="intern", reason="x")


def test_an_extension_through_the_service_and_the_cycle(loan: App) -> None:
    # 29 days (to 03-20) is within a collector's 30: agreed at once. Fee: 1% of the 2,200.32
    # moved = 22.00; interest at the loan's 18% for 29 days: 13.34 + 13.54 (see the domain
    # tests). Without it, on 03-20: 64 x 69 + 33 x 70 = 6,726 of penalty; with it the penalty
    # stays 2,695, so the borrower saves 40.31 of penalty and pays 48.88 more: -8.57.
    p = propose(
        loan, "L1", "extension", {"days": 29}, by="C1", role="collector", reason="salary late"
    )
    assert p.status == "active"
    e = p.effect
    assert e["terms"] == {"until": "2026-03-20", "fee": 2200, "rate": "0.18"}
    assert [(r["due_date"], r["amount"]) for r in e["schedule"]] == [
        ("2026-03-20", 92016 + 18000 + 1334 + 2200 + 2415),
        ("2026-03-20", 93396 + 16620 + 1354 + 280),
    ]
    assert (e["baseline"], e["total_cost"]) == (110016 + 4416 + 110016 + 2310, 227615)
    assert e["saving_to_borrower"] == -857 and (e["dpd_before"], e["dpd_after"]) == (35, -24)
    st = statement_for_loan(loan, "L1", DAY)
    assert (st["dpd"], st["total_due"]) == (-24, 0)
    moved = [i for i in st["instalments"] if i["original_due_date"]]
    assert [(i["seq"], i["due_date"], i["original_due_date"]) for i in moved] == [
        (1, "2026-03-20", "2026-01-15"),
        (2, "2026-03-20", "2026-02-15"),
    ]
    assert st["arrangements"][0]["kind"] == "extension"
    with pytest.raises(ServiceError, match="extension ar-.* is in force; one at a time"):
        propose(loan, "L1", "extension", {"days": 5}, by="C1", role="collector", reason="x")
    snap = snapshot.from_store(loan.engine, DAY)
    d = compute_parts(
        snap.loans,
        snap.ledger,
        DAY,
        buckets=DEFAULT_BUCKETS,
        stages=DEFAULT_STAGES,
        events=snap.events,
    )
    assert (d["dpd"].to_pylist(), d["total_due"].to_pylist()) == ([-24], [0])


def test_limits_of_the_portfolio_and_of_the_role(loan: App) -> None:
    with pytest.raises(ServiceError, match="until: must be 1 to 90 days"):
        propose(loan, "L1", "extension", {"days": 91}, by="C1", role="collector", reason="x")
    with pytest.raises(ServiceError, match="parts: 2 to 24"):
        propose(loan, "L1", "plan", {"parts": 30}, by="C1", role="collector", reason="x")
    # payoff: 2,227.27 due + 10,145.88 of principal not yet due = 12,373.15; at most half of
    # it may be forgiven
    with pytest.raises(ServiceError, match="at least 618658"):
        propose(
            loan,
            "L1",
            "settlement",
            {"amount": 500000, "pay_by": "2026-03-01"},
            by="S1",
            role="supervisor",
            reason="x",
        )
    with pytest.raises(ServiceError, match="more than the payoff 1237315"):
        propose(
            loan,
            "L1",
            "settlement",
            {"amount": 1237316, "pay_by": "2026-03-01"},
            by="S1",
            role="supervisor",
            reason="x",
        )
    # 40 days is above a collector's 30: a second person; the loan is unchanged till then
    p = propose(loan, "L1", "extension", {"days": 40}, by="C1", role="collector", reason="x")
    assert p.status == "pending_approval" and _total(loan) == 222727
    with pytest.raises(ServiceError, match="is waiting for approval"):
        propose(loan, "L1", "plan", {"parts": 3}, by="C2", role="collector", reason="x")
    with pytest.raises(ServiceError, match="second person"):
        approve(loan, p.arrangement_id, by="C1", role="supervisor")
    with pytest.raises(ServiceError, match="a collector cannot approve"):
        approve(loan, p.arrangement_id, by="C2", role="collector")
    approve(loan, p.arrangement_id, by="S1", role="supervisor")
    assert statement_for_loan(loan, "L1", DAY)["dpd"] == -24  # no. 3 (03-15) is next


def test_a_settlement_agreed_by_a_supervisor_closes_the_loan_when_paid(loan: App) -> None:
    ask = {"amount": 1000000, "pay_by": "2026-03-01"}
    # forgives 237,315 / 1,237,315 = 19.18% of the payoff: above a collector's 0, within a
    # supervisor's 30%
    waiting = propose(loan, "L1", "settlement", ask, by="C1", role="collector", reason="x")
    assert waiting.status == "pending_approval"
    assert waiting.effect["cost_to_lender"] == 1237315 - 1000000
    reject(loan, waiting.arrangement_id, by="S1", role="supervisor", reason="try the supervisor")
    p = propose(loan, "L1", "settlement", ask, by="S1", role="supervisor", reason="lump sum")
    assert p.status == "active"
    post_payment(loan, "L1", 600000, DAY, payment_id="P1")
    assert statement_for_loan(loan, "L1", DAY)["arrangements"][0]["status"] == "open"
    post_payment(loan, "L1", 400000, DAY, payment_id="P2")
    st = statement_for_loan(loan, "L1", DAY)
    assert (st["dpd"], st["stage"], st["total_due"], st["outstanding_principal"]) == (
        None,
        "settled",
        0,
        0,
    )
    assert st["arrangements"][0]["status"] == "kept"
    assert _status(loan, p.arrangement_id) == "kept"  # recorded when the payment came
    reverse_payment(loan, "P2", "bounced")  # the settlement is open again
    assert _status(loan, p.arrangement_id) == "active"
    again = statement_for_loan(loan, "L1", DAY)  # 6,000.00 paid: nothing is due today
    assert again["stage"] != "settled" and again["outstanding_principal"] > 0


def test_a_hardship_hold_pauses_penalty(loan: App) -> None:
    hold = start_hold(loan, "hardship", loan_id="L1", reason="hospital", by="C1")
    # under the cn rulebook a hardship hold pauses penalty: 02-19 (the hold was in force that
    # day) is not charged: 69 + 70 less
    assert statement_for_loan(loan, "L1", DAY)["penalty_accrued"] == 2695 - 139
    loan.clock = lambda: NOW + timedelta(days=5)
    end_hold(loan, hold, reason="back at work", by="C1")
    # 02-19..02-24 paused (6 days); by 03-01: 45 x 69 + 14 x 70 = 4,085 less 6 x 139
    march = statement_for_loan(loan, "L1", date(2026, 3, 1))
    assert march["penalty_accrued"] == 45 * 69 + 14 * 70 - 6 * 139
    lines = march["instalments"][0]["penalty_lines"]
    assert [(x["from"], x["to"]) for x in lines] == [
        ("2026-01-16", "2026-02-18"),
        ("2026-02-25", "2026-03-01"),
    ]
    dispute = start_hold(loan, "dispute", loan_id="L1", by="C1")  # does not pause penalty
    assert statement_for_loan(loan, "L1", date(2026, 3, 1)) == march
    end_hold(loan, dispute, reason="verified")


def _status(app: App, arrangement_id: str, loan_id: str = "L1") -> str:
    (status,) = [
        a["status"]
        for a in arrangement_listing(app, loan_id, limit=50, offset=0).rows
        if a["arrangement_id"] == arrangement_id
    ]
    return str(status)


def test_an_extension_that_clears_the_arrears_supersedes_the_pending_promise(loan: App) -> None:
    """The promise to pay the arrears is replaced, not left to be judged broken on its date
    (it would count against the borrower and the collector); the preview lists every payment
    left, the regular instalments after the arrangement too."""
    from arrears.service.cases.promises import Part, make_promise

    (pid,) = make_promise(
        loan, "L1", [Part(DAY + timedelta(days=5), _total(loan))], source="agent_call",
        made_by="C1",
    )  # fmt: skip
    p = propose(loan, "L1", "extension", {"days": 29}, by="C1", role="collector", reason="salary")
    assert p.status == "active" and p.effect["dpd_after"] <= 0
    with loan.engine.connect() as conn:
        status = conn.execute(
            select(t.promise.c.status).where(t.promise.c.promise_id == pid)
        ).scalar_one()
        said = conn.execute(
            select(t.audit_log.c.payload).where(t.audit_log.c.kind == "arrangement_proposed")
        ).scalar_one()
    assert status == "superseded" and pid in said
    pays = p.effect["payments"]
    arranged = [(x["due_date"], x["amount"]) for x in pays if x["arranged"]]
    assert arranged == [(s["due_date"], s["amount"]) for s in p.effect["schedule"]]
    regular = [x for x in pays if not x["arranged"]]
    st = statement_for_loan(loan, "L1", DAY)
    later = [i for i in st["instalments"] if not i["original_due_date"] and i["unpaid"] > 0]
    assert len(regular) == len(later) > 0
    assert [x["due_date"] for x in pays] == sorted(x["due_date"] for x in pays)
    # the settled measure never counts it: neither kept nor broken
    from arrears.service.cases.promises import settle

    assert settle(loan, DAY + timedelta(days=30), "L1") == {
        "kept": 0,
        "partly_kept": 0,
        "broken": 0,
    }
