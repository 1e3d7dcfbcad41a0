"""Agency placement and legal referral: data-minimised placement files per agency, judged again
before they go, one active placement per account, recalls; the legal package as a PDF with the
contact history and its evidence hashes."""

from __future__ import annotations

import csv
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from arrears.bootstrap import App
from arrears.service.errors import ServiceError
from arrears.service.outreach.agency import PLACEMENT_FIELDS, place, recall
from arrears.service.outreach.legal import evidence_hash, legal_package, refer
from arrears.store import tables as t
from tests.conftest import FIXED_NOW, PlanBook

DAY = date(2026, 11, 23)


@pytest.fixture
def planned(plan_book: PlanBook, tmp_path: Path) -> App:
    app = plan_book(3000, 8, DAY)
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(
        "pools:\n  tier1: [{agency: AG-NORTH, share: 60}, {agency: AG-SOUTH, share: 40}]\n"
        "  tier2: [{agency: AG-WEST}]\n"
    )
    app.settings = app.settings.model_copy(update={"agencies_file": agencies})
    return app


def _actions(app: App, channel: str) -> list[dict[str, object]]:
    pa_ = t.plan_action
    with app.engine.connect() as conn:
        q = select(pa_).where(pa_.c.channel == channel).order_by(pa_.c.action_id)
        return [dict(r) for r in conn.execute(q).mappings()]


def test_placements_go_to_agencies_with_the_minimum_and_once(planned: App, tmp_path: Path) -> None:
    todo = [a for a in _actions(planned, "agency") if a["status"] == "planned"]
    assert len(todo) >= 3
    held = todo[0]
    with planned.engine.begin() as conn:  # a dispute since the plan stops that placement
        conn.execute(
            insert(t.hold).values(
                hold_id="h-1",
                borrower_id=held["borrower_id"],
                loan_id=held["loan_id"],
                kind="dispute",
                starts_at=FIXED_NOW - timedelta(hours=1),
            )
        )
        ids = conn.execute(select(t.borrower.c.national_id_enc)).scalars().all()
        # a borrower whose name is a spreadsheet formula (it would run in the agency's sheet)
        hostile = todo[1]["borrower_id"]
        conn.execute(
            t.borrower.update()
            .where(t.borrower.c.borrower_id == hostile)
            .values(
                name_enc=planned.cipher.encrypt("borrower.name", '=HYPERLINK("http://x.test","?")')
            )
        )
    national_ids = {planned.cipher.decrypt("borrower.national_id", x) for x in ids if x}
    run = place(planned, DAY, tmp_path / "out")
    assert run.placed == len(todo) - 1 and run.stopped.cancelled == 1
    assert set(run.files) <= {"AG-NORTH", "AG-SOUTH", "AG-WEST"}
    rows = []
    for path in run.files.values():
        with open(path, encoding="utf-8") as f:
            reader = csv.DictReader(f)
            assert tuple(reader.fieldnames or ()) == PLACEMENT_FIELDS
            rows += list(reader)
        text = path.read_text(encoding="utf-8")
        assert not any(n and n in text for n in national_ids)  # no national ids go out
    assert len(rows) == run.placed
    assert held["loan_id"] not in {r["loan_ref"] for r in rows}
    [named] = [r for r in rows if r["loan_ref"] == todo[1]["loan_id"]]
    assert named["borrower_name"] == """'=HYPERLINK("http://x.test","?")"""  # neutralised
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    for r in rows:
        assert int(r["total_due"]) > 0 and r["phone"] and r["recall_by"] == "2027-02-21"
    with planned.engine.connect() as conn:
        active = conn.execute(
            select(func.count()).select_from(t.placement).where(t.placement.c.status == "placed")
        ).scalar()
    assert active == run.placed
    after = {a["action_id"]: a["status"] for a in _actions(planned, "agency")}
    assert after[held["action_id"]] == "cancelled"
    assert sum(1 for s in after.values() if s == "placed") == run.placed
    # the same agency for the same loan, always (a stable share of the pool)
    from arrears.service.outreach.agency import load_agencies

    agencies = load_agencies(planned.settings.agencies_file)
    assert all(
        agencies.agency_for("tier1", "LN1") == agencies.agency_for("tier1", "LN1") for _ in range(3)
    )
    # a second run places nothing: the day's placements are done
    assert place(planned, DAY, tmp_path / "out").placed == 0

    first = rows[0]["loan_ref"]
    back = recall(planned, DAY, loan_ids=[first], reason="paid", folder=tmp_path / "out")
    assert back.recalled == 1
    (path,) = back.files.values()
    with open(path, encoding="utf-8") as f:
        assert [(r["loan_ref"], r["reason"]) for r in csv.DictReader(f)] == [(first, "paid")]
    with pytest.raises(ServiceError, match="no active placement"):
        recall(planned, DAY, loan_ids=[first], folder=tmp_path / "out")
    ended = recall(planned, DAY + timedelta(days=90), folder=tmp_path / "out")
    assert ended.recalled == run.placed - 1


def test_the_legal_package_holds_the_statement_payments_and_evidenced_contacts(
    planned: App, tmp_path: Path
) -> None:
    ca = t.contact_attempt
    with planned.engine.connect() as conn:
        loan_id, borrower = conn.execute(
            select(t.loan.c.loan_id, t.loan.c.borrower_id)
            .join(ca, ca.c.loan_id == t.loan.c.loan_id)
            .join(t.payment, t.payment.c.loan_id == t.loan.c.loan_id)
            .order_by(t.loan.c.loan_id)
            .limit(1)
        ).one()
        contacts = conn.execute(
            select(ca).where(
                ca.c.borrower_id == borrower, (ca.c.loan_id == loan_id) | ca.c.loan_id.is_(None)
            )
        ).all()
    pdf, index = legal_package(planned, loan_id, DAY)
    assert pdf.startswith(b"%PDF") and len(index["contacts"]) == len(contacts) > 0
    path = tmp_path / "legal.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert loan_id in text and "诉讼材料包" in text and "联系记录" in text
    flat = text.replace(" ", "").replace("\n", "")
    assert evidence_hash(planned, contacts[0]) in flat  # every contact's hash is printed
    referred = refer(planned, DAY, tmp_path / "legal")
    todo = _actions(planned, "legal_referral")
    assert len(referred) == sum(1 for a in todo if a["status"] == "referred")
    for p in referred.values():
        assert p.read_bytes().startswith(b"%PDF")


def test_a_placed_account_is_not_worked_in_house_the_same_day_or_after(
    planned: App, tmp_path: Path
) -> None:
    from arrears.service.daily.cycle import run_cycle
    from arrears.strategy.model import load

    todo = [a for a in _actions(planned, "agency") if a["status"] == "planned"]
    assert todo
    target = todo[0]
    call_id = f"{target['action_id']}~inhouse"
    with planned.engine.begin() as conn:  # an in-house call the same day, planned before
        conn.execute(
            insert(t.plan_action).values(
                **{
                    **target,
                    "action_id": call_id,
                    "step_id": "late.call",
                    "channel": "agent_call",
                    "queue": "late_calls",
                    "pool": None,
                }
            )
        )
    placed = place(planned, DAY, tmp_path / "out")
    assert placed.placed >= 1
    with planned.engine.connect() as conn:
        status, rule = conn.execute(
            select(t.plan_action.c.status, t.plan_action.c.rule).where(
                t.plan_action.c.action_id == call_id
            )
        ).one()
        loans = set(
            conn.execute(
                select(t.placement.c.loan_id).where(t.placement.c.status == "placed")
            ).scalars()
        )
    assert (status, rule) == ("cancelled", "suppression.placed_with_agency")
    nxt = DAY + timedelta(days=1)
    run_cycle(planned, nxt, strategy=load("default"))
    with planned.engine.connect() as conn:
        worked = conn.execute(
            select(t.plan_action.c.status, t.plan_action.c.rule).where(
                t.plan_action.c.business_date == nxt, t.plan_action.c.loan_id.in_(sorted(loans))
            )
        ).all()
    assert {w.status for w in worked} <= {"suppressed"}  # nothing in-house goes out
    from arrears.service.outreach.pending import Judge

    judge = Judge(planned, nxt, sorted(loans))
    accounts = [judge.account(x, load("default")) for x in sorted(loans)]
    assert accounts and all(a is not None and a.env["placed_with_agency"] for a in accounts)


def test_an_agencys_contacts_go_through_the_same_gate_and_limits(
    planned: App, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from arrears.service.conduct.outcomes import record_agency_contact
    from arrears.service.errors import Conflict, NotFound
    from arrears.service.outreach.call_state import call_state

    place(planned, DAY, tmp_path / "out")
    with planned.engine.connect() as conn:
        loan, agency = conn.execute(
            select(t.placement.c.loan_id, t.placement.c.agency).where(
                t.placement.c.status == "placed"
            )
        ).first()
        elsewhere = conn.execute(
            select(t.loan.c.loan_id).where(t.loan.c.loan_id.not_in(select(t.placement.c.loan_id)))
        ).scalar()
    noon = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    planned.clock = lambda: noon
    with pytest.raises(NotFound):
        record_agency_contact(
            planned, elsewhere, agency=agency, collector_id="AG1", channel="agent_call",
            result="conversation",
        )  # fmt: skip
    night = datetime(2026, 11, 22, 20, 9, tzinfo=UTC)  # 04:09 in Shanghai
    with pytest.raises(Conflict, match="allowed from"):
        record_agency_contact(
            planned, loan, agency=agency, collector_id="AG1", channel="agent_call",
            result="conversation", at=night,
        )  # fmt: skip
    before = call_state(planned, loan)
    assert before is not None and before.limit is not None
    for _ in range(before.limit - before.connected):
        record_agency_contact(
            planned, loan, agency=agency, collector_id="AG1", channel="agent_call",
            result="conversation", note="借款人确认周五还款",
        )  # fmt: skip
    after = call_state(planned, loan)
    assert after is not None and after.connected == after.limit and not after.allowed
    with pytest.raises(Conflict, match="frequency"):  # the lender's cap counts the agency's calls
        record_agency_contact(
            planned, loan, agency=agency, collector_id="AG1", channel="agent_call",
            result="conversation",
        )  # fmt: skip
