"""An index for the work queues: a collector's list is read on every screen (queue, day,
status, by priority), and at a million loans the day's plan is far too big to filter by date
and status alone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_plan_action_queue_day",
        "plan_action",
        ["queue", "business_date", "status", "priority"],
    )


def downgrade() -> None:
    op.drop_index("ix_plan_action_queue_day", "plan_action")
