"""The store's tables (SQLAlchemy Core). Amounts are integer minor units; rates are decimal
strings (exact, dialect-neutral); dates are DATE; timestamps are timezone-aware.

Personal data columns end in ``_enc`` (AES-SIV ciphertext, see :mod:`arrears.store.crypto`);
lookups use the ``_hash`` columns. Every schema change goes through an Alembic migration in
``arrears/store/migrations``; a test checks the migrated schema equals this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
    true,
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware instant, stored in UTC. SQLite keeps a datetime's wall-clock fields and drops
    its offset, so an instant in +08:00 would come back eight hours off; every aware value is
    turned to UTC before it is written (PostgreSQL does the same itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value


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
    # the kind of identity document national_id is (arrears.domain.identity); NULL: cn_resident
    Column("id_type", String(16)),
    Column("locale", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    # channels the borrower agreed to, comma-separated (sms,push,email,...); NULL = rulebook default
    Column("consents", Text),
    # a contact window the borrower agreed to, "HH:MM-HH:MM" local time; NULL = rulebook hours
    Column("contact_window", String(16)),
    # the message channel the borrower prefers (sms, push or email; the portal's preferences);
    # strategies read it as the attribute preferred_channel. NULL = none
    Column("preferred_channel", String(16)),
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
    Column("score", String(24)),  # the lender's collection score, a decimal 0..1
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
    Column("posted_at", UtcDateTime()),  # when it reached arrears (an event posted live)
    Column("reversal_reason", String(64)),
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
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=False),
    Column("sources", Text, nullable=False),  # JSON list of file names
    Column("counts", Text, nullable=False),  # JSON {entity: rows}
)


# The evidence log: append-only, each entry chained to the previous one by a SHA-256 hash.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
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


# ------------------------------------------------------------------------------------------
# Collection activity the daily cycle reads (contacts, promises, holds, arrangements) and
# what it writes (the stage of each account, its changes, the day's plan, the run record).

contact_attempt = Table(
    "contact_attempt",
    metadata,
    Column("attempt_id", String(64), primary_key=True),
    Column("borrower_id", String(64), nullable=False, index=True),
    Column("loan_id", String(64)),  # NULL: about every debt of the borrower
    Column("channel", String(16), nullable=False),  # sms push email letter robocall call visit
    Column("at", UtcDateTime(), nullable=False),
    Column("direction", String(8), nullable=False),  # outbound | inbound
    Column("role", String(24), nullable=False),  # debtor | guarantor | emergency_contact ...
    Column("destination_hash", String(64)),
    Column("result", String(24)),  # connected conversation no_answer busy ... delivered
    # what the dispatcher sent (empty for history loaded from files)
    Column("action_id", String(160), index=True),  # the plan action it carried out
    Column("template", String(64)),
    Column("template_version", Integer),
    Column("collector_id", String(64)),  # the agent, or the system identity of a message
    Column("subject", Text),
    Column("content", Text),  # what was said, as the borrower read or heard it
    Column("provider", String(32)),
    Column("provider_ref", String(128)),
    # a visit's second collector (visits need two), and whether the contact broke the rules
    # (recorded as a fact by the lender's policy, with a conduct alert: never silently)
    Column("companion_id", String(64)),
    Column("breach", Boolean),
    # a call dialled from the console (click-to-call): the dialer's progress, the call's length,
    # and when the collector's wrap-up completed it
    Column("dial_status", String(24)),
    Column("duration_seconds", Integer),
    Column("wrapped_at", UtcDateTime()),
    # what the contact came to (right_party, wrong_party, refused, dispute ...: DISPOSITIONS)
    # and the reason for falling behind the borrower gave (job_loss, illness ...: REASONS)
    Column("disposition", String(24)),
    Column("reason", String(24)),
)

# Every contact carries a code; anyone can ask whether a code is real (arrears verify, the
# portal). Only its hash is kept: the code itself went to the borrower.
verification_code = Table(
    "verification_code",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("attempt_id", String(64), ForeignKey("contact_attempt.attempt_id"), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

# Contact templates, each version kept (a contact names the version it was rendered from).
template = Table(
    "template",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("locale", String(16), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("audience", String(16), nullable=False),  # debtor | third_party
    Column("subject", Text),
    Column("body", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("loaded_at", UtcDateTime(), nullable=False),
    Column("source", String(300), nullable=False),
)

promise = Table(
    "promise",
    metadata,
    Column("promise_id", String(64), primary_key=True),
    Column("loan_id", String(64), ForeignKey("loan.loan_id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("made_at", UtcDateTime(), nullable=False),
    Column(
        "status", String(16), nullable=False
    ),  # pending | kept | partly_kept | broken | superseded
    Column("settled_on", Date),  # the day the status was decided
    Column("group_id", String(64)),  # the parts of one promise share it
    Column("seq", Integer),  # the part's number in its promise
    Column("source", String(24)),  # agent_call | robocall | portal | api
    Column("made_by", String(64)),  # the collector (or the borrower's own channel)
    Column("paid", BigInteger),  # paid toward this part when it was decided
)
Index("ix_promise_status_due_on", promise.c.status, promise.c.due_on)

hold = Table(
    "hold",
    metadata,
    Column("hold_id", String(64), primary_key=True),
    Column("borrower_id", String(64), nullable=False, index=True),
    Column("loan_id", String(64)),  # NULL: the hold covers every debt of the borrower
    Column("kind", String(32), nullable=False),  # dispute complaint cease_request attorney ...
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime()),  # NULL: until released
    Column("reason", Text),
    Column("created_by", String(64)),
    Column("ended_by", String(64)),
    Column("end_reason", String(64)),
)

arrangement = Table(
    "arrangement",
    metadata,
    Column("arrangement_id", String(64), primary_key=True),
    Column("loan_id", String(64), ForeignKey("loan.loan_id"), nullable=False, index=True),
    Column("kind", String(24), nullable=False),  # extension plan settlement waiver
    # pending_approval | active | completed | breached | rejected
    Column("status", String(16), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date),
    Column("terms", Text),  # canonical JSON: what was agreed
    Column("effect", Text),  # canonical JSON: before and after, saving, cost to the lender
    Column("proposed_by", String(64)),
    Column("proposed_role", String(24)),
    Column("proposed_at", UtcDateTime()),
    Column("approved_by", String(64)),  # the checker (never the maker)
    Column("approved_at", UtcDateTime()),
    Column("reason", Text),
)

# Charges forgiven, as ledger events the replay applies (arrears.domain.ledger.Waiver).
waiver = Table(
    "waiver",
    metadata,
    Column("waiver_id", String(64), primary_key=True),
    Column("loan_id", String(64), ForeignKey("loan.loan_id"), nullable=False, index=True),
    Column("on", Date, nullable=False),
    Column("penalty", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("interest", BigInteger, nullable=False),
    Column("arrangement_id", String(64)),
)

# accounts in a collection stage only: one that leaves (cured, settled) is removed, so the
# table stays the size of the delinquent book
account_stage = Table(
    "account_stage",
    metadata,
    Column("loan_id", String(64), primary_key=True),
    Column("stage", String(24), nullable=False),
    Column("since", Date, nullable=False),  # the business date it entered the stage
)

stage_change = Table(
    "stage_change",
    metadata,
    Column("loan_id", String(64), primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("from_stage", String(24)),  # NULL: the account was not in a collection stage
    Column("prev_since", Date),  # when it had entered from_stage (restored if the day is re-run)
    Column("to_stage", String(24), nullable=False),  # a strategy stage, current or settled
    Column("run_id", Integer, nullable=False),
)

cycle_run = Table(
    "cycle_run",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("business_date", Date, nullable=False, index=True),
    Column("engine", String(16), nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("strategy_digest", String(64), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=False),
    Column("counts", Text, nullable=False),  # canonical JSON: per stage, channel, status, rule
    Column("plan_digest", String(64), nullable=False),  # sha256 of the day's actions
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

plan_action = Table(
    "plan_action",
    metadata,
    # business date | loan | step: the same action on a re-run has the same id
    Column("action_id", String(160), primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("loan_id", String(64), nullable=False, index=True),
    Column("borrower_id", String(64), nullable=False),
    Column("portfolio_id", String(64), nullable=False),
    Column("stage", String(24), nullable=False),
    Column("segment", String(32), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("template", String(64)),
    Column("queue", String(64)),
    Column("pool", String(64)),
    Column("locale", String(16), nullable=False),
    Column("priority", Float, nullable=False),
    Column("experiment", String(64)),
    Column("arm", String(64)),
    Column("window_start", UtcDateTime(), nullable=False),
    Column("window_end", UtcDateTime(), nullable=False),
    # planned | blocked (by a compliance rule) | suppressed | cut (over capacity) | sent ...
    Column("status", String(16), nullable=False),
    Column("rule", String(80)),  # what blocked, suppressed, cut or cancelled it
    # the dispatcher's: who holds the action and until when, tries, and how it ended
    Column("lease_owner", String(64)),
    Column("lease_until", UtcDateTime()),
    Column("tries", Integer),
    Column("next_try_at", UtcDateTime()),
    Column("attempt_id", String(64)),  # the contact attempt it became
    Column("sent_at", UtcDateTime()),
    Column("last_error", Text),
    # an unworked call or visit carried over from an earlier day: the date first planned
    Column("carried_from", Date),
)
Index("ix_plan_action_business_date_status", plan_action.c.business_date, plan_action.c.status)
Index("ix_plan_action_status_window", plan_action.c.status, plan_action.c.window_start)
Index(
    "ix_plan_action_queue_day",
    plan_action.c.queue,
    plan_action.c.business_date,
    plan_action.c.status,
    plan_action.c.priority,
)

# Every message handed, or about to be handed, to a provider: written with its contact attempt
# before it is sent (so a dispatcher that dies mid-send re-sends the same words under the same
# key), then marked with the provider's receipt and, later, its delivery report.
outbox_message = Table(
    "outbox_message",
    metadata,
    Column("action_id", String(160), primary_key=True),
    Column("attempt_id", String(64), nullable=False),
    Column("business_date", Date, nullable=False, index=True),
    Column("loan_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("destination_enc", LargeBinary, nullable=False),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    Column("html", Text),
    Column("attach", String(32)),  # an attachment made at send time: "statement"
    Column("created_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # pending | sent | parked
    Column("provider", String(32)),
    Column("provider_ref", String(128), index=True),
    Column("sent_at", UtcDateTime()),
    Column("delivery", String(24)),  # delivered | undelivered | bounced | answered ...
    Column("delivery_at", UtcDateTime()),
    Column("detail", Text),
)

# Accounts placed with collection agencies (one active placement per loan), and their recall.
placement = Table(
    "placement",
    metadata,
    Column("placement_id", String(64), primary_key=True),
    Column("loan_id", String(64), ForeignKey("loan.loan_id"), nullable=False, index=True),
    Column("borrower_id", String(64), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("pool", String(64)),
    Column("action_id", String(160)),  # the plan action that placed it
    Column("placed_on", Date, nullable=False),
    Column("recall_by", Date, nullable=False),  # the placement's term ends: recalled then
    Column("balance", BigInteger, nullable=False),  # total due when placed
    Column("status", String(16), nullable=False),  # placed | recalled
    Column("recalled_on", Date),
    Column("recall_reason", String(64)),
    Column("file", String(300), nullable=False),  # the placement file it went out in
)
Index("ix_placement_agency_status", placement.c.agency, placement.c.status)

# Conduct alerts: a contact recorded outside what the rules allow, prohibited language found
# in what a person wrote or said, a call's quality inspection failing; each waits for a
# compliance reviewer, who confirms or dismisses it (audited).
conduct_alert = Table(
    "conduct_alert",
    metadata,
    Column("alert_id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),  # out_of_policy_contact | language | qa
    Column("loan_id", String(64), index=True),
    Column("borrower_id", String(64)),
    Column("attempt_id", String(64), index=True),
    Column("collector_id", String(64), index=True),
    Column("agency", String(64)),
    Column("rules", Text, nullable=False),  # JSON: the rules or categories, with spans
    Column("detail", Text, nullable=False),  # why, in en
    Column("detail_zh", Text, nullable=False),  # why, in zh-CN
    Column("raised_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False, index=True),  # open | confirmed | dismissed
    Column("reviewed_by", String(64)),
    Column("reviewed_at", UtcDateTime()),
    Column("review_note", Text),
)

# Complaints (投诉): what the borrower says happened, the contacts it concerns, who or what it is
# about (the collector, the agency, the template), its SLA and its finding.
complaint = Table(
    "complaint",
    metadata,
    Column("complaint_id", String(64), primary_key=True),
    Column("borrower_id", String(64), nullable=False, index=True),
    Column("loan_id", String(64)),
    Column("category", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("source", String(24), nullable=False),  # portal | api | collector
    Column("taken_by", String(64)),  # the collector who took it for the borrower
    Column("received_at", UtcDateTime(), nullable=False),
    Column("sla_due_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False, index=True),  # open | escalated | resolved
    Column("escalated_at", UtcDateTime()),
    Column("resolved_at", UtcDateTime()),
    Column("finding", String(16)),  # upheld | partly_upheld | not_upheld
    Column("resolution", Text),
    Column("resolved_by", String(64)),
    Column("collector_id", String(64)),  # who it is about (from the contacts concerned)
    Column("agency", String(64)),
    Column("template", String(64)),
    Column("hold_id", String(64)),  # the hold it started, if the portfolio says so
    # who handles it (a compliance officer or a supervisor), who gave it to them and when
    Column("owner", String(64), index=True),
    Column("assigned_by", String(64)),
    Column("assigned_at", UtcDateTime()),
)

complaint_attempt = Table(
    "complaint_attempt",
    metadata,
    Column("complaint_id", String(64), ForeignKey("complaint.complaint_id"), primary_key=True),
    Column("attempt_id", String(64), ForeignKey("contact_attempt.attempt_id"), primary_key=True),
)

# Staff who sign in to the console (service/staff/users.py): Argon2 hashes, lock-out after failures.
staff_user = Table(
    "staff_user",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    # admin strategy_manager supervisor collector field_agent compliance agency
    Column("role", String(32), nullable=False),
    Column("agency", String(64)),  # an agency user sees only the accounts placed with it
    Column("collector_id", String(64)),  # the id contacts carry (工号)
    Column("queues", String(200)),  # the work queues assigned, comma-separated
    Column("password_hash", String(200), nullable=False),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime()),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime(), nullable=False),
)

# A signed-in session: the cookie holds a random token, the store its SHA-256.
staff_session = Table(
    "staff_session",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("staff_user.user_id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

# Bearer tokens for integrations (the lender's systems): the store keeps their SHA-256 only.
api_token = Table(
    "api_token",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(200), nullable=False),  # comma-separated: read, write
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)

# Who saw whose personal data, when, and whether unmasked.
access_log = Table(
    "access_log",
    metadata,
    Column("access_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("borrower_id", String(64), nullable=False, index=True),
    Column("what", String(64), nullable=False),
    Column("unmasked", Boolean, nullable=False),
)

# Break-glass: a collector opening an account outside their queues states why; the grant lasts
# the day, is logged and reported to compliance (a conduct alert).
access_grant = Table(
    "access_grant",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("loan_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("granted_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)
Index("ix_access_grant_user_loan", access_grant.c.user_id, access_grant.c.loan_id)

# A call's recording, fetched from the dialer and kept sealed; its SHA-256 is in the evidence log.
call_recording = Table(
    "call_recording",
    metadata,
    Column("attempt_id", String(64), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("audio_enc", LargeBinary, nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("duration_seconds", Integer),
    Column("fetched_at", UtcDateTime(), nullable=False),
)

# What was said on a call, as the speech-recognition provider wrote it down (speaker-labelled
# segments with times, sealed), and the call's quality-inspection scorecard (质检).
call_transcript = Table(
    "call_transcript",
    metadata,
    Column("attempt_id", String(64), primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("job_id", String(128), index=True),
    Column("status", String(16), nullable=False),  # submitted | done | failed
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
    Column("detail", Text),
    Column("segments", Text),  # sealed JSON
    Column("score", Integer),  # 0-100
    Column("flagged", Boolean),
    Column("scorecard", Text),  # sealed JSON: items, findings with their time spans
)

# Strategies uploaded through the console: each version kept whole; one is active (the cycle
# runs it when no strategy is named).
strategy_version = Table(
    "strategy_version",
    metadata,
    Column("version_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", UtcDateTime(), nullable=False),
    Column("activated_by", String(64)),
    Column("activated_at", UtcDateTime()),
    Column("active", Boolean, nullable=False, server_default=false()),
    # who asked for its activation, where the policy wants a second person to approve it
    Column("requested_by", String(64)),
    Column("requested_at", UtcDateTime()),
)

# The portal's one-time sign-in codes (6 digits, sent by SMS): only a keyed hash is kept; a
# code answers until it expires, is used, or has been guessed at too often.
portal_code = Table(
    "portal_code",
    metadata,
    Column("code_id", String(32), primary_key=True),
    Column(
        "borrower_id", String(64), ForeignKey("borrower.borrower_id"), nullable=False, index=True
    ),
    Column("code_hash", String(64), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("used_at", UtcDateTime()),
)

# A borrower's portal sessions (the cookie's SHA-256 only, with its CSRF token).
portal_session = Table(
    "portal_session",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "borrower_id", String(64), ForeignKey("borrower.borrower_id"), nullable=False, index=True
    ),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

# A payment the borrower started in the portal: created, sent to the provider, and paid (then
# posted as a payment event) or failed, as the provider's signed callback says.
payment_order = Table(
    "payment_order",
    metadata,
    Column("order_id", String(40), primary_key=True),
    Column("loan_id", String(64), ForeignKey("loan.loan_id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # created | paid | failed
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
    Column("provider_ref", String(128)),
    Column("payment_id", String(64)),
)

# Files a borrower attached to a complaint: type sniffed from the bytes, size bounded,
# stored encrypted in the store (never under a name the borrower chose).
complaint_evidence = Table(
    "complaint_evidence",
    metadata,
    Column("evidence_id", String(32), primary_key=True),
    Column(
        "complaint_id", String(64), ForeignKey("complaint.complaint_id"), nullable=False, index=True
    ),
    Column("filename", String(200), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data_enc", LargeBinary, nullable=False),
    Column("uploaded_at", UtcDateTime(), nullable=False),
)

# Attempt counters shared by every server process (staff sign-in lock-out, per-address limits),
# counted atomically in the store; instants as Unix seconds so one upsert reads the same on
# SQLite and PostgreSQL.
throttle = Table(
    "throttle",
    metadata,
    Column("bucket", String(200), primary_key=True),  # "<what>:<who>", e.g. staff:alice
    Column("hits", Integer, nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("locked_until", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False, index=True),
)

# Each provider event's effect applied once: a webhook told again is acknowledged and changes
# nothing (the dialer's call id + event, an SMS's message id + status, a payment order id).
provider_event = Table(
    "provider_event",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("event_key", String(200), primary_key=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("outcome", Text, nullable=False),  # what the first telling did (canonical JSON)
)

# The decision log (docs/LEARNING.md): for each account and day, each step's decision: the
# treatments that were compliant and possible, the one taken with its probability under the
# policy that chose it (what judging another policy from the logs needs), the experiment arm,
# and the attributes it was decided on (``x_``). A re-run of the day replaces the day's rows.
decision = Table(
    "decision",
    metadata,
    Column("decision_id", String(200), primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("loan_id", String(64), nullable=False),
    Column("stage", String(24), nullable=False),
    Column("segment", String(32), nullable=False),
    Column("decision", String(64), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("taken", String(16)),
    Column("status", String(16), nullable=False),
    Column("rule", String(80)),
    Column("candidates", String(200), nullable=False),
    Column("n_ok", Integer, nullable=False),
    Column("propensity", Float),
    Column("explored", Boolean, nullable=False),
    Column("policy", String(64), nullable=False),
    Column("experiment", String(64)),
    Column("arm", String(64)),
    Column("x_dpd", Integer),
    Column("x_days_in_stage", Integer),
    Column("x_total_due", BigInteger),
    Column("x_overdue_principal", BigInteger),
    Column("x_overdue_penalty", BigInteger),
    Column("x_outstanding_principal", BigInteger),
    Column("x_score", Float),
    Column("x_broken_promises", Integer),
    Column("x_promise_active", Boolean),
    Column("x_plan_active", Boolean),
    Column("x_contacts_last_7d", Integer),
    Column("x_paid_today_share", Float),
    Column("x_consent_sms", Boolean),
    Column("x_consent_call", Boolean),
    Column("x_last_contact_result", String(32)),
    Column("x_delinquency_reason", String(32)),
    Column("x_last_disposition", String(32)),
    Column("x_product", String(64)),
)
Index("ix_decision_business_date", decision.c.business_date)
Index("ix_decision_loan", decision.c.loan_id, decision.c.business_date)
