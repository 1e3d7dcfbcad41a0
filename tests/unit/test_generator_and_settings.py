from datetime import date

import pytest
from pydantic import ValidationError

from arrears.domain.delinquency import statement
from arrears.generate.portfolio import POLICIES, make_chunk
from arrears.settings import DEV_DATA_KEY, Env, Settings
from arrears.store.crypto import Cipher, CryptoError

AS_OF = date(2026, 11, 23)


def test_chunks_are_a_pure_function_of_seed_and_index() -> None:
    assert make_chunk(1, 0, 1, 50, AS_OF) == make_chunk(1, 0, 1, 50, AS_OF)
    assert make_chunk(1, 0, 1, 50, AS_OF) != make_chunk(2, 0, 1, 50, AS_OF)


def test_generated_loans_are_consistent_and_span_the_buckets() -> None:
    rows = make_chunk(11, 0, 1, 400, AS_OF)
    assert len(rows["loans"]) == len(rows["borrowers"]) == 400
    national_ids = [b["national_id"] for b in rows["borrowers"]]
    assert all(len(n) == 18 for n in national_ids)
    by_loan: dict[str, int] = {}
    for inst in rows["instalments"]:
        by_loan[inst["loan_id"]] = by_loan.get(inst["loan_id"], 0) + inst["principal"]
    assert all(by_loan[loan["loan_id"]] == loan["principal"] for loan in rows["loans"])
    roles = {c["owner_role"] for c in rows["contact_points"]}
    assert roles == {"borrower", "emergency_contact"}
    assert all(p["paid_on"] <= AS_OF for p in rows["payments"])
    assert set(POLICIES) == {loan["portfolio_id"] for loan in rows["loans"]}
    from arrears.domain.ledger import Loan, Payment
    from arrears.domain.schedule import Instalment

    stages = set()
    insts: dict[str, list[Instalment]] = {}
    for i in rows["instalments"]:
        insts.setdefault(i["loan_id"], []).append(
            Instalment(i["seq"], i["due_date"], i["principal"], i["interest"], i["fee"])
        )
    pays: dict[str, list[Payment]] = {}
    for p in rows["payments"]:
        pays.setdefault(p["loan_id"], []).append(
            Payment(p["payment_id"], p["paid_on"], p["amount"])
        )
    from decimal import Decimal

    for loan in rows["loans"]:
        lid = loan["loan_id"]
        domain = Loan(
            lid,
            "CNY",
            loan["principal"],
            Decimal(loan["annual_rate"]),
            tuple(insts[lid]),
            POLICIES[loan["portfolio_id"]],
            tuple(pays.get(lid, [])),
        )
        stages.add(statement(domain, AS_OF, explain=False).stage)
    assert {"settled", "current", "early", "late", "legal"} <= stages


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(env=Env.PRODUCTION, data_key=DEV_DATA_KEY)
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(data_key="c2hvcnQ=")


def test_ciphertext_is_bound_to_its_column_and_key() -> None:
    a = Cipher(b"a" * 32)
    blob = a.encrypt("borrower.name", "王五")
    assert blob is not None and a.decrypt("borrower.name", blob) == "王五"
    assert a.encrypt("borrower.name", "王五") != blob  # randomised: equal names, other bytes
    with pytest.raises(CryptoError):
        a.decrypt("contact_point.value", blob)
    with pytest.raises(CryptoError):
        Cipher(b"b" * 32).decrypt("borrower.name", blob)
    assert a.lookup_hash("phone", "+86 138 0013 8000") == a.lookup_hash("phone", "13800138000")


def test_a_settled_promise_in_the_history_is_judged_by_the_loans_payments() -> None:
    """Never assumed broken: kept in full, partly kept or broken by what was paid between its
    making and its settling."""
    rows = make_chunk(11, 0, 1, 3000, AS_OF)
    settled = [p for p in rows["promises"] if p["status"] != "pending"]
    assert len(settled) > 20
    pays: dict[str, list[tuple[date, int]]] = {}
    for p in rows["payments"]:
        if p["status"] == "posted":
            pays.setdefault(p["loan_id"], []).append((p["paid_on"], p["amount"]))
    for pr in settled:
        made = pr["made_at"].date()
        paid = sum(a for d, a in pays.get(pr["loan_id"], []) if made <= d < pr["settled_on"])
        expected = "kept" if paid >= pr["amount"] else "partly_kept" if paid else "broken"
        assert pr["status"] == expected, pr
