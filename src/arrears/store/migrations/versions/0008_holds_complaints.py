"""Holds with who started and ended them and why; complaints, the contacts they concern, and
the hold they started.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

HOLD_COLUMNS = (
    ("reason", sa.Text),
    ("created_by", sa.String(64)),
    ("ended_by", sa.String(64)),
    ("end_reason", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("hold") as batch:
        for name, kind in HOLD_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "complaint",
        sa.Column("complaint_id", sa.String(64), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source", sa.String(24), nullable=False),
        sa.Column("taken_by", sa.String(64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finding", sa.String(16), nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("collector_id", sa.String(64), nullable=True),
        sa.Column("agency", sa.String(64), nullable=True),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("hold_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("complaint_id", name="pk_complaint"),
    )
    op.create_index("ix_complaint_borrower_id", "complaint", ["borrower_id"])
    op.create_index("ix_complaint_status", "complaint", ["status"])
    op.create_table(
        "complaint_attempt",
        sa.Column("complaint_id", sa.String(64), nullable=False),
        sa.Column("attempt_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", "attempt_id", name="pk_complaint_attempt"),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaint.complaint_id"],
            name="fk_complaint_attempt_complaint_id_complaint",
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["contact_attempt.attempt_id"],
            name="fk_complaint_attempt_attempt_id_contact_attempt",
        ),
    )


def downgrade() -> None:
    op.drop_table("complaint_attempt")
    op.drop_index("ix_complaint_status", "complaint")
    op.drop_index("ix_complaint_borrower_id", "complaint")
    op.drop_table("complaint")
    with op.batch_alter_table("hold") as batch:
        for name, _ in reversed(HOLD_COLUMNS):
            batch.drop_column(name)
