"""What repayment arrangements do to a loan during the replay (:mod:`arrears.domain.delinquency`).

Each arrangement is a ledger event (:class:`~arrears.domain.ledger.Extension`,
:class:`~arrears.domain.ledger.Plan`, :class:`~arrears.domain.ledger.Settlement`) applied at the
end of its day, after that day's payments and waivers:

* an **extension** moves the instalments then due and unpaid to its ``until`` date, adding its
  fee (within the charges cap) to the first and its interest to each;
* a **plan** takes everything then unpaid off the instalments it covers and spreads it over new
  plan instalments, component by component (cumulative rounding, so the parts add up exactly);
  each plan date + grace checks that the plan instalment is paid (no penalty accrues on it
  within the grace); the ``breach_after``-th miss
  breaches the plan, and the replay starts again without it (:class:`Breach`), so the original
  schedule comes back with every payment credited to it;
* a **settlement** counts the payments dated in its window; the day they reach its amount,
  everything still owed is forgiven and what was paid above the amount becomes a credit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from fractions import Fraction

from arrears.domain.ledger import Arrangement, Balance, Extension, Plan, Settlement
from arrears.domain.money import mul_round
from arrears.domain.schedule import Instalment

#: charge (amount, day, cut to the charges cap?) -> what was charged
Charge = Callable[[int, date, bool], int]


class Breach(Exception):
    """A plan was breached on ``day``: replay again without it."""

    def __init__(self, arrangement_id: str, day: date) -> None:
        super().__init__(f"plan {arrangement_id} breached on {day}")
        self.arrangement_id = arrangement_id
        self.day = day


@dataclass(frozen=True, slots=True)
class ArrangementState:
    """One arrangement as of the statement date: what it did and where it stands.

    ``status``: extension ``in_force`` / ``completed`` (its instalments paid); plan ``in_force``
    / ``completed`` / ``breached`` (``on``: the day of the miss that breached it); settlement
    ``open`` / ``kept`` (``on``: the day it was reached) / ``lapsed``. ``moved``: what it took
    off the original instalments, as (penalty, fee, interest, principal): restructured into the
    plan, or forgiven by the settlement. ``fee``: the fee it charged (after the cap);
    ``interest``: the interest an extension added; ``missed``: plan payments missed."""

    arrangement_id: str
    kind: str
    date: date
    status: str
    on: dt.date | None = None
    moved: tuple[int, int, int, int] = (0, 0, 0, 0)
    fee: int = 0
    interest: int = 0
    missed: int = 0


def event_days(arrangements: Sequence[Arrangement]) -> set[date]:
    """Every day on which an arrangement may change something."""
    days: set[date] = set()
    for a in arrangements:
        days.add(a.date)
        if isinstance(a, Extension):
            days.add(a.until)
        elif isinstance(a, Plan):
            lag = timedelta(days=a.grace_days)
            days.update(a.dues)
            days.update(d + lag for d in a.dues)
        else:
            days.add(a.pay_by)
    return days


def _split(total: int, n: int) -> list[int]:
    """``total`` in ``n`` parts by cumulative rounding down: the parts differ by at most one
    minor unit, the later ones the larger, and they add up to ``total``."""
    return [total * (k + 1) // n - total * k // n for k in range(n)]


@dataclass(slots=True)
class _Open:
    """An arrangement's working state during one replay."""

    a: Arrangement
    status: str
    on: dt.date | None = None
    moved: tuple[int, int, int, int] = (0, 0, 0, 0)
    fee: int = 0
    interest: int = 0
    missed: int = 0
    paid: int = 0  # settlement: payments counted so far
    plan_balances: list[Balance] = field(default_factory=list)


class Arranged:
    """The arrangements of one replay; :meth:`end_of_day` runs after the day's payments."""

    def __init__(
        self,
        arrangements: Sequence[Arrangement],
        breached: dict[str, date],
        charge: Charge,
        reindex: Callable[[], None],
    ) -> None:
        self.breached = breached
        self.charge = charge
        self.reindex = reindex
        order = {Settlement: 0, Extension: 1, Plan: 2}
        live = [a for a in arrangements if a.arrangement_id not in breached]
        self.open = [
            _Open(a, "open" if isinstance(a, Settlement) else "in_force")
            for a in sorted(live, key=lambda a: (a.date, order[type(a)], a.arrangement_id))
        ]
        self.settled_credit: int | None = None

    def end_of_day(self, balances: list[Balance], day: date, paid_today: int) -> None:
        for o in self.open:
            a = o.a
            if isinstance(a, Settlement):
                self._settlement(o, a, balances, day, paid_today)
            elif a.date == day and isinstance(a, Extension):
                self._extend(o, a, balances, day)
            elif a.date == day and isinstance(a, Plan):
                self._restructure(o, a, balances, day)
            elif isinstance(a, Plan) and o.status == "in_force" and a.date < day:
                self._check(o, a, day)
        for o in self.open:
            if o.status == "in_force" and o.plan_balances:
                if all(
                    b.unpaid_contractual == 0 and b.unpaid_penalty == 0 for b in o.plan_balances
                ):
                    o.status, o.on = "completed", day

    def _settlement(
        self, o: _Open, s: Settlement, balances: list[Balance], day: date, paid_today: int
    ) -> None:
        if o.status != "open" or not s.date <= day <= s.pay_by:
            return
        o.paid += paid_today
        if o.paid < s.amount:
            return
        taken = [b.move_out() for b in balances]
        o.moved = tuple(sum(t[k] for t in taken) for k in range(4))  # type: ignore[assignment]
        o.status, o.on = "kept", day
        self.settled_credit = o.paid - s.amount

    def _extend(self, o: _Open, e: Extension, balances: list[Balance], day: date) -> None:
        moved = [b for b in balances if b.inst.due_date <= day and b.unpaid_contractual > 0]
        if not moved:
            o.status = "completed"
            return
        rate = Fraction(e.rate) * (e.until - day).days / 360
        fee = self.charge(e.fee, day, True) if e.fee else 0
        o.fee = fee
        for k, b in enumerate(moved):
            extra = mul_round(b.unpaid_principal, rate) if rate else 0
            o.interest += extra
            add_fee = fee if k == 0 else 0
            b.original_due = b.original_due or b.inst.due_date
            b.arrangement_id = e.arrangement_id
            b.inst = replace(
                b.inst,
                due_date=e.until,
                interest=b.inst.interest + extra,
                fee=b.inst.fee + add_fee,
            )
            b.fee_counted += add_fee
            o.plan_balances.append(b)
        self.reindex()

    def _restructure(self, o: _Open, p: Plan, balances: list[Balance], day: date) -> None:
        covered = [
            b
            for b in balances
            if (p.whole_balance or b.inst.due_date <= day)
            and (b.unpaid_contractual > 0 or b.unpaid_penalty > 0)
        ]
        uncounted = sum(b.inst.fee - b.fee_counted for b in covered)
        if uncounted:  # fees not yet due when restructured count toward the cap now
            self.charge(uncounted, day, False)
            for b in covered:
                b.fee_counted = b.inst.fee
        taken = [b.move_out() for b in covered]
        totals = tuple(sum(t[k] for t in taken) for k in range(4))
        o.moved = totals  # type: ignore[assignment]
        n = len(p.dues)
        penalty, fee, interest, principal = (_split(x, n) for x in totals)
        o.fee = self.charge(p.fee, day, True) if p.fee else 0
        seq = max((b.inst.seq for b in balances), default=0)
        for k, due in enumerate(p.dues):
            inst = Instalment(
                seq + k + 1, due, principal[k], interest[k], fee[k] + (o.fee if k == 0 else 0)
            )
            b = Balance(
                inst,
                penalty_carried=penalty[k],
                fee_counted=inst.fee,
                arrangement_id=p.arrangement_id,
                grace_days=p.grace_days,
            )
            balances.append(b)
            o.plan_balances.append(b)
        self.reindex()

    def _check(self, o: _Open, p: Plan, day: date) -> None:
        lag = timedelta(days=p.grace_days)
        for due, b in zip(p.dues, o.plan_balances, strict=True):
            if due + lag == day and b.unpaid_contractual > 0:
                o.missed += 1
                if o.missed >= p.breach_after:
                    raise Breach(p.arrangement_id, day)

    def states(
        self, arrangements: Sequence[Arrangement], as_of: date
    ) -> tuple[ArrangementState, ...]:
        out: list[ArrangementState] = []
        live = {o.a.arrangement_id: o for o in self.open}
        for a in sorted(arrangements, key=lambda a: (a.date, a.arrangement_id)):
            if a.date > as_of:
                continue
            kind = type(a).__name__.lower()
            if a.arrangement_id in self.breached:
                out.append(
                    ArrangementState(
                        a.arrangement_id, kind, a.date, "breached", self.breached[a.arrangement_id]
                    )
                )
                continue
            o = live[a.arrangement_id]
            status = o.status
            if isinstance(a, Settlement) and status == "open" and as_of > a.pay_by:
                status = "lapsed"
            if (
                isinstance(a, Extension)
                and status == "in_force"
                and all(
                    b.unpaid_contractual == 0 and b.unpaid_penalty == 0 for b in o.plan_balances
                )
            ):
                status = "completed"
            out.append(
                ArrangementState(
                    a.arrangement_id,
                    kind,
                    a.date,
                    status,
                    o.on,
                    o.moved,
                    o.fee,
                    o.interest,
                    o.missed,
                )
            )
        return tuple(out)
