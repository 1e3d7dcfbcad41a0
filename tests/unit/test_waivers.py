"""Waivers (减免) in the replay, checked by hand on the README loan (12,000.00 at 18%, 12
months, nothing paid; on 2026-02-19: DPD 35, penalty 26.95, interest 346.20, total 2,227.27)."""

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from arrears.domain.codec import loan_from_dict, statement_to_dict
from arrears.domain.delinquency import statement
from arrears.domain.ledger import LedgerError, Payment, Waiver

LOAN = loan_from_dict(
    json.loads((Path(__file__).parents[2] / "examples" / "loan.json").read_text())
)
DAY = date(2026, 2, 19)


def test_a_penalty_waiver_forgives_what_was_accrued_and_accrual_goes_on() -> None:
    waived = replace(LOAN, waivers=(Waiver("W1", DAY, penalty=808),))  # 30% of 2,695, rounded down
    s = statement(waived, DAY)
    assert s.overdue.penalty == 2695 - 808 == 1887
    assert s.total_due == 222727 - 808 == 221919
    assert s.waived.penalty == 808 and s.penalty_accrued == 2695  # accrued is not rewritten
    # the oldest instalment's penalty goes first: 2,415 of instalment 1, so 808 all from it
    assert [i.waived_penalty for i in s.instalments[:2]] == [808, 0]
    # the next day accrues as before on the unpaid principal: 69 + 70 = 139 fen
    assert statement(waived, date(2026, 2, 20)).overdue.penalty == 1887 + 139
    out = statement_to_dict(s)
    assert out["waived"] == {"interest": 0, "fee": 0, "penalty": 808}
    assert out["instalments"][0]["waived_penalty"] == 808


def test_waiving_interest_and_more_than_is_owed() -> None:
    loan = replace(LOAN, waivers=(Waiver("W2", DAY, interest=10**9, penalty=10**9),))
    s = statement(loan, DAY)
    assert (s.overdue.interest, s.overdue.penalty) == (0, 0)
    assert s.waived.interest == 18000 + 16620 and s.waived.penalty == 2695
    assert s.total_due == 185412  # only the principal past due is left
    assert s.instalments[0].unpaid == 92016 and s.dpd == 35  # principal unpaid: still late


def test_a_waiver_after_a_payment_and_before_its_date() -> None:
    paid = replace(
        LOAN, payments=(Payment("P1", DAY, 2000),), waivers=(Waiver("W3", DAY, penalty=1000),)
    )
    s = statement(paid, DAY)
    # the payment goes to penalty first (components first): 2,000 of 2,695; then 695 is left
    # and the waiver forgives it, not 1,000
    assert s.overdue.penalty == 0 and s.waived.penalty == 695
    early = statement(replace(LOAN, waivers=(Waiver("W4", date(2026, 3, 1), penalty=500),)), DAY)
    assert early.waived.penalty == 0 and early.overdue.penalty == 2695  # not yet in force
    with pytest.raises(LedgerError, match="one of them > 0"):
        Waiver("W5", DAY)
