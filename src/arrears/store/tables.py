"""The store's tables (SQLAlchemy Core). Amounts are integer minor units; rates are decimal
strings (exact, dialect-neutral); dates are DATE; timestamps are timezone-aware.

Personal data columns end in ``_enc`` (AES-SIV ciphertext, see :mod:`arrears.store.crypto`);
lookups use the ``_hash`` columns. Every schema change goes through an Alembic migration in
``arrears/store/migrations``; a test checks the migrated schema equals this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _policy_columns() -> list[Column[object]]:
    """Penalty policy; on a loan, a NULL falls back to its portfolio's value."""
    return [
        Column("penalty_daily_rate", String(24)),
        Column("penalty_rate_multiplier", String(24)),
        Column("penalty_base", String(24)),
        Column("grace_days", Integer),
        Column("penalty_rate_cap_annual", String(24)),
        Column("charges_cap_ratio", String(24)),
        Column("allocation", String(24)),
    ]


portfolio = Table(
    "portfolio",
    metadata,
    Column("portfolio_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("product", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rulebook", String(32), nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("timezone", String(64), nullable=False),
    *_policy_columns(),
)

borrower = Table(
    "borrower",
    metadata,
    Column("borrower_id", String(64), primary_key=True),
    Column("name_enc", LargeBinary),
    Column("national_id_enc", LargeBinary),
    Column("national_id_hash", String(64), index=True),
    Column("locale", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    # channels the borrower agreed to, comma-separated (sms,push,email,...); NULL = rulebook default
    Column("consents", Text),
    # a contact window the borrower agreed to, "HH:MM-HH:MM" local time; NULL = rulebook hours
    Column("contact_window", String(16)),
)

contact_point = Table(
    "contact_point",
    metadata,
    Column("contact_id", String(64), primary_key=True),
    Column(
        "borrower_id", String(64), ForeignKey("borrower.borrower_id"), nullable=False, index=True
    ),
    Column("kind", String(16), nullable=False),  # phone | email | address
    Column("owner_role", String(32), nullable=False),  # borrower | guarantor | emergency_contact
    Column("owner_name_enc", LargeBinary),
    Column("relation", String(32)),
    Column("value_enc", LargeBinary, nullable=False),
    Column("value_hash", String(64), nullable=False, index=True),
    Column("opt_outs", Text),  # channels this point must not be used for, comma-separated
    Column("is_valid", Boolean, nullable=False),
    Column("is_primary", Boolean, nullable=False),
)

loan = Table(
    "loan",
    metadata,
    Column("loan_id", String(64), primary_key=True),
    Column(
        "portfolio_id",
        String(64),
        ForeignKey("portfolio.portfolio_id"),
        nullable=False,
        index=True,
    ),
    Column(
        "borrower_id", String(64), ForeignKey("borrower.borrower_id"), nullable=False, index=True
    ),
    Column("currency", String(3), nullable=False),
    Column("principal", BigInteger, nullable=False),
    Column("annual_rate", String(24), nullable=False),
    Column("method", String(24), nullable=False),
    Column("term_months", Integer),
    Column("first_due_date", Date),
    Column("originated_on", Date),
    *_policy_columns(),
)

instalment = Table(
    "instalment",
    metadata,
    Column("loan_id", String(64), ForeignKey("loan.loan_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("due_date", Date, nullable=False),
    Column("principal", BigInteger, nullable=False),
    Column("interest", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
)

payment = Table(
    "payment",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("loan_id", String(64), ForeignKey("loan.loan_id"), nullable=False, index=True),
    Column("paid_on", Date, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # posted | reversed
    Column("reversed_on", Date),
    Column("source", String(32)),
)

delinquency_snapshot = Table(
    "delinquency_snapshot",
    metadata,
    Column("as_of", Date, primary_key=True),
    Column("loan_id", String(64), ForeignKey("loan.loan_id"), primary_key=True),
    Column("portfolio_id", String(64), nullable=False),
    Column("dpd", Integer),
    Column("bucket", String(16)),
    Column("stage", String(16), nullable=False),
    Column("overdue_principal", BigInteger, nullable=False),
    Column("overdue_interest", BigInteger, nullable=False),
    Column("overdue_fee", BigInteger, nullable=False),
    Column("overdue_penalty", BigInteger, nullable=False),
    Column("total_due", BigInteger, nullable=False),
    Column("outstanding_principal", BigInteger, nullable=False),
    Column("penalty_accrued", BigInteger, nullable=False),
    Column("cap_reached", Boolean, nullable=False),
)
Index(
    "ix_delinquency_snapshot_as_of_stage",
    delinquency_snapshot.c.as_of,
    delinquency_snapshot.c.stage,
)

ingest_batch = Table(
    "ingest_batch",
    metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("sources", Text, nullable=False),  # JSON list of file names
    Column("counts", Text, nullable=False),  # JSON {entity: rows}
)


# The evidence log: append-only, each entry chained to the previous one by a SHA-256 hash.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),  # gate_decision | contact_attempt | ...
    Column("subject", String(64), nullable=False),  # the person or account it concerns
    Column("rulebook", String(32), nullable=False),  # sets the retention period
    Column("payload", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_subject", audit_log.c.subject)

# One row each: the newest entry (for appending) and the last purged one (where the chain starts).
audit_head = Table(
    "audit_head",
    metadata,
    Column("name", String(16), primary_key=True),  # head | anchor
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
