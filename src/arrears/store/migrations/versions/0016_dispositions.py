"""The collector's day: what a contact came to (its disposition: right party, wrong party,
refused, disputes ...) and the borrower's reason for falling behind, on the contact attempt;
which business date an unworked call or visit was first planned for (carried over); who asked
for a strategy version's activation (a second person approves it where the policy says so).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_attempt") as batch:
        batch.add_column(sa.Column("disposition", sa.String(24)))
        batch.add_column(sa.Column("reason", sa.String(24)))
    with op.batch_alter_table("plan_action") as batch:
        batch.add_column(sa.Column("carried_from", sa.Date))
    with op.batch_alter_table("strategy_version") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(64)))
        batch.add_column(sa.Column("requested_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("strategy_version") as batch:
        batch.drop_column("requested_at")
        batch.drop_column("requested_by")
    with op.batch_alter_table("plan_action") as batch:
        batch.drop_column("carried_from")
    with op.batch_alter_table("contact_attempt") as batch:
        batch.drop_column("reason")
        batch.drop_column("disposition")
