"""Extensions, instalment plans, settlements and penalty pauses in the replay, checked by hand
on the README loan (12,000.00 at 18%, 12 months from 2026-01-15, nothing paid; the daily
penalty rate is 0.18 × 1.5 / 360 = 0.00075).

Instalments: 1 due 01-15 (principal 920.16, interest 180.00), 2 due 02-15 (933.96, 166.20),
3 due 03-15 (947.97, 152.19). Penalty a day: round(92,016 × 0.00075) = 69, round(93,396 ×
0.00075) = 70, round(94,797 × 0.00075) = 71. On 2026-02-19: DPD 35, penalty 35 × 69 + 4 × 70 =
2,695, total 2,227.27.
"""

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from arrears.domain.codec import loan_from_dict, statement_to_dict
from arrears.domain.delinquency import statement
from arrears.domain.ledger import Extension, LedgerError, Pause, Payment, Plan, Settlement

LOAN = loan_from_dict(
    json.loads((Path(__file__).parents[2] / "examples" / "loan.json").read_text())
)
DAY = date(2026, 2, 19)
D = date


def test_an_extension_moves_the_overdue_instalments_with_its_fee_and_interest() -> None:
    ext = Extension("E1", DAY, until=D(2026, 3, 20), fee=10000, rate=Decimal("0.18"))
    loan = replace(LOAN, arrangements=(ext,))
    s = statement(loan, DAY)
    # nothing is due any more today: the next instalment is no. 3 on 03-15 (DPD -24)
    assert (s.dpd, s.stage, s.total_due) == (-24, "current", 0)
    assert s.penalty_unpaid == 2695  # carried with the moved instalments, no longer accruing
    by_seq = {i.seq: i for i in s.instalments}
    one, two = by_seq[1], by_seq[2]
    assert [i.seq for i in s.instalments[:3]] == [3, 1, 2]  # in due-date order
    assert (one.seq, one.due_date, one.original_due_date) == (1, D(2026, 3, 20), D(2026, 1, 15))
    # 29 days (02-19 -> 03-20) at 18% / 360: 92,016 x 0.0145 = 1,334.232 -> 1,334;
    # 93,396 x 0.0145 = 1,354.242 -> 1,354; the fee goes with the first
    assert (one.interest, one.fee) == (18000 + 1334, 10000)
    assert (two.interest, two.fee) == (16620 + 1354, 0)
    (state,) = s.arrangements
    assert (state.status, state.fee, state.interest) == ("in_force", 10000, 1334 + 1354)
    # on 03-20 all of it falls due; no. 3 is 5 days late (5 x 71 = 355 of penalty)
    later = statement(loan, D(2026, 3, 20))
    assert later.dpd == 5
    assert later.due_today.principal == 92016 + 93396
    assert later.due_today.interest == 18000 + 1334 + 16620 + 1354
    assert (later.due_today.fee, later.due_today.penalty) == (10000, 2695)
    assert (later.overdue.principal, later.overdue.interest, later.overdue.penalty) == (
        94797,
        15219,
        355,
    )
    # from 03-21 the moved instalments accrue again: 69 + 70 + 71 a day
    assert statement(loan, D(2026, 3, 21)).penalty_unpaid == 2695 + 355 + 69 + 70 + 71
    # paying everything due on 03-20 clears both and the extension is completed
    paid = replace(loan, payments=(Payment("P1", D(2026, 3, 20), later.total_due),))
    done = statement(paid, D(2026, 3, 20))
    assert done.total_due == 0 and done.dpd == -26  # next: no. 4 on 04-15
    assert done.arrangements[0].status == "completed"
    out = statement_to_dict(done)
    assert out["instalments"][1]["original_due_date"] == "2026-01-15"
    assert out["arrangements"][0]["kind"] == "extension"


def test_an_extension_fee_is_cut_to_the_charges_cap() -> None:
    capped = replace(LOAN, policy=replace(LOAN.policy, charges_cap_ratio=Decimal("0.003")))
    # cap = 0.3% of 12,000.00 = 36.00; penalty so far 26.95, so 9.05 of a 100.00 fee is left
    s = statement(replace(capped, arrangements=(Extension("E2", DAY, D(2026, 3, 20), 10000),)), DAY)
    assert s.arrangements[0].fee == 3600 - 2695 == 905
    assert s.instalments[1].fee == 905 and s.cap_reached and s.charges_total == 3600


def _plan(**kw: object) -> Plan:
    return Plan("PL1", DAY, (D(2026, 3, 1), D(2026, 4, 1), D(2026, 5, 1)), **kw)  # type: ignore[arg-type]


def test_a_plan_restructures_the_overdue_amount_into_equal_parts() -> None:
    loan = replace(LOAN, arrangements=(_plan(),))
    s = statement(loan, DAY)
    # overdue 2,227.27 = principal 1,854.12 + interest 346.20 + penalty 26.95, in 3 parts by
    # cumulative rounding down: penalty 898 / 898 / 899, interest 11,540 each, principal
    # 61,804 each
    plan = [i for i in s.instalments if i.arrangement_id == "PL1"]
    assert [(i.seq, i.due_date) for i in plan] == [
        (13, D(2026, 3, 1)),
        (14, D(2026, 4, 1)),
        (15, D(2026, 5, 1)),
    ]
    assert [i.principal for i in plan] == [61804] * 3
    assert [i.interest for i in plan] == [11540] * 3
    assert [i.penalty_carried for i in plan] == [898, 898, 899]
    assert s.instalments[0].moved_principal == 92016 and s.instalments[0].unpaid == 0
    assert s.arrangements[0].moved == (2695, 0, 34620, 185412)
    assert (s.dpd, s.total_due) == (-10, 0)  # the first plan payment is due 03-01
    due = statement(loan, D(2026, 3, 1))
    assert due.due_today.total == 898 + 11540 + 61804 == 74242
    assert due.penalty_accrued == 2695  # no penalty accrued on the restructured amount


def test_a_breached_plan_restores_the_original_delinquency_with_its_payments_credited() -> None:
    pay = Payment("P1", D(2026, 3, 1), 74242)  # the first plan payment, on time
    loan = replace(LOAN, arrangements=(_plan(),), payments=(pay,))
    kept_one = statement(loan, D(2026, 4, 2))  # plan payment 2 missed: one miss, in force
    assert kept_one.arrangements[0].status == "in_force"
    assert kept_one.arrangements[0].missed == 1
    # DPD counts from no. 3 (03-15, not in the plan), 18 days
    assert kept_one.dpd == 18
    # the second miss (05-01) breaches it: the statement is the loan's without the plan
    breached = statement(loan, D(2026, 5, 1))
    plain = statement(replace(LOAN, payments=(pay,)), D(2026, 5, 1))
    assert breached.arrangements[0].status == "breached"
    assert breached.arrangements[0].on == D(2026, 5, 1)
    assert replace(breached, arrangements=()) == plain
    assert plain.dpd == 106  # the original delinquency is back (from 01-15)
    assert plain.paid_total == 74242  # the plan's payment is credited
    # before the second miss nothing is restored
    assert statement(loan, D(2026, 4, 30)).arrangements[0].status == "in_force"


def test_a_plan_of_the_whole_balance_and_its_grace() -> None:
    whole = replace(LOAN, arrangements=(_plan(whole_balance=True, grace_days=3, fee=500),))
    s = statement(whole, DAY)
    assert s.outstanding_principal == 1200000  # every instalment moved into the plan
    plan = [i for i in s.instalments if i.arrangement_id == "PL1"]
    assert sum(i.principal for i in plan) == 1200000 and plan[0].fee == 500
    assert s.next_due_date == D(2026, 3, 1)
    # grace: the first part paid on 03-04 is on time (checked at the end of 03-04); the
    # second, unpaid on 04-01, is missed on 04-04; the third on 05-04
    first = plan[0].principal + plan[0].interest + plan[0].fee + plan[0].penalty_carried
    whole = replace(whole, payments=(Payment("P1", D(2026, 3, 4), first),))
    assert statement(whole, D(2026, 3, 4)).arrangements[0].missed == 0
    st = statement(whole, D(2026, 5, 3))
    assert st.arrangements[0].missed == 1 and st.arrangements[0].status == "in_force"
    assert statement(whole, D(2026, 5, 4)).arrangements[0].status == "breached"


def test_a_settlement_closes_the_loan_once_its_amount_is_paid() -> None:
    deal = Settlement("S1", DAY, 150000, pay_by=D(2026, 3, 1))
    pays = (Payment("P1", D(2026, 2, 25), 100000), Payment("P2", D(2026, 3, 1), 60000))
    s = statement(replace(LOAN, arrangements=(deal,), payments=pays), D(2026, 3, 1))
    assert (s.dpd, s.stage, s.total_due, s.outstanding_principal) == (None, "settled", 0, 0)
    assert s.credit_balance == 10000  # paid 1,600.00 against 1,500.00
    (st,) = s.arrangements
    assert (st.status, st.on) == ("kept", D(2026, 3, 1))
    # by hand, without the settlement: on 02-25 penalty 41 x 69 + 10 x 70 = 3,529, the
    # 1,000.00 pays it, the interest 346.20 and 618.51 of no. 1's principal (301.65 left);
    # 02-26..03-01 accrue 4 x (23 + 70) = 372; the 600.00 pays that and 301.65 + 294.63 of
    # principal, leaving 639.33 of no. 2's principal. Forgiven: that and nos. 3-12 in full.
    later = LOAN.instalments[2:]
    assert st.moved == (
        0,
        0,
        sum(i.interest for i in later),
        63933 + sum(i.principal for i in later),
    )
    assert s.next_due_date is None


def test_a_settlement_not_reached_lapses_and_changes_nothing() -> None:
    deal = Settlement("S2", DAY, 150000, pay_by=D(2026, 3, 1))
    pays = (Payment("P1", D(2026, 2, 25), 100000),)
    lapsed = statement(replace(LOAN, arrangements=(deal,), payments=pays), D(2026, 3, 2))
    plain = statement(replace(LOAN, payments=pays), D(2026, 3, 2))
    assert lapsed.arrangements[0].status == "lapsed"
    assert replace(lapsed, arrangements=()) == plain
    # a payment before the settlement's date does not count toward it
    early = (Payment("P0", D(2026, 2, 18), 150000),)
    st = statement(replace(LOAN, arrangements=(deal,), payments=early), D(2026, 3, 1))
    assert st.arrangements[0].status == "open" and st.dpd is not None


def test_penalty_pauses_on_paused_days() -> None:
    paused = replace(LOAN, pauses=(Pause(D(2026, 2, 1), D(2026, 2, 10)),))
    s = statement(paused, DAY)
    assert s.penalty_accrued == 2695 - 10 * 69  # 10 days of no. 1's penalty not charged
    lines = s.instalments[0].penalty_lines
    assert [(x.start, x.end, x.days) for x in lines] == [
        (D(2026, 1, 16), D(2026, 1, 31), 16),
        (D(2026, 2, 11), D(2026, 2, 19), 9),
    ]
    open_ended = replace(LOAN, pauses=(Pause(D(2026, 2, 16)), Pause(D(2026, 2, 1), D(2026, 2, 3))))
    # 01-16..01-31 and 02-04..02-15: 28 days of 69; no. 2 never accrues
    assert statement(open_ended, DAY).penalty_accrued == 28 * 69


def test_arrangement_terms_are_checked() -> None:
    with pytest.raises(LedgerError, match="until must be after"):
        Extension("E", DAY, DAY)
    with pytest.raises(LedgerError, match="strictly increasing"):
        Plan("P", DAY, (D(2026, 3, 1), D(2026, 3, 1)))
    with pytest.raises(LedgerError, match="first plan date"):
        Plan("P", DAY, (DAY,))
    with pytest.raises(LedgerError, match="amount must be > 0"):
        Settlement("S", DAY, 0, DAY)
