"""Calls dialled from the console: the dialer's progress on the contact attempt, the call's
recording (sealed, with its SHA-256) and its transcript and quality-inspection scorecard.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_attempt") as batch:
        batch.add_column(sa.Column("dial_status", sa.String(24)))
        batch.add_column(sa.Column("duration_seconds", sa.Integer))
        batch.add_column(sa.Column("wrapped_at", sa.DateTime(timezone=True)))
    op.create_table(
        "call_recording",
        sa.Column("attempt_id", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("audio_enc", sa.LargeBinary, nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("duration_seconds", sa.Integer),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_call_recording"),
    )
    op.create_table(
        "call_transcript",
        sa.Column("attempt_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("detail", sa.Text),
        sa.Column("segments", sa.Text),
        sa.Column("score", sa.Integer),
        sa.Column("flagged", sa.Boolean),
        sa.Column("scorecard", sa.Text),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_call_transcript"),
    )
    op.create_index("ix_call_transcript_job_id", "call_transcript", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_call_transcript_job_id", "call_transcript")
    op.drop_table("call_transcript")
    op.drop_table("call_recording")
    with op.batch_alter_table("contact_attempt") as batch:
        batch.drop_column("wrapped_at")
        batch.drop_column("duration_seconds")
        batch.drop_column("dial_status")
