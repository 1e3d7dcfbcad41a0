"""Conduct assurance: a visit's second collector and the breach mark on contact attempts; the
conduct alerts a compliance reviewer confirms or dismisses; break-glass grants (a collector
opening an account outside their queues, with the reason).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_attempt") as batch:
        batch.add_column(sa.Column("companion_id", sa.String(64)))
        batch.add_column(sa.Column("breach", sa.Boolean))
    op.create_table(
        "conduct_alert",
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("loan_id", sa.String(64)),
        sa.Column("borrower_id", sa.String(64)),
        sa.Column("attempt_id", sa.String(64)),
        sa.Column("collector_id", sa.String(64)),
        sa.Column("agency", sa.String(64)),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("detail_zh", sa.Text, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewed_by", sa.String(64)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("review_note", sa.Text),
        sa.PrimaryKeyConstraint("alert_id", name="pk_conduct_alert"),
    )
    for column in ("loan_id", "attempt_id", "collector_id", "status"):
        op.create_index(f"ix_conduct_alert_{column}", "conduct_alert", [column])
    op.create_table(
        "access_grant",
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", name="pk_access_grant"),
    )
    op.create_index("ix_access_grant_user_loan", "access_grant", ["user_id", "loan_id"])


def downgrade() -> None:
    op.drop_index("ix_access_grant_user_loan", "access_grant")
    op.drop_table("access_grant")
    for column in ("loan_id", "attempt_id", "collector_id", "status"):
        op.drop_index(f"ix_conduct_alert_{column}", "conduct_alert")
    op.drop_table("conduct_alert")
    with op.batch_alter_table("contact_attempt") as batch:
        batch.drop_column("breach")
        batch.drop_column("companion_id")
