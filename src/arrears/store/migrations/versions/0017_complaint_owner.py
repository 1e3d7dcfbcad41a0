"""A complaint's owner: the compliance officer (or supervisor) who handles it, who assigned it
and when.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaint") as batch:
        batch.add_column(sa.Column("owner", sa.String(64)))
        batch.add_column(sa.Column("assigned_by", sa.String(64)))
        batch.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_complaint_owner", ["owner"])


def downgrade() -> None:
    with op.batch_alter_table("complaint") as batch:
        batch.drop_index("ix_complaint_owner")
        batch.drop_column("assigned_at")
        batch.drop_column("assigned_by")
        batch.drop_column("owner")
