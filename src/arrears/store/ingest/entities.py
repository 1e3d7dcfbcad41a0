"""What each ingestion file holds: columns, parsers, keys, references and row rules.

One :class:`Entity` per file kind, loaded in dependency order. Column names are the documented
ones (docs/DATA_FORMATS.md); unknown columns are refused so a misspelt header is caught.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table

from arrears.compliance import facts as compliance
from arrears.compliance.rulebook import HOLD_KINDS
from arrears.domain import identity
from arrears.store import tables as t
from arrears.store.crypto import Cipher
from arrears.store.ingest import columns as c
from arrears.store.ingest import fields as f

Row = dict[str, Any]


@dataclass(frozen=True)
class Col:
    """A column: its scalar parser, its vectorised check (by distinct values if none)."""

    name: str
    parse: f.Parser
    vector: c.ColumnCheck | None = None
    required: bool = False
    default: Any = None

    def check(self, col: pa.Array) -> c.Checked:
        return (self.vector or c.by_unique(self.parse))(col)


@dataclass(frozen=True)
class Ref:
    """``column`` must name a row of ``table.key`` already in the batch or the store."""

    column: str
    table: Table
    key: str


def NO_CHECK(row: Row) -> list[tuple[str, str]]:
    """No cross-field rule."""
    return []


def NO_STORE(row: Row, cipher: Cipher) -> Row:
    """Store the parsed row as it is."""
    return row


@dataclass(frozen=True)
class Entity:
    name: str
    table: Table
    keys: tuple[str, ...]
    columns: tuple[Col, ...]
    refs: tuple[Ref, ...] = ()
    #: cross-field rule: returns (column, reason) pairs for a parsed row
    check: Callable[[Row], list[tuple[str, str]]] = field(default=NO_CHECK)
    #: parsed row -> stored row (encrypts personal data)
    store: Callable[[Row, Cipher], Row] = field(default=NO_STORE)
    #: the rows ``check`` can refuse (None: all); lets large files skip the row-by-row pass
    check_when: Callable[[pa.Table], pa.Array] | None = None

    @property
    def column_names(self) -> set[str]:
        return {c.name for c in self.columns}


def _policy_cols() -> tuple[Col, ...]:
    return (
        Col("penalty_daily_rate", f.rate),
        Col("penalty_rate_multiplier", f.rate),
        Col("penalty_base", f.choice("principal", "principal_interest")),
        Col("grace_days", f.integer(0), c.integer(0)),
        Col("penalty_rate_cap_annual", f.rate),
        Col("charges_cap_ratio", f.rate),
        Col("allocation", f.choice("components_first", "instalment_first")),
    )


def _policy_check(row: Row) -> list[tuple[str, str]]:
    if row.get("penalty_daily_rate") is not None and row.get("penalty_rate_multiplier") is not None:
        return [("penalty_rate_multiplier", "give penalty_daily_rate or the multiplier, not both")]
    return []


PORTFOLIOS = Entity(
    "portfolios",
    t.portfolio,
    ("portfolio_id",),
    (
        Col("portfolio_id", f.identifier, c.identifier, required=True),
        Col("name", f.text(200), c.text(200), required=True),
        Col("creditor", f.text(200), c.text(200), required=True),
        Col("product", f.text(64), c.text(64), default="cash_loan"),
        Col("currency", f.currency, default="CNY"),
        Col("rulebook", f.choice("cn", "us-regf", "uk-conc"), default="cn"),
        Col("strategy", f.identifier, c.identifier, default="default"),
        Col("timezone", f.timezone, default="Asia/Shanghai"),
        *_policy_cols(),
    ),
    check=_policy_check,
)


def _borrower_store(row: Row, cipher: Cipher) -> Row:
    name = row.pop("name")
    national_id = row.pop("national_id")
    row["name_enc"] = cipher.encrypt("borrower.name", name)
    row["national_id_enc"] = cipher.encrypt("borrower.national_id", national_id)
    row["national_id_hash"] = cipher.lookup_hash("national_id", national_id)
    return row


def _borrower_check(row: Row) -> list[tuple[str, str]]:
    nid = row.get("national_id")
    if nid is None:
        return []
    why = identity.problem(nid, row.get("id_type") or "cn_resident")
    return [("national_id", why)] if why else []


def _borrower_suspects(rows: pa.Table) -> pa.Array:
    """The rows whose identity document needs the row-by-row check: any kind but a resident
    id, and resident ids the vectorised checksum refuses (most rows skip the slow pass)."""
    nid = pc.cast(rows["national_id"], pa.string())  # a column of nothing but nulls has no type
    kind = pc.cast(rows["id_type"], pa.string())
    other = pc.not_equal(pc.fill_null(kind, "cn_resident"), "cn_resident")
    return pc.and_(pc.is_valid(nid), pc.or_(other, pc.invert(c.resident_id_ok(nid))))


BORROWERS = Entity(
    "borrowers",
    t.borrower,
    ("borrower_id",),
    (
        Col("borrower_id", f.identifier, c.identifier, required=True),
        Col("name", f.text(200), c.text(200), required=True),
        Col("national_id", f.text(64), c.text(64)),
        Col("id_type", f.choice(*identity.KINDS), default="cn_resident"),
        Col("locale", f.locale, default="zh-CN"),
        Col("timezone", f.timezone, default="Asia/Shanghai"),
        Col("consents", f.channels),
        Col("contact_window", f.window),
        Col("preferred_channel", f.preferred),
    ),
    store=_borrower_store,
    check=_borrower_check,
    check_when=_borrower_suspects,
)


def _contact_check(row: Row) -> list[tuple[str, str]]:
    kind, value = row.get("kind"), row.get("value") or ""
    if kind == "phone" and len(re.sub(r"\D", "", value)) < 6:
        return [("value", f"a phone number needs at least 6 digits, got {value!r}")]
    if kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        return [("value", f"not an email address: {value!r}")]
    return []


def _contact_store(row: Row, cipher: Cipher) -> Row:
    value = row.pop("value")
    owner_name = row.pop("owner_name")
    row["value_enc"] = cipher.encrypt("contact_point.value", value)
    row["value_hash"] = cipher.lookup_hash(row["kind"], value)
    row["owner_name_enc"] = cipher.encrypt("contact_point.owner_name", owner_name)
    return row


CONTACT_POINTS = Entity(
    "contact_points",
    t.contact_point,
    ("contact_id",),
    (
        Col("contact_id", f.identifier, c.identifier, required=True),
        Col("borrower_id", f.identifier, c.identifier, required=True),
        Col("kind", f.choice("phone", "email", "address"), required=True),
        Col(
            "owner_role", f.choice("borrower", "guarantor", "emergency_contact"), default="borrower"
        ),
        Col("owner_name", f.text(200), c.text(200)),
        Col("relation", f.text(32), c.text(32)),
        Col("value", f.text(500), c.text(500), required=True),
        Col("opt_outs", f.channels),
        Col("is_valid", f.boolean, default=True),
        Col("is_primary", f.boolean, default=False),
    ),
    refs=(Ref("borrower_id", t.borrower, "borrower_id"),),
    check=_contact_check,
    store=_contact_store,
)


def _loan_check(row: Row) -> list[tuple[str, str]]:
    problems = _policy_check(row)
    if row.get("method") != "explicit":
        for col in ("term_months", "first_due_date"):
            if row.get(col) is None:
                problems.append((col, f"is required for method {row.get('method')}"))
    if row.get("term_months") is not None and row["term_months"] > 600:
        problems.append(("term_months", "must be <= 600"))
    return problems


LOANS = Entity(
    "loans",
    t.loan,
    ("loan_id",),
    (
        Col("loan_id", f.identifier, c.identifier, required=True),
        Col("portfolio_id", f.identifier, c.identifier, required=True),
        Col("borrower_id", f.identifier, c.identifier, required=True),
        Col("currency", f.currency, default="CNY"),
        Col("principal", f.integer(1), c.integer(1), required=True),
        Col("annual_rate", f.rate, required=True),
        Col(
            "method",
            f.choice("equal_payment", "equal_principal", "bullet", "explicit"),
            default="equal_payment",
        ),
        Col("term_months", f.integer(1), c.integer(1)),
        Col("first_due_date", f.iso_date, c.iso_date),
        Col("originated_on", f.iso_date, c.iso_date),
        Col("score", f.score),
        *_policy_cols(),
    ),
    refs=(
        Ref("portfolio_id", t.portfolio, "portfolio_id"),
        Ref("borrower_id", t.borrower, "borrower_id"),
    ),
    check=_loan_check,
)

INSTALMENTS = Entity(
    "instalments",
    t.instalment,
    ("loan_id", "seq"),
    (
        Col("loan_id", f.identifier, c.identifier, required=True),
        Col("seq", f.integer(1), c.integer(1), required=True),
        Col("due_date", f.iso_date, c.iso_date, required=True),
        Col("principal", f.integer(0), c.integer(0), default=0),
        Col("interest", f.integer(0), c.integer(0), default=0),
        Col("fee", f.integer(0), c.integer(0), default=0),
    ),
    refs=(Ref("loan_id", t.loan, "loan_id"),),
)


def _payment_check(row: Row) -> list[tuple[str, str]]:
    if row.get("status") == "reversed" and row.get("reversed_on") is None:
        return [("reversed_on", "is required when status is reversed")]
    if row.get("reversed_on") is not None and row["reversed_on"] < row["paid_on"]:
        return [("reversed_on", "is before paid_on")]
    return []


PAYMENTS = Entity(
    "payments",
    t.payment,
    ("payment_id",),
    (
        Col("payment_id", f.identifier, c.identifier, required=True),
        Col("loan_id", f.identifier, c.identifier, required=True),
        Col("paid_on", f.iso_date, c.iso_date, required=True),
        Col("amount", f.integer(1), c.integer(1), required=True),
        Col("status", f.choice("posted", "reversed"), default="posted"),
        Col("reversed_on", f.iso_date, c.iso_date),
        Col("source", f.text(32), c.text(32)),
    ),
    refs=(Ref("loan_id", t.loan, "loan_id"),),
    check=_payment_check,
    check_when=lambda rows: pc.or_(
        pc.is_valid(rows["reversed_on"]), pc.equal(rows["status"], "reversed")
    ),
)

# Collection history a lender brings along (or another system keeps): contact attempts,
# promises to pay, holds and arrangements. The daily cycle reads them; later issues write them.

CONTACT_CHANNELS = compliance.CHANNELS
#: the gate's call results, and what message channels report
CONTACT_RESULTS = (*compliance.RESULTS, "delivered", "failed", "bounced", "read", "refused")

#: the kind of contact point each channel reaches (keys the destination's lookup hash)
POINT_OF = {"call": "phone", "robocall": "phone", "sms": "phone", "email": "email",
            "letter": "address", "visit": "address", "push": "push"}  # fmt: skip


def _attempt_store(row: Row, cipher: Cipher) -> Row:
    """The number or address used is kept only as its lookup hash (the frequency rules count
    dials per number)."""
    destination = row.pop("destination")
    row["destination_hash"] = (
        None if destination is None else cipher.lookup_hash(POINT_OF[row["channel"]], destination)
    )
    return row


CONTACTS = Entity(
    "contacts",
    t.contact_attempt,
    ("attempt_id",),
    (
        Col("attempt_id", f.identifier, c.identifier, required=True),
        Col("borrower_id", f.identifier, c.identifier, required=True),
        Col("loan_id", f.identifier, c.identifier),
        Col("channel", f.choice(*CONTACT_CHANNELS), required=True),
        Col("at", f.instant, required=True),
        Col("direction", f.choice("outbound", "inbound"), default="outbound"),
        Col(
            "role",
            f.choice("debtor", "guarantor", "emergency_contact", "third_party"),
            default="debtor",
        ),
        Col("destination", f.text(500), c.text(500)),
        Col("result", f.choice(*CONTACT_RESULTS)),
    ),
    refs=(Ref("borrower_id", t.borrower, "borrower_id"), Ref("loan_id", t.loan, "loan_id")),
    store=_attempt_store,
)


def _promise_check(row: Row) -> list[tuple[str, str]]:
    if row.get("status") != "pending" and row.get("settled_on") is None:
        return [("settled_on", "is required once a promise is kept, partly kept or broken")]
    return []


PROMISES = Entity(
    "promises",
    t.promise,
    ("promise_id",),
    (
        Col("promise_id", f.identifier, c.identifier, required=True),
        Col("loan_id", f.identifier, c.identifier, required=True),
        Col("amount", f.integer(1), c.integer(1), required=True),
        Col("due_on", f.iso_date, c.iso_date, required=True),
        Col("made_at", f.instant, required=True),
        Col(
            "status",
            f.choice("pending", "kept", "partly_kept", "broken", "superseded"),
            default="pending",
        ),
        Col("settled_on", f.iso_date, c.iso_date),
    ),
    refs=(Ref("loan_id", t.loan, "loan_id"),),
    check=_promise_check,
)


def _hold_check(row: Row) -> list[tuple[str, str]]:
    if row.get("ends_at") is not None and row["ends_at"] <= row["starts_at"]:
        return [("ends_at", "is not after starts_at")]
    return []


HOLDS = Entity(
    "holds",
    t.hold,
    ("hold_id",),
    (
        Col("hold_id", f.identifier, c.identifier, required=True),
        Col("borrower_id", f.identifier, c.identifier, required=True),
        Col("loan_id", f.identifier, c.identifier),
        Col("kind", f.choice(*HOLD_KINDS), required=True),
        Col("starts_at", f.instant, required=True),
        Col("ends_at", f.instant),
    ),
    refs=(Ref("borrower_id", t.borrower, "borrower_id"), Ref("loan_id", t.loan, "loan_id")),
    check=_hold_check,
)

ARRANGEMENTS = Entity(
    "arrangements",
    t.arrangement,
    ("arrangement_id",),
    (
        Col("arrangement_id", f.identifier, c.identifier, required=True),
        Col("loan_id", f.identifier, c.identifier, required=True),
        Col("kind", f.choice("extension", "plan", "settlement", "waiver"), required=True),
        Col("status", f.choice("proposed", "active", "completed", "breached"), default="active"),
        Col("starts_on", f.iso_date, c.iso_date, required=True),
        Col("ends_on", f.iso_date, c.iso_date),
    ),
    refs=(Ref("loan_id", t.loan, "loan_id"),),
)

#: load order: every entity after the ones it refers to
ENTITIES: tuple[Entity, ...] = (
    PORTFOLIOS,
    BORROWERS,
    CONTACT_POINTS,
    LOANS,
    INSTALMENTS,
    PAYMENTS,
    CONTACTS,
    PROMISES,
    HOLDS,
    ARRANGEMENTS,
)
BY_NAME = {e.name: e for e in ENTITIES}


def parse_row(entity: Entity, raw: Row) -> tuple[Row, list[tuple[str, str]]]:
    """Parse one raw row; return the typed row and the (column, reason) problems found."""
    out: Row = {}
    problems: list[tuple[str, str]] = []
    for col in entity.columns:
        value = raw.get(col.name)
        if f.blank(value):
            if col.required:
                problems.append((col.name, "is required"))
            out[col.name] = col.default
            continue
        try:
            out[col.name] = col.parse(value)
        except f.Invalid as exc:
            problems.append((col.name, str(exc)))
            out[col.name] = None
    if not problems:
        problems.extend(entity.check(out))
    return out, problems
