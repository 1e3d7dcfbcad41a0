"""Foundation: portfolios, borrowers, contact points, loans, instalments, payments, snapshots.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _policy() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("penalty_daily_rate", sa.String(24)),
        sa.Column("penalty_rate_multiplier", sa.String(24)),
        sa.Column("penalty_base", sa.String(24)),
        sa.Column("grace_days", sa.Integer),
        sa.Column("penalty_rate_cap_annual", sa.String(24)),
        sa.Column("charges_cap_ratio", sa.String(24)),
        sa.Column("allocation", sa.String(24)),
    ]


def upgrade() -> None:
    op.create_table(
        "portfolio",
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("creditor", sa.String(200), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rulebook", sa.String(32), nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        *_policy(),
        sa.PrimaryKeyConstraint("portfolio_id", name="pk_portfolio"),
    )
    op.create_table(
        "borrower",
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("name_enc", sa.LargeBinary),
        sa.Column("national_id_enc", sa.LargeBinary),
        sa.Column("national_id_hash", sa.String(64)),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("consents", sa.Text),
        sa.Column("contact_window", sa.String(16)),
        sa.PrimaryKeyConstraint("borrower_id", name="pk_borrower"),
    )
    op.create_index("ix_borrower_national_id_hash", "borrower", ["national_id_hash"])
    op.create_table(
        "contact_point",
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner_role", sa.String(32), nullable=False),
        sa.Column("owner_name_enc", sa.LargeBinary),
        sa.Column("relation", sa.String(32)),
        sa.Column("value_enc", sa.LargeBinary, nullable=False),
        sa.Column("value_hash", sa.String(64), nullable=False),
        sa.Column("opt_outs", sa.Text),
        sa.Column("is_valid", sa.Boolean, nullable=False),
        sa.Column("is_primary", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrower.borrower_id"],
            name="fk_contact_point_borrower_id_borrower",
        ),
        sa.PrimaryKeyConstraint("contact_id", name="pk_contact_point"),
    )
    op.create_index("ix_contact_point_borrower_id", "contact_point", ["borrower_id"])
    op.create_index("ix_contact_point_value_hash", "contact_point", ["value_hash"])
    op.create_table(
        "loan",
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("principal", sa.BigInteger, nullable=False),
        sa.Column("annual_rate", sa.String(24), nullable=False),
        sa.Column("method", sa.String(24), nullable=False),
        sa.Column("term_months", sa.Integer),
        sa.Column("first_due_date", sa.Date),
        sa.Column("originated_on", sa.Date),
        *_policy(),
        sa.ForeignKeyConstraint(
            ["portfolio_id"], ["portfolio.portfolio_id"], name="fk_loan_portfolio_id_portfolio"
        ),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrower.borrower_id"], name="fk_loan_borrower_id_borrower"
        ),
        sa.PrimaryKeyConstraint("loan_id", name="pk_loan"),
    )
    op.create_index("ix_loan_portfolio_id", "loan", ["portfolio_id"])
    op.create_index("ix_loan_borrower_id", "loan", ["borrower_id"])
    op.create_table(
        "instalment",
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("principal", sa.BigInteger, nullable=False),
        sa.Column("interest", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loan.loan_id"], name="fk_instalment_loan_id_loan"),
        sa.PrimaryKeyConstraint("loan_id", "seq", name="pk_instalment"),
    )
    op.create_table(
        "payment",
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reversed_on", sa.Date),
        sa.Column("source", sa.String(32)),
        sa.ForeignKeyConstraint(["loan_id"], ["loan.loan_id"], name="fk_payment_loan_id_loan"),
        sa.PrimaryKeyConstraint("payment_id", name="pk_payment"),
    )
    op.create_index("ix_payment_loan_id", "payment", ["loan_id"])
    op.create_table(
        "delinquency_snapshot",
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("dpd", sa.Integer),
        sa.Column("bucket", sa.String(16)),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("overdue_principal", sa.BigInteger, nullable=False),
        sa.Column("overdue_interest", sa.BigInteger, nullable=False),
        sa.Column("overdue_fee", sa.BigInteger, nullable=False),
        sa.Column("overdue_penalty", sa.BigInteger, nullable=False),
        sa.Column("total_due", sa.BigInteger, nullable=False),
        sa.Column("outstanding_principal", sa.BigInteger, nullable=False),
        sa.Column("penalty_accrued", sa.BigInteger, nullable=False),
        sa.Column("cap_reached", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loan.loan_id"], name="fk_delinquency_snapshot_loan_id_loan"
        ),
        sa.PrimaryKeyConstraint("as_of", "loan_id", name="pk_delinquency_snapshot"),
    )
    op.create_index(
        "ix_delinquency_snapshot_as_of_stage", "delinquency_snapshot", ["as_of", "stage"]
    )
    op.create_table(
        "ingest_batch",
        sa.Column("batch_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name="pk_ingest_batch"),
    )


def downgrade() -> None:
    for name in (
        "ingest_batch",
        "delinquency_snapshot",
        "payment",
        "instalment",
        "loan",
        "contact_point",
        "borrower",
        "portfolio",
    ):
        op.drop_table(name)
