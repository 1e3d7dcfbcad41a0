"""Promises to pay in several parts, where each came from and who took it, and what was paid
toward each part when it was decided; the payment that cancelled an action.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PROMISE_COLUMNS = (
    ("group_id", sa.String(64)),
    ("seq", sa.Integer),
    ("source", sa.String(24)),
    ("made_by", sa.String(64)),
    ("paid", sa.BigInteger),
)


def upgrade() -> None:
    with op.batch_alter_table("promise") as batch:
        for name, kind in PROMISE_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_promise_status_due_on", "promise", ["status", "due_on"])
    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reversal_reason", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment") as batch:
        batch.drop_column("reversal_reason")
        batch.drop_column("posted_at")
    op.drop_index("ix_promise_status_due_on", "promise")
    with op.batch_alter_table("promise") as batch:
        for name, _ in reversed(PROMISE_COLUMNS):
            batch.drop_column(name)
