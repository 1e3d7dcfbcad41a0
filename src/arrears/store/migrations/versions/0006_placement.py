"""Agency placements: which account went to which agency, when, with what balance, and its
recall.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "placement",
        sa.Column("placement_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("agency", sa.String(64), nullable=False),
        sa.Column("pool", sa.String(64), nullable=True),
        sa.Column("action_id", sa.String(160), nullable=True),
        sa.Column("placed_on", sa.Date, nullable=False),
        sa.Column("recall_by", sa.Date, nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recalled_on", sa.Date, nullable=True),
        sa.Column("recall_reason", sa.String(64), nullable=True),
        sa.Column("file", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("placement_id", name="pk_placement"),
        sa.ForeignKeyConstraint(["loan_id"], ["loan.loan_id"], name="fk_placement_loan_id_loan"),
    )
    op.create_index("ix_placement_loan_id", "placement", ["loan_id"])
    op.create_index("ix_placement_agency_status", "placement", ["agency", "status"])


def downgrade() -> None:
    op.drop_index("ix_placement_agency_status", "placement")
    op.drop_index("ix_placement_loan_id", "placement")
    op.drop_table("placement")
