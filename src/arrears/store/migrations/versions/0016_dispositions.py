"""The collector's day: what a contact came to (its disposition: right party, wrong party,
refused, disputes ...) and the borrower's reason for falling behind, on the contact attempt;
which business date an unworked call or visit was first planned for (carried over).

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


def downgrade() -> None:
    with op.batch_alter_table("plan_action") as batch:
        batch.drop_column("carried_from")
    with op.batch_alter_table("contact_attempt") as batch:
        batch.drop_column("reason")
        batch.drop_column("disposition")
