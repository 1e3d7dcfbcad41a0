"""Hand-computed statements for the README loan (12,000.00 CNY, 18%, 12 months from 2026-01-15).

Instalment 1: interest 180.00, principal 920.16; instalment 2 (due 2026-02-15): interest 166.20,
principal 933.96. Default daily penalty rate 0.18 × 1.5 / 360 = 0.00075.
"""

from datetime import date

import pytest

from arrears.domain.codec import statement_to_dict
from arrears.domain.delinquency import DEFAULT_BUCKETS, DEFAULT_STAGES, statement
from arrears.domain.ledger import Payment
from tests.unit.loans import example

AS_OF = date(2026, 2, 19)  # 35 days after the first due date


def test_readme_example_penalty_is_26_95_after_35_days() -> None:
    st = statement(example(), AS_OF)
    # inst 1: 35 days × round(92016 × 0.00075 = 69.012) = 2415; inst 2: 4 days × 70 = 280
    assert st.dpd == 35
    assert (st.bucket, st.stage) == ("M2", "late")
    assert st.penalty_accrued == 2695
    assert st.overdue.principal == 92016 + 93396
    assert st.overdue.interest == 18000 + 16620
    assert st.total_due == 92016 + 93396 + 18000 + 16620 + 2695
    assert st.outstanding_principal == 1200000
    lines = st.instalments[0].penalty_lines
    assert [(x.start, x.end, x.days, x.per_day) for x in lines] == [
        (date(2026, 1, 16), AS_OF, 35, 69)
    ]


def test_grace_days_delay_penalty_but_not_dpd() -> None:
    st = statement(example(policy={"penalty_rate_multiplier": "1.5", "grace_days": 3}), AS_OF)
    assert st.dpd == 35
    assert st.penalty_accrued == 32 * 69 + 1 * 70


def test_principal_interest_base() -> None:
    policy = {"penalty_rate_multiplier": "1.5", "penalty_base": "principal_interest"}
    st = statement(example(policy=policy), AS_OF)
    assert st.penalty_accrued == 35 * 83 + 4 * 83  # round(110016 × 0.00075 = 82.512)


def test_daily_rate_given_directly() -> None:
    st = statement(example(policy={"penalty_daily_rate": "0.0005"}), AS_OF)
    assert st.penalty_accrued == 35 * 46 + 4 * 47  # 46.008 -> 46, 46.698 -> 47


def test_rate_cap_limits_daily_rate_to_cap_over_360() -> None:
    policy = {"penalty_rate_multiplier": "1.5", "penalty_rate_cap_annual": "0.24"}
    st = statement(example(policy=policy), AS_OF)
    assert st.penalty_accrued == 35 * 61 + 4 * 62  # 92016/1500 = 61.344, 93396/1500 = 62.264


def test_charges_cap_cuts_the_day_it_is_reached() -> None:
    policy = {"penalty_rate_multiplier": "1.5", "charges_cap_ratio": "0.001"}  # cap 1,200 fen
    st = statement(example(policy=policy), AS_OF)
    assert st.penalty_accrued == 1200
    assert st.cap_reached and st.cap_reached_on == date(2026, 2, 2)  # 17 × 69 = 1173, +27 cut
    cut = st.instalments[0].penalty_lines[-1]
    assert (cut.start, cut.amount, cut.cut_by_cap) == (date(2026, 2, 2), 27, True)


def test_cap_not_reached_reports_false() -> None:
    policy = {"penalty_rate_multiplier": "1.5", "charges_cap_ratio": "0.5"}
    st = statement(example(policy=policy), AS_OF)
    assert st.cap_reached is False and st.cap_reached_on is None
    assert st.penalty_accrued == 2695


def test_fees_count_toward_the_charges_cap() -> None:
    loan = example(
        method="explicit",
        principal=100000,
        instalments=[
            {"due_date": "2026-01-15", "principal": 50000, "interest": 1000, "fee": 400},
            {"due_date": "2026-02-15", "principal": 50000, "interest": 500, "fee": 400},
        ],
        policy={"penalty_daily_rate": "0.001", "charges_cap_ratio": "0.01"},  # cap 1,000
    )
    # 01-15 fee 400; from 01-16 penalty 50 a day fills the 600 left by 01-27
    st = statement(loan, date(2026, 3, 31))
    assert st.penalty_accrued == 600
    assert st.cap_reached_on == date(2026, 1, 27)
    assert st.charges_total == 1400  # the second contractual fee is charged, never cut
    st_early = statement(loan, date(2026, 1, 26))
    assert st_early.penalty_accrued == 11 * 50 and not st_early.cap_reached


def test_payment_counts_from_the_end_of_its_day_components_first() -> None:
    loan = example().post(Payment("P1", date(2026, 2, 20), 60000))
    st = statement(loan, date(2026, 2, 21))
    i1, i2 = st.instalments[:2]
    # on 02-20: penalty 36×69 + 5×70 = 2834, then interest 34620, then principal 22546 to inst 1
    assert (i1.penalty_paid, i2.penalty_paid) == (2484, 350)
    assert (i1.paid_interest, i2.paid_interest) == (18000, 16620)
    assert (i1.paid_principal, i2.paid_principal) == (22546, 0)
    # 02-21 accrues on the base at the end of 02-20
    assert i1.penalty_accrued == 36 * 69 + 52  # round(69470 × 0.00075 = 52.1025)
    assert st.dpd == 37


def test_instalment_first_clears_the_oldest_instalment_first() -> None:
    policy = {"penalty_rate_multiplier": "1.5", "allocation": "instalment_first"}
    loan = example(policy=policy).post(Payment("P1", date(2026, 2, 20), 60000))
    st = statement(loan, date(2026, 2, 20))
    i1, i2 = st.instalments[:2]
    assert (i1.penalty_paid, i1.paid_interest, i1.paid_principal) == (2484, 18000, 39516)
    assert (i2.penalty_paid, i2.paid_interest, i2.paid_principal) == (0, 0, 0)


def test_overpayment_becomes_credit_applied_on_next_due_dates() -> None:
    loan = example().post(Payment("P1", date(2026, 1, 10), 200000))
    before = statement(loan, date(2026, 1, 10))
    assert before.credit_balance == 200000 and before.dpd == -5 and before.stage == "current"
    st = statement(loan, date(2026, 2, 20))
    assert st.instalments[0].paid_off_on == date(2026, 1, 15)
    assert st.instalments[1].paid_interest == 16620
    assert st.instalments[1].paid_principal == 89984 - 16620
    assert st.credit_balance == 0
    assert st.dpd == 5
    assert st.penalty_accrued == 5 * 15  # round(20032 × 0.00075 = 15.024)


def test_paying_each_instalment_on_time_settles_the_loan() -> None:
    loan = example()
    for k, inst in enumerate(loan.instalments):
        loan = loan.post(Payment(f"P{k}", inst.due_date, inst.amount))
    st = statement(loan, date(2027, 1, 1))
    assert st.dpd is None and st.stage == "settled" and st.bucket is None
    assert st.total_due == 0 and st.penalty_accrued == 0 and st.outstanding_principal == 0
    mid = statement(loan, date(2026, 6, 15))
    assert mid.dpd == -30 and mid.due_today.principal == 0


def test_due_today_is_in_total_due_and_dpd_zero() -> None:
    st = statement(example(), date(2026, 1, 15))
    assert st.dpd == 0 and st.stage == "pre_due" and st.bucket == "M0"
    assert st.overdue.principal == 0 and st.due_today.principal == 92016
    assert st.total_due == 110016


def test_reversal_restores_the_exact_prior_state() -> None:
    base = example()
    bounced = base.post(Payment("P9", date(2026, 2, 1), 50000)).reverse("P9")
    as_of = date(2026, 3, 1)
    assert statement_to_dict(statement(bounced, as_of)) == statement_to_dict(statement(base, as_of))


@pytest.mark.parametrize(
    ("dpd", "bucket", "stage"),
    [
        (-4, "M0", "current"),
        (-3, "M0", "pre_due"),
        (0, "M0", "pre_due"),
        (1, "M1", "early"),
        (17, "M1", "early"),
        (18, "M1", "mid"),
        (30, "M1", "mid"),
        (31, "M2", "late"),
        (60, "M2", "late"),
        (61, "M3", "late"),
        (90, "M3", "late"),
        (91, "M4", "legal"),
        (150, "M5", "legal"),
        (180, "M6", "legal"),
        (181, "M7+", "legal"),
    ],
)
def test_bucket_and_stage_tables(dpd: int, bucket: str, stage: str) -> None:
    assert DEFAULT_BUCKETS.classify(dpd) == bucket
    assert DEFAULT_STAGES.classify(dpd) == stage


def test_statement_dict_has_the_stable_fields() -> None:
    out = statement_to_dict(statement(example(), AS_OF))
    for key in (
        "as_of",
        "dpd",
        "bucket",
        "stage",
        "overdue",
        "total_due",
        "outstanding_principal",
        "penalty_accrued",
        "cap_reached",
        "cap_reached_on",
        "credit_balance",
        "instalments",
    ):
        assert key in out
    assert set(out["overdue"]) == {"principal", "interest", "fee", "penalty"}
    first = out["instalments"][0]
    assert first["penalty_accrued"] == 2415 and first["days_overdue"] == 35
    assert first["penalty_lines"][0]["daily_rate"] == "0.00075"
