"""Arrangements as proposals with their terms, effect, maker and checker; waivers as ledger
events.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ARRANGEMENT_COLUMNS = (
    ("terms", sa.Text),
    ("effect", sa.Text),
    ("proposed_by", sa.String(64)),
    ("proposed_role", sa.String(24)),
    ("proposed_at", sa.DateTime(timezone=True)),
    ("approved_by", sa.String(64)),
    ("approved_at", sa.DateTime(timezone=True)),
    ("reason", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("arrangement") as batch:
        for name, kind in ARRANGEMENT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "waiver",
        sa.Column("waiver_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("on", sa.Date, nullable=False),
        sa.Column("penalty", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("interest", sa.BigInteger, nullable=False),
        sa.Column("arrangement_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("waiver_id", name="pk_waiver"),
        sa.ForeignKeyConstraint(["loan_id"], ["loan.loan_id"], name="fk_waiver_loan_id_loan"),
    )
    op.create_index("ix_waiver_loan_id", "waiver", ["loan_id"])


def downgrade() -> None:
    op.drop_index("ix_waiver_loan_id", "waiver")
    op.drop_table("waiver")
    with op.batch_alter_table("arrangement") as batch:
        for name, _ in reversed(ARRANGEMENT_COLUMNS):
            batch.drop_column(name)
