"""Channels: what each contact carried (template and version, collector, content, provider),
verification codes, and the versioned contact templates.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ATTEMPT_COLUMNS = (
    ("action_id", sa.String(160)),
    ("template", sa.String(64)),
    ("template_version", sa.Integer),
    ("collector_id", sa.String(64)),
    ("subject", sa.Text),
    ("content", sa.Text),
    ("provider", sa.String(32)),
    ("provider_ref", sa.String(128)),
)


def upgrade() -> None:
    with op.batch_alter_table("contact_attempt") as batch:
        for name, kind in ATTEMPT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_contact_attempt_action_id", "contact_attempt", ["action_id"])
    op.create_table(
        "verification_code",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempt_id", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name="pk_verification_code"),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["contact_attempt.attempt_id"],
            name="fk_verification_code_attempt_id_contact_attempt",
        ),
    )
    op.create_table(
        "template",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("name", "locale", "version", name="pk_template"),
    )


def downgrade() -> None:
    op.drop_table("template")
    op.drop_table("verification_code")
    op.drop_index("ix_contact_attempt_action_id", "contact_attempt")
    with op.batch_alter_table("contact_attempt") as batch:
        for name, _ in reversed(ATTEMPT_COLUMNS):
            batch.drop_column(name)
