"""The dispatcher: row leases and retries on the plan, and the outbox of every message handed
(or about to be handed) to a provider.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTION_COLUMNS = (
    ("lease_owner", sa.String(64)),
    ("lease_until", sa.DateTime(timezone=True)),
    ("tries", sa.Integer),
    ("next_try_at", sa.DateTime(timezone=True)),
    ("attempt_id", sa.String(64)),
    ("sent_at", sa.DateTime(timezone=True)),
    ("last_error", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("plan_action") as batch:
        for name, kind in ACTION_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_plan_action_status_window", "plan_action", ["status", "window_start"])
    op.create_table(
        "outbox_message",
        sa.Column("action_id", sa.String(160), nullable=False),
        sa.Column("attempt_id", sa.String(64), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("destination_enc", sa.LargeBinary, nullable=False),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=True),
        sa.Column("attach", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("provider_ref", sa.String(128), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery", sa.String(24), nullable=True),
        sa.Column("delivery_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("action_id", name="pk_outbox_message"),
    )
    op.create_index("ix_outbox_message_provider_ref", "outbox_message", ["provider_ref"])
    op.create_index("ix_outbox_message_business_date", "outbox_message", ["business_date"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_business_date", "outbox_message")
    op.drop_index("ix_outbox_message_provider_ref", "outbox_message")
    op.drop_table("outbox_message")
    op.drop_index("ix_plan_action_status_window", "plan_action")
    with op.batch_alter_table("plan_action") as batch:
        for name, _ in reversed(ACTION_COLUMNS):
            batch.drop_column(name)
