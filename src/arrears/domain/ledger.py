"""The loan ledger: terms, payments, the allocation waterfall, credit balances and reversals.

A loan is an immutable record of its contract and its payment events. Its state on any date is
always *replayed* from those events (see :mod:`arrears.domain.delinquency`), so reversing a bounced
payment restores the exact state the loan would have had without it.

Allocation (a payment dated d counts from the end of day d, after that day's penalty accrual):

* ``components_first`` (default) — across everything due on the payment date: penalty, then fees,
  then interest, then principal, each oldest instalment first;
* ``instalment_first`` — the oldest instalment in full (penalty, fee, interest, principal)
  before the next.

What exceeds everything due becomes a credit balance, applied to each next instalment on its due
date (fee, interest, then principal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from arrears.domain.schedule import Instalment


class LedgerError(ValueError):
    """A payment or reversal the ledger refuses."""


class Allocation(StrEnum):
    COMPONENTS_FIRST = "components_first"
    INSTALMENT_FIRST = "instalment_first"


class PenaltyBase(StrEnum):
    PRINCIPAL = "principal"
    PRINCIPAL_INTEREST = "principal_interest"


DEFAULT_MULTIPLIER = Decimal("1.5")


@dataclass(frozen=True, slots=True)
class Policy:
    """The product policy for penalty interest 罚息, caps and allocation.

    The daily penalty rate is ``daily_rate`` when given, else annual rate × ``rate_multiplier`` /
    360 (借呗-style 1.5× by default); ``rate_cap_annual`` limits it to cap / 360.
    ``charges_cap_ratio`` caps all penalty and fees ever charged at that share of the original
    principal.
    """

    daily_rate: Decimal | None = None
    rate_multiplier: Decimal | None = None
    base: PenaltyBase = PenaltyBase.PRINCIPAL
    grace_days: int = 0
    rate_cap_annual: Decimal | None = None
    charges_cap_ratio: Decimal | None = None
    allocation: Allocation = Allocation.COMPONENTS_FIRST

    def __post_init__(self) -> None:
        if self.daily_rate is not None and self.rate_multiplier is not None:
            raise LedgerError(
                "policy: give penalty_daily_rate or penalty_rate_multiplier, not both"
            )
        if self.grace_days < 0:
            raise LedgerError("policy.grace_days: must be >= 0")

    def daily_penalty_rate(self, annual_rate: Decimal) -> Fraction:
        """The exact daily penalty rate after the annual rate cap."""
        if self.daily_rate is not None:
            rate = Fraction(self.daily_rate)
        else:
            multiplier = self.rate_multiplier
            if multiplier is None:
                multiplier = DEFAULT_MULTIPLIER
            rate = Fraction(annual_rate) * Fraction(multiplier) / 360
        if self.rate_cap_annual is not None:
            rate = min(rate, Fraction(self.rate_cap_annual) / 360)
        return rate


@dataclass(frozen=True, slots=True)
class Payment:
    """Money received for a loan on ``date``; ``reversed`` once it bounced."""

    payment_id: str
    date: date
    amount: int
    reversed: bool = False

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise LedgerError(f"payment {self.payment_id}: amount must be > 0")


@dataclass(frozen=True, slots=True)
class Waiver:
    """Charges forgiven (减免) at the end of ``date``: penalty, fees and interest then unpaid,
    oldest instalment first; never more than is then unpaid, never cash."""

    waiver_id: str
    date: date
    penalty: int = 0
    fee: int = 0
    interest: int = 0

    def __post_init__(self) -> None:
        parts = (self.penalty, self.fee, self.interest)
        if any(x < 0 for x in parts) or not any(parts):
            raise LedgerError(f"waiver {self.waiver_id}: amounts must be >= 0, one of them > 0")


@dataclass(frozen=True, slots=True)
class Extension:
    """展期, agreed at the end of ``date``: every instalment then due and unpaid falls due on
    ``until`` instead, carrying its unpaid penalty (which stops accruing until then). ``fee``
    (charged at once, within the charges cap) is due with the first moved instalment; ``rate``
    is the annual interest for the extension, on each moved instalment's unpaid principal for
    the days from ``date`` to ``until`` (/360, rounded half up)."""

    arrangement_id: str
    date: date
    until: dt.date
    fee: int = 0
    rate: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.until <= self.date:
            raise LedgerError(f"extension {self.arrangement_id}: until must be after its date")
        if self.fee < 0 or self.rate < 0:
            raise LedgerError(f"extension {self.arrangement_id}: fee and rate must be >= 0")


@dataclass(frozen=True, slots=True)
class Plan:
    """分期还款计划, agreed at the end of ``date``: what is then unpaid of the instalments due
    (all of them when ``whole_balance``) is restructured into one plan instalment per date of
    ``dues``, each an equal share of every component (penalty, fee, interest, principal);
    ``fee`` is added to the first. A plan instalment still unpaid at the end of its date +
    ``grace_days`` is missed; the ``breach_after``-th miss breaches the plan, and a breached
    plan is as if it had never been agreed: the original schedule, every payment credited."""

    arrangement_id: str
    date: date
    dues: tuple[dt.date, ...]
    whole_balance: bool = False
    fee: int = 0
    breach_after: int = 2
    grace_days: int = 0

    def __post_init__(self) -> None:
        name = f"plan {self.arrangement_id}"
        if not self.dues or self.dues[0] <= self.date:
            raise LedgerError(f"{name}: the first plan date must be after its date")
        if any(b <= a for a, b in zip(self.dues, self.dues[1:], strict=False)):
            raise LedgerError(f"{name}: plan dates must be strictly increasing")
        if self.fee < 0 or self.breach_after < 1 or self.grace_days < 0:
            raise LedgerError(f"{name}: fee >= 0, breach_after >= 1, grace_days >= 0")


@dataclass(frozen=True, slots=True)
class Settlement:
    """A discounted payoff agreed at ``date``: once the payments dated ``date`` .. ``pay_by``
    reach ``amount``, everything still owed (every instalment, due or not) is forgiven and the
    loan is closed; what was paid above ``amount`` is a credit. Not reached by ``pay_by``, it
    lapses and changes nothing."""

    arrangement_id: str
    date: date
    amount: int
    pay_by: dt.date

    def __post_init__(self) -> None:
        if self.amount <= 0 or self.pay_by < self.date:
            raise LedgerError(
                f"settlement {self.arrangement_id}: amount must be > 0, pay_by on or after date"
            )


@dataclass(frozen=True, slots=True)
class Pause:
    """Days ``start`` .. ``end`` (inclusive; None: open) on which no penalty accrues (a hold
    whose kind pauses penalty under the rulebook)."""

    start: date
    end: date | None = None


Arrangement = Extension | Plan | Settlement
#: every event besides payments that the replay applies
LedgerEvent = Waiver | Extension | Plan | Settlement | Pause


@dataclass(frozen=True, slots=True)
class Loan:
    """A loan's contract and its payment events. Immutable: posting returns a new Loan."""

    loan_id: str
    currency: str
    principal: int
    annual_rate: Decimal
    instalments: tuple[Instalment, ...]
    policy: Policy = field(default_factory=Policy)
    payments: tuple[Payment, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    arrangements: tuple[Arrangement, ...] = ()
    pauses: tuple[Pause, ...] = ()

    @property
    def has_events(self) -> bool:
        """Whether anything besides payments changes the replay (the compiled kernel knows
        payments only)."""
        return bool(self.waivers or self.arrangements or self.pauses)

    def with_events(self, events: Iterable[LedgerEvent]) -> Loan:
        """This loan with ``events`` added, each to its kind."""
        events = list(events)
        if not events:
            return self
        return replace(
            self,
            waivers=(*self.waivers, *(e for e in events if isinstance(e, Waiver))),
            arrangements=(
                *self.arrangements,
                *(e for e in events if isinstance(e, Extension | Plan | Settlement)),
            ),
            pauses=(*self.pauses, *(e for e in events if isinstance(e, Pause))),
        )

    def post(self, payment: Payment) -> Loan:
        if any(p.payment_id == payment.payment_id for p in self.payments):
            raise LedgerError(f"payment {payment.payment_id} is already posted")
        return replace(self, payments=(*self.payments, payment))

    def reverse(self, payment_id: str) -> Loan:
        """Mark a bounced payment reversed; the replayed state is as if it never came."""
        found = False
        out: list[Payment] = []
        for p in self.payments:
            if p.payment_id == payment_id:
                if p.reversed:
                    raise LedgerError(f"payment {payment_id} is already reversed")
                found = True
                p = replace(p, reversed=True)
            out.append(p)
        if not found:
            raise LedgerError(f"payment {payment_id} is not posted on loan {self.loan_id}")
        return replace(self, payments=tuple(out))

    def effective_payments(self, as_of: date) -> list[Payment]:
        """Payments that count on ``as_of``: not reversed, dated on or before it, in date order."""
        live = [p for p in self.payments if not p.reversed and p.date <= as_of]
        return sorted(live, key=lambda p: p.date)


@dataclass(slots=True)
class Balance:
    """Working state of one instalment during a replay (mutable, private to the replay)."""

    inst: Instalment
    paid_principal: int = 0
    paid_interest: int = 0
    paid_fee: int = 0
    penalty_accrued: int = 0
    penalty_paid: int = 0
    paid_off_on: date | None = None
    waived_interest: int = 0
    waived_fee: int = 0
    waived_penalty: int = 0
    #: days after the due date before penalty starts, when not the policy's (a plan's grace)
    grace_days: int | None = None
    #: penalty a plan instalment took over from the instalments it restructured
    penalty_carried: int = 0
    #: taken off this instalment by an arrangement (into a plan, or forgiven by a settlement)
    moved_principal: int = 0
    moved_interest: int = 0
    moved_fee: int = 0
    moved_penalty: int = 0
    #: of ``inst.fee``, what has counted toward the charges cap
    fee_counted: int = 0
    #: the arrangement that made this instalment (a plan) or moved its due date (an extension)
    arrangement_id: str | None = None
    #: the contractual due date, when an extension moved it
    original_due: date | None = None

    @property
    def unpaid_principal(self) -> int:
        return self.inst.principal - self.paid_principal - self.moved_principal

    @property
    def unpaid_interest(self) -> int:
        return self.inst.interest - self.paid_interest - self.waived_interest - self.moved_interest

    @property
    def unpaid_fee(self) -> int:
        return self.inst.fee - self.paid_fee - self.waived_fee - self.moved_fee

    @property
    def unpaid_penalty(self) -> int:
        owed = self.penalty_accrued + self.penalty_carried
        return owed - self.penalty_paid - self.waived_penalty - self.moved_penalty

    def move_out(self) -> tuple[int, int, int, int]:
        """Take everything unpaid off this instalment; return (penalty, fee, interest,
        principal) taken."""
        taken = (self.unpaid_penalty, self.unpaid_fee, self.unpaid_interest, self.unpaid_principal)
        self.moved_penalty += taken[0]
        self.moved_fee += taken[1]
        self.moved_interest += taken[2]
        self.moved_principal += taken[3]
        return taken

    @property
    def unpaid_contractual(self) -> int:
        return self.unpaid_principal + self.unpaid_interest + self.unpaid_fee

    def pay(self, component: str, available: int) -> int:
        """Pay up to ``available`` of one component; return what was used."""
        if available <= 0:
            return 0
        if component == "penalty":
            used = min(self.unpaid_penalty, available)
            self.penalty_paid += used
        elif component == "fee":
            used = min(self.unpaid_fee, available)
            self.paid_fee += used
        elif component == "interest":
            used = min(self.unpaid_interest, available)
            self.paid_interest += used
        else:
            used = min(self.unpaid_principal, available)
            self.paid_principal += used
        return used


COMPONENTS = ("penalty", "fee", "interest", "principal")


def allocate(balances: list[Balance], amount: int, on: date, order: Allocation) -> int:
    """Apply ``amount`` to what is due on ``on``; return the excess (the new credit)."""
    due = [
        b
        for b in balances
        if b.inst.due_date <= on and (b.unpaid_contractual > 0 or b.unpaid_penalty > 0)
    ]
    left = amount
    if order is Allocation.COMPONENTS_FIRST:
        for component in COMPONENTS:
            for b in due:
                if left == 0:
                    break
                left -= b.pay(component, left)
    else:
        for b in due:
            for component in COMPONENTS:
                if left == 0:
                    break
                left -= b.pay(component, left)
    for b in due:
        if b.paid_off_on is None and b.unpaid_contractual == 0:
            b.paid_off_on = on
    return left


def waive(balances: list[Balance], waiver: Waiver, on: date) -> None:
    """Forgive the waiver's amounts of what is unpaid on ``on``, oldest instalment first."""
    for component, amount in (
        ("penalty", waiver.penalty),
        ("fee", waiver.fee),
        ("interest", waiver.interest),
    ):
        left = amount
        for b in balances:
            if left == 0 or b.inst.due_date > on:
                break
            used = min(getattr(b, f"unpaid_{component}"), left)
            setattr(b, f"waived_{component}", getattr(b, f"waived_{component}") + used)
            left -= used
    for b in balances:
        if b.inst.due_date <= on and b.paid_off_on is None and b.unpaid_contractual == 0:
            b.paid_off_on = on


def apply_credit(balance: Balance, credit: int, on: date) -> int:
    """Apply a credit balance to an instalment on its due date; return the credit left."""
    for component in ("fee", "interest", "principal"):
        credit -= balance.pay(component, credit)
    if balance.paid_off_on is None and balance.unpaid_contractual == 0:
        balance.paid_off_on = on
    return credit
