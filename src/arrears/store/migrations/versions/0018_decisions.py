"""The decision log: each step's decision for each account and day, with the compliant options,
the one taken and its probability, and the attributes it was decided on.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision",
        sa.Column("decision_id", sa.String(200), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(24), nullable=False),
        sa.Column("segment", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("taken", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(80)),
        sa.Column("candidates", sa.String(200), nullable=False),
        sa.Column("n_ok", sa.Integer, nullable=False),
        sa.Column("propensity", sa.Float),
        sa.Column("explored", sa.Boolean, nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("experiment", sa.String(64)),
        sa.Column("arm", sa.String(64)),
        sa.Column("x_dpd", sa.Integer),
        sa.Column("x_days_in_stage", sa.Integer),
        sa.Column("x_total_due", sa.BigInteger),
        sa.Column("x_overdue_principal", sa.BigInteger),
        sa.Column("x_overdue_penalty", sa.BigInteger),
        sa.Column("x_outstanding_principal", sa.BigInteger),
        sa.Column("x_score", sa.Float),
        sa.Column("x_broken_promises", sa.Integer),
        sa.Column("x_promise_active", sa.Boolean),
        sa.Column("x_plan_active", sa.Boolean),
        sa.Column("x_contacts_last_7d", sa.Integer),
        sa.Column("x_paid_today_share", sa.Float),
        sa.Column("x_consent_sms", sa.Boolean),
        sa.Column("x_consent_call", sa.Boolean),
        sa.Column("x_last_contact_result", sa.String(32)),
        sa.Column("x_delinquency_reason", sa.String(32)),
        sa.Column("x_last_disposition", sa.String(32)),
        sa.Column("x_product", sa.String(64)),
        sa.PrimaryKeyConstraint("decision_id", name="pk_decision"),
    )
    op.create_index("ix_decision_business_date", "decision", ["business_date"])
    op.create_index("ix_decision_loan", "decision", ["loan_id", "business_date"])


def downgrade() -> None:
    op.drop_index("ix_decision_loan", "decision")
    op.drop_index("ix_decision_business_date", "decision")
    op.drop_table("decision")
