"""Hardening: attempt counters shared by every server process (sign-in lock-out, per-address
limits), each provider event's effect recorded once (webhooks told again change nothing), and
the kind of a borrower's identity document; plan action ids joined by "~", safe in a URL
(arrears.ids), instead of "|".

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


#: the tables that hold plan action ids, now joined by "~" instead of "|" (arrears.ids)
ACTION_IDS = ("plan_action", "outbox_message", "contact_attempt", "placement")


def upgrade() -> None:
    # a provider that echoes our action id as its reference keeps matching it
    op.execute(
        "UPDATE outbox_message SET provider_ref = REPLACE(provider_ref, '|', '~') "
        "WHERE provider_ref = action_id"
    )
    for table in ACTION_IDS:
        op.execute(
            f"UPDATE {table} SET action_id = REPLACE(action_id, '|', '~') "
            "WHERE action_id LIKE '%|%'"
        )
    with op.batch_alter_table("borrower") as batch:
        batch.add_column(sa.Column("id_type", sa.String(16)))
    op.create_table(
        "throttle",
        sa.Column("bucket", sa.String(200), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("locked_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_throttle"),
    )
    op.create_index("ix_throttle_updated_at", "throttle", ["updated_at"])
    op.create_table(
        "provider_event",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_key", name="pk_provider_event"),
    )


def downgrade() -> None:
    op.drop_table("provider_event")
    op.drop_index("ix_throttle_updated_at", "throttle")
    op.drop_table("throttle")
    with op.batch_alter_table("borrower") as batch:
        batch.drop_column("id_type")
