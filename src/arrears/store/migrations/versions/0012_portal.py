"""The borrower portal: one-time sign-in codes, borrower sessions, payment orders started in
the portal, the evidence files attached to complaints, and the borrower's preferred channel.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("borrower") as batch:
        batch.add_column(sa.Column("preferred_channel", sa.String(16)))
    op.create_table(
        "portal_code",
        sa.Column("code_id", sa.String(32), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("used_at", WHEN),
        sa.PrimaryKeyConstraint("code_id", name="pk_portal_code"),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrower.borrower_id"], name="fk_portal_code_borrower_id_borrower"
        ),
    )
    op.create_index("ix_portal_code_borrower_id", "portal_code", ["borrower_id"])
    op.create_table(
        "portal_session",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_portal_session"),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrower.borrower_id"], name="fk_portal_session_borrower_id_borrower"
        ),
    )
    op.create_index("ix_portal_session_borrower_id", "portal_session", ["borrower_id"])
    op.create_table(
        "payment_order",
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("completed_at", WHEN),
        sa.Column("provider_ref", sa.String(128)),
        sa.Column("payment_id", sa.String(64)),
        sa.PrimaryKeyConstraint("order_id", name="pk_payment_order"),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loan.loan_id"], name="fk_payment_order_loan_id_loan"
        ),
    )
    op.create_index("ix_payment_order_loan_id", "payment_order", ["loan_id"])
    op.create_table(
        "complaint_evidence",
        sa.Column("evidence_id", sa.String(32), nullable=False),
        sa.Column("complaint_id", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data_enc", sa.LargeBinary, nullable=False),
        sa.Column("uploaded_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("evidence_id", name="pk_complaint_evidence"),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaint.complaint_id"],
            name="fk_complaint_evidence_complaint_id_complaint",
        ),
    )
    op.create_index("ix_complaint_evidence_complaint_id", "complaint_evidence", ["complaint_id"])


def downgrade() -> None:
    for name in ("complaint_evidence", "payment_order", "portal_session", "portal_code"):
        op.drop_table(name)
    with op.batch_alter_table("borrower") as batch:
        batch.drop_column("preferred_channel")
