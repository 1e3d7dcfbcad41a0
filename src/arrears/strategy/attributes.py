"""The account attributes a strategy may name in its conditions and priorities.

Each is one column of the cycle's account table (see :mod:`arrears.cycle.features`), computed
for the business date before the strategy runs. Types: ``int`` (whole numbers; amounts are minor
units), ``float``, ``bool``, ``str``. Documented in docs/STRATEGY.md.
"""

from __future__ import annotations

ATTRIBUTES: dict[str, tuple[str, str]] = {
    "dpd": ("int", "days past due: as-of date minus the oldest unpaid due date (negative before)"),
    "days_in_stage": ("int", "days since the account entered its current stage (0 on entry)"),
    "bucket": ("str", "the DPD bucket (M0, M1 ... M7+)"),
    "total_due": ("int", "everything due now: overdue + due today, penalty included (minor units)"),
    "overdue_principal": ("int", "principal past its due date, unpaid"),
    "overdue_penalty": ("int", "penalty interest accrued and unpaid"),
    "outstanding_principal": ("int", "all unpaid principal, due or not"),
    "score": ("float", "the lender's collection score, 0 (worst) to 1 (best); null if none"),
    "broken_promises": ("int", "promises to pay broken in the last 90 days"),
    "promise_active": ("bool", "a promise to pay is pending"),
    "plan_active": ("bool", "an extension, instalment plan or settlement is in force"),
    "hold_active": ("bool", "a hold (dispute, complaint, cease ...) covers the account"),
    "placed_with_agency": ("bool", "the account is placed with a collection agency"),
    "paid_today": ("bool", "a payment dated the business date has been posted"),
    "paid_today_amount": ("int", "what the payments dated the business date paid (minor units)"),
    "paid_today_share": (
        "float",
        "what today's payments paid of what was due before them, 0 to 1: "
        "paid_today_amount / (paid_today_amount + total_due)",
    ),
    "last_contact_result": ("str", "result of the last outbound contact, null if none"),
    "delinquency_reason": (
        "str",
        "the borrower's reason for falling behind, as last noted by a collector (job_loss, "
        "income_drop, illness, business_failure, family, over_indebted, forgot, dispute, fraud, "
        "other); null if none in the last 90 days",
    ),
    "last_disposition": (
        "str",
        "what the last answered call or visit came to (right_party, promise, refused, dispute, "
        "hardship, deceased, bankrupt, third_party, wrong_party); null if none",
    ),
    "contacts_last_7d": ("int", "outbound contacts in the 7 days before the business date"),
    "connected_calls_today": ("int", "calls answered today, all collectors and agencies"),
    "consent_sms": ("bool", "SMS may be used (consent given and not opted out)"),
    "consent_push": ("bool", "app push may be used"),
    "consent_email": ("bool", "email may be used"),
    "consent_call": ("bool", "calls (agent or automated) may be used"),
    "consent_letter": ("bool", "letters may be sent"),
    "locale": ("str", "the borrower's language: zh-CN or en"),
    "preferred_channel": (
        "str",
        "the message channel the borrower prefers: sms, push, email or ''",
    ),
    "product": ("str", "the portfolio's product, e.g. cash_loan or instalment"),
    "portfolio": ("str", "the portfolio id"),
}

#: the model scores (null when no model is loaded; docs/LEARNING.md): the chance of paying in
#: full within 7 and 30 days, and each treatment's expected recovery over doing nothing today,
#: net of its cost and complaint risk (minor units)
SCORED_CHANNELS = ("sms", "push", "email", "letter", "robocall", "agent_call", "visit")
MODEL_SCORES: dict[str, tuple[str, str]] = {
    "p_pay_7d": ("float", "the model's chance the account pays in full within 7 days, 0 to 1"),
    "p_pay_30d": ("float", "the model's chance the account pays in full within 30 days"),
    **{
        f"uplift_{c}": (
            "float",
            f"what {c} today is expected to add to recovery over doing nothing, net of its "
            "cost and complaint risk (minor units)",
        )
        for c in SCORED_CHANNELS
    },
}
ATTRIBUTES |= MODEL_SCORES

NAMES: dict[str, str] = {name: kind for name, (kind, _) in ATTRIBUTES.items()}
