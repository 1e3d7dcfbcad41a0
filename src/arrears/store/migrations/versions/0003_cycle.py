"""The daily cycle: contact attempts, promises, holds and arrangements it reads; the stage of
each account, stage changes, the day's plan and the chained run record it writes; a score on loans.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = (
    "contact_attempt",
    "promise",
    "hold",
    "arrangement",
    "account_stage",
    "stage_change",
    "cycle_run",
    "plan_action",
)


def upgrade() -> None:
    op.add_column("loan", sa.Column("score", sa.String(24)))
    op.create_table(
        "contact_attempt",
        sa.Column("attempt_id", sa.String(64), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("destination_hash", sa.String(64), nullable=True),
        sa.Column("result", sa.String(24), nullable=True),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_contact_attempt"),
    )
    op.create_index("ix_contact_attempt_borrower_id", "contact_attempt", ["borrower_id"])
    op.create_table(
        "promise",
        sa.Column("promise_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settled_on", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("promise_id", name="pk_promise"),
        sa.ForeignKeyConstraint(["loan_id"], ["loan.loan_id"], name="fk_promise_loan_id_loan"),
    )
    op.create_index("ix_promise_loan_id", "promise", ["loan_id"])
    op.create_table(
        "hold",
        sa.Column("hold_id", sa.String(64), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("hold_id", name="pk_hold"),
    )
    op.create_index("ix_hold_borrower_id", "hold", ["borrower_id"])
    op.create_table(
        "arrangement",
        sa.Column("arrangement_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("arrangement_id", name="pk_arrangement"),
        sa.ForeignKeyConstraint(["loan_id"], ["loan.loan_id"], name="fk_arrangement_loan_id_loan"),
    )
    op.create_index("ix_arrangement_loan_id", "arrangement", ["loan_id"])
    op.create_table(
        "account_stage",
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(24), nullable=False),
        sa.Column("since", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("loan_id", name="pk_account_stage"),
    )
    op.create_table(
        "stage_change",
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("from_stage", sa.String(24), nullable=True),
        sa.Column("prev_since", sa.Date, nullable=True),
        sa.Column("to_stage", sa.String(24), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("loan_id", "as_of", name="pk_stage_change"),
    )
    op.create_table(
        "cycle_run",
        sa.Column("run_id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("strategy_digest", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("plan_digest", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_cycle_run"),
    )
    op.create_index("ix_cycle_run_business_date", "cycle_run", ["business_date"])
    op.create_table(
        "plan_action",
        sa.Column("action_id", sa.String(160), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("borrower_id", sa.String(64), nullable=False),
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(24), nullable=False),
        sa.Column("segment", sa.String(32), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("pool", sa.String(64), nullable=True),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("experiment", sa.String(64), nullable=True),
        sa.Column("arm", sa.String(64), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("action_id", name="pk_plan_action"),
    )
    op.create_index("ix_plan_action_loan_id", "plan_action", ["loan_id"])
    op.create_index(
        "ix_plan_action_business_date_status", "plan_action", ["business_date", "status"]
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
    with op.batch_alter_table("loan") as batch:
        batch.drop_column("score")
