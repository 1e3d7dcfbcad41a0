"""What the API takes and what it gives back: the request bodies (strict: an id is a string
and an amount an integer number of minor units, as JSON gives them) and a response model for
every endpoint, so the OpenAPI document says what each returns.

Responses are sent with ``response_model_exclude_unset``: a key the service leaves out (a
settlement's schedule has no split by component) stays out, never appears as ``null``. Every
model forbids keys it does not name, so a service that starts returning a new key fails the
tests instead of sending something undocumented."""

import datetime as dt
import re
from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    field_validator,
)

from arrears import ids
from arrears.domain.dispositions import DISPOSITIONS, REASONS
from arrears.web.api.deps import Day

Id = Annotated[str, Strict(), Field(min_length=1, max_length=64, pattern=ids.LENDER_PATTERN)]
#: an id arrears composed (a plan action: business date ~ loan ~ step), arrears.ids
ActionId = Annotated[str, Strict(), Field(min_length=1, max_length=160, pattern=ids.PATTERN)]
Fen = Annotated[int, Strict(), Field(gt=0, le=10**13)]
Minor = Annotated[int, Strict(), Field(ge=0, le=10**13)]

#: characters no text the API takes may hold (PostgreSQL cannot store NUL; none belongs in a
#: name, a reason or a note)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and CONTROL.search(text):
                raise ValueError("holds a control character (NUL and the like)")
        return value


class PaymentCreate(_In):
    loan_id: Id
    amount: Fen
    paid_on: Day | None = None
    payment_id: Id | None = None
    #: post an amount above what closes the loan (the excess is kept as a credit)
    overpayment: StrictBool = False


class ReversalCreate(_In):
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class PartIn(_In):
    due_on: Day
    amount: Fen


class PromiseCreate(_In):
    parts: Annotated[list[PartIn], Field(min_length=1, max_length=24)]
    source: Literal["agent_call", "robocall", "portal", "api"] = "api"
    made_by: Id | None = None


class ArrangementAsk(_In):
    kind: Literal["waiver", "extension", "plan", "settlement"]
    # waiver
    penalty: Minor = 0
    fee: Minor = 0
    interest: Minor = 0
    # extension
    until: Day | None = None
    days: Annotated[int, Strict(), Field(ge=1, le=366)] | None = None
    # plan
    parts: Annotated[int, Strict(), Field(ge=1, le=60)] | None = None
    first: Day | None = None
    whole_balance: StrictBool = False
    # settlement
    amount: Fen | None = None
    pay_by: Day | None = None

    def ask(self) -> dict[str, Any]:
        if self.kind == "waiver":
            return {k: v for k in ("penalty", "fee", "interest") if (v := getattr(self, k))}
        fields = {
            "extension": ("until", "days"),
            "plan": ("parts", "first", "whole_balance"),
            "settlement": ("amount", "pay_by"),
        }[self.kind]
        return {k: getattr(self, k) for k in fields if getattr(self, k) not in (None, False)}


class ArrangementCreate(ArrangementAsk):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ComplaintCreate(_In):
    borrower_id: Id
    loan_id: Id | None = None
    category: Annotated[str, Field(min_length=1, max_length=32)]
    description: Annotated[str, Field(min_length=1, max_length=5000)]
    attempt_ids: Annotated[list[Id], Field(max_length=50)] = []


class OutcomeCreate(_In):
    collector_id: Id
    result: Annotated[str, Field(min_length=1, max_length=32)]
    note: Annotated[str, Field(max_length=2000)] | None = None
    disposition: (
        Annotated[
            Literal[tuple(DISPOSITIONS)],  # type: ignore[valid-type]
            Field(description="what the contact came to, once someone answered"),
        ]
        | None
    ) = None
    reason: (
        Annotated[
            Literal[tuple(REASONS)],  # type: ignore[valid-type]
            Field(description="the borrower's reason for falling behind (from the borrower only)"),
        ]
        | None
    ) = None
    call_back_at: (
        Annotated[
            AwareDatetime,
            Field(description="call the borrower back then (with its offset); gated like any call"),
        ]
        | None
    ) = None


Row = dict[str, str | int | float | bool | None]
MAX_ROWS = 20_000


class IngestBatch(_In):
    """Rows of the ingestion files (docs/DATA_FORMATS.md), by entity; loaded all or nothing."""

    portfolios: Annotated[list[Row], Field(max_length=MAX_ROWS)] = []
    borrowers: Annotated[list[Row], Field(max_length=MAX_ROWS)] = []
    contact_points: Annotated[list[Row], Field(max_length=MAX_ROWS)] = []
    loans: Annotated[list[Row], Field(max_length=MAX_ROWS)] = []
    instalments: Annotated[list[Row], Field(max_length=MAX_ROWS)] = []
    payments: Annotated[list[Row], Field(max_length=MAX_ROWS)] = []


# -- what the endpoints return ------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


ItemT = TypeVar("ItemT")


class Page(_Out, Generic[ItemT]):
    """One page of a list: ``total`` items in all."""

    items: list[ItemT]
    page: int
    per_page: int
    total: int = Field(ge=0)


def page_model(item: Any) -> Any:
    """``Page[item]`` for a row model made at run time (a type checker cannot subscript it)."""
    return Page[item]


class Loaded(_Out):
    """Rows loaded, by entity."""

    loaded: dict[str, int]


class Components(_Out):
    """An amount split by component, in minor units."""

    principal: int
    interest: int
    fee: int
    penalty: int


class Charges(_Out):
    """Charges by component (principal is never waived), in minor units."""

    interest: int
    fee: int
    penalty: int


class PenaltyLine(_Out):
    """One run of days at one base: ``per_day`` is ``base`` times ``daily_rate``, rounded."""

    from_: date = Field(alias="from")
    to: date
    days: int
    base: int
    daily_rate: str
    per_day: int
    amount: int
    cut_by_cap: bool

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Instalment(_Out):
    """One instalment: what fell due, what was paid, waived or moved, and its penalty."""

    seq: int
    due_date: date
    principal: int
    interest: int
    fee: int
    amount: int
    paid_principal: int
    paid_interest: int
    paid_fee: int
    unpaid: int
    penalty_accrued: int
    penalty_paid: int
    paid_off_on: date | None
    days_overdue: int
    penalty_lines: list[PenaltyLine]
    waived_interest: int
    waived_fee: int
    waived_penalty: int
    penalty_carried: int
    moved_principal: int
    moved_interest: int
    moved_fee: int
    moved_penalty: int
    arrangement_id: str | None
    original_due_date: date | None


class ArrangementLine(_Out):
    """An arrangement as the ledger replays it."""

    arrangement_id: str
    kind: str
    date: dt.date
    status: str
    on: dt.date | None
    moved: Components
    fee: int
    interest: int
    missed: int


class Statement(_Out):
    """What a loan owes on ``as_of`` and how every amount was computed (docs/STATEMENTS.md);
    every amount in minor units of ``currency``."""

    loan_id: str
    currency: str
    as_of: date
    dpd: int | None
    bucket: str | None
    stage: str
    overdue: Components
    due_today: Components
    total_due: int
    outstanding_principal: int
    penalty_accrued: int
    penalty_unpaid: int
    daily_penalty_rate: str
    charges_cap: int | None
    charges_total: int
    cap_reached: bool
    cap_reached_on: date | None
    credit_balance: int
    paid_total: int
    oldest_unpaid_due_date: date | None
    next_due_date: date | None
    instalments: list[Instalment]
    waived: Charges
    arrangements: list[ArrangementLine]


class PaymentPosted(_Out):
    """A payment posted: the planned actions it made pointless (id -> the rule that cancelled
    it) and the promise parts it paid up."""

    payment_id: str
    loan_id: str
    amount: int
    paid_on: date
    cancelled: dict[str, str]
    promises_kept: int


class PaymentReversed(_Out):
    """A payment reversed: the actions it had cancelled, planned again."""

    payment_id: str
    loan_id: str
    restored: list[str]


class PromiseMade(_Out):
    """A promise's parts, by id."""

    loan_id: str
    parts: list[str]


class ScheduleLine(_Out):
    """One payment of an arrangement's schedule (a settlement's has no split by component)."""

    due_date: date
    amount: int
    principal: int | None = None
    interest: int | None = None
    fee: int | None = None
    penalty: int | None = None


class PaymentLine(_Out):
    """One payment left to make once an arrangement is in force: the arrangement's own
    (``arranged``) or a regular instalment after it."""

    due_date: date
    amount: int
    arranged: bool


class Effect(_Out):
    """An arrangement's effect today: before and after, the saving to the borrower and the
    cost to the lender. A waiver gives ``waive`` and ``share_of_unpaid``; an extension, a plan
    or a settlement gives its ``terms``, ``schedule``, ``baseline`` and ``total_cost``, and
    ``payments``: every payment left to make, the regular instalments too."""

    as_of: date
    total_due_before: int
    total_due_after: int
    dpd_after: int | None
    saving_to_borrower: int
    cost_to_lender: int
    waive: Charges | None = None
    share_of_unpaid: dict[str, str] | None = None
    kind: str | None = None
    terms: dict[str, Any] | None = None
    schedule: list[ScheduleLine] | None = None
    payments: list[PaymentLine] | None = None
    total_cost: int | None = None
    baseline: int | None = None
    dpd_before: int | None = None
    stage_after: str | None = None


class ArrangementProposed(_Out):
    """An arrangement proposed: ``active`` at once, or ``pending_approval``."""

    arrangement_id: str
    status: str
    effect: Effect


class ComplaintFiled(_Out):
    complaint_id: str


class Violation(_Out):
    """A rule the attempt would break, with its reason in the locale asked for and in both."""

    rule: str
    reason: str
    reason_en: str
    reason_zh: str


class Decision(_Out):
    """The gate's decision on one contact attempt (docs/COMPLIANCE.md)."""

    allowed: bool
    violations: list[Violation]
    earliest_allowed_at: str | None
    rulebook: str
    rulebook_version: str


class BotLine(_In):
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class LineAnswer(_Out):
    """Whether the bot may say the line, and whether the call's script is stopped."""

    speak: bool
    stopped: bool
    category: str | None = None
    words: str | None = None


class OutcomeRecorded(_Out):
    attempt_id: str


class BookLine(_Out):
    loans: int
    total_due: int | None


class ComplaintRate(_Out):
    """Complaints per 10,000 contacts of one collector, agency or template."""

    by: str
    who: str
    complaints: int
    contacts: int
    per_10k: float


class Contacted(_Out):
    attempts: int
    reached: int


class PromisesDecided(_Out):
    due: int
    kept: int
    partly_kept: int
    broken: int


class RollCell(_Out):
    loans: int
    balance: int


class RollRow(_Out):
    from_: str = Field(alias="from", serialization_alias="from")
    start: int
    cells: dict[str, RollCell]  # by the bucket at the end, or "cured"

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RollMatrix(_Out):
    """Loans and balances by bucket at the first snapshot (rows) and at the last (cells)."""

    buckets: list[str]
    rows: list[RollRow]


class Kpis(_Out):
    """The portfolio's measures over [since, until] (docs/CONSOLE.md). Roll and cure rates need
    two delinquency snapshots in the period: without them ``rolls_note`` says so. A period
    that starts before the first snapshot ever stored says so (``starts_before_snapshots``)."""

    since: date
    until: date
    book_from: str
    by_bucket: dict[str, BookLine]
    by_stage: dict[str, BookLine]
    roll_rates: dict[str, float | None] | None
    cure_rates: dict[str, float | None] | None
    rolls_between: list[date] | None = None
    rolls_note: str | None = None
    roll_matrix: RollMatrix | None = None
    first_snapshot: date | None = None
    starts_before_snapshots: bool = False
    ptp: PromisesDecided
    ptp_kept_rate: float | None
    contacts_by_channel: dict[str, int]
    right_party_contact: Contacted
    right_party_contact_rate: float | None
    blocks_by_rule: dict[str, int]
    complaints_per_10k: list[ComplaintRate]
