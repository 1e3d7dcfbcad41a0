"""Instalment schedules: equal payment 等额本息, equal principal 等额本金, bullet, explicit.

Rules (every amount in minor units, every rounding half up on the exact rational value):

* monthly rate r = annual rate / 12;
* instalment k (k = 0..n-1) falls on the first due date's day of the month k months later,
  clamped to that month's last day (31 Jan -> 28/29 Feb -> 31 Mar);
* equal payment: payment = round(P·r / (1 − (1+r)^−n)); interest = round(balance · r);
  principal = payment − interest;
* equal principal: principal = round(P / n); interest = round(balance · r);
* bullet: interest = round(P · r) each month, all principal with the last instalment;
* the last instalment's principal is whatever balance is left, so the schedule clears exactly.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from arrears.domain.money import mul_round, round_half_up


class ScheduleError(ValueError):
    """A schedule that cannot be built from the given terms."""


class Method(StrEnum):
    EQUAL_PAYMENT = "equal_payment"
    EQUAL_PRINCIPAL = "equal_principal"
    BULLET = "bullet"
    EXPLICIT = "explicit"


@dataclass(frozen=True, slots=True)
class Instalment:
    """One contractual instalment: what falls due on ``due_date``, in minor units."""

    seq: int
    due_date: date
    principal: int
    interest: int
    fee: int = 0

    @property
    def amount(self) -> int:
        return self.principal + self.interest + self.fee


def add_months(first: date, months: int) -> date:
    """The first date's day, ``months`` later, clamped to the month's last day."""
    index = first.month - 1 + months
    year, month = first.year + index // 12, index % 12 + 1
    return date(year, month, min(first.day, calendar.monthrange(year, month)[1]))


def monthly_rate(annual_rate: Decimal) -> Fraction:
    return Fraction(annual_rate) / 12


def level_payment(principal: int, r: Fraction, n: int) -> int:
    """round_half_up(P·r / (1 − (1+r)^−n)); P / n when r is zero."""
    if r == 0:
        return round_half_up(Fraction(principal, n))
    growth = (1 + r) ** n
    return round_half_up(principal * r * growth / (growth - 1))


def build_schedule(
    *,
    principal: int,
    annual_rate: Decimal,
    method: Method,
    term_months: int,
    first_due_date: date,
) -> tuple[Instalment, ...]:
    """Build the contractual schedule for a standard method (not ``explicit``)."""
    if principal <= 0:
        raise ScheduleError("principal must be > 0")
    if term_months <= 0:
        raise ScheduleError("term_months must be > 0")
    if method is Method.EXPLICIT:
        raise ScheduleError("an explicit schedule is given by its instalments, not built")
    r = monthly_rate(annual_rate)
    payment = level_payment(principal, r, term_months)
    fixed_principal = round_half_up(Fraction(principal, term_months))
    balance = principal
    rows: list[Instalment] = []
    for k in range(term_months):
        interest = mul_round(balance, r)
        last = k == term_months - 1
        if last:
            part = balance
        elif method is Method.EQUAL_PAYMENT:
            part = min(max(payment - interest, 0), balance)
        elif method is Method.EQUAL_PRINCIPAL:
            part = min(fixed_principal, balance)
        else:  # bullet
            part = 0
        rows.append(Instalment(k + 1, add_months(first_due_date, k), part, interest))
        balance -= part
    return tuple(rows)


def check_explicit(instalments: list[Instalment]) -> tuple[Instalment, ...]:
    """Validate a lender-supplied list: increasing dates, non-negative amounts, unique seqs."""
    if not instalments:
        raise ScheduleError("an explicit schedule needs at least one instalment")
    ordered = sorted(instalments, key=lambda i: (i.due_date, i.seq))
    seen: set[int] = set()
    for inst in ordered:
        if min(inst.principal, inst.interest, inst.fee) < 0:
            raise ScheduleError(f"instalment {inst.seq}: amounts must be >= 0")
        if inst.seq in seen:
            raise ScheduleError(f"instalment {inst.seq}: duplicate sequence number")
        seen.add(inst.seq)
    return tuple(ordered)
