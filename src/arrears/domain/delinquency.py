"""Delinquency: days past due, buckets and stages, penalty interest 罚息 and caps -> Statement.

The state of a loan on an as-of date is replayed from its contract and payments, day by day in
effect but segment by segment in fact (nothing changes between two events, so a run of equal
days is summed at once):

* penalty: every overdue instalment accrues, for each day from its due date + 1 + grace days
  through the as-of date inclusive, ``round_half_up(base at the end of the previous day × daily
  rate)``; base = unpaid principal, or unpaid principal + interest; never compounded;
* charges cap: penalty and fees ever charged never exceed ``ratio × original principal``; the
  day's accrual is cut to what is left (oldest instalment first);
* at the end of each day: fees of instalments due that day are charged (for the cap), the credit
  balance is applied to them, then that day's payments are allocated;
* DPD = as-of date − oldest due date among instalments with unpaid principal, interest or fee;
  negative before that date; ``None`` (stage ``settled``) when nothing contractual is unpaid.
  Grace days delay penalty only, never DPD.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from fractions import Fraction

from arrears.domain.arranged import Arranged, ArrangementState, Breach, event_days
from arrears.domain.ledger import Balance, Loan, Waiver, allocate, apply_credit, waive
from arrears.domain.money import mul_round, round_half_up

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Band:
    """A named DPD range, inclusive; ``low``/``high`` of None mean unbounded."""

    name: str
    low: int | None
    high: int | None

    def contains(self, dpd: int) -> bool:
        return (self.low is None or dpd >= self.low) and (self.high is None or dpd <= self.high)


@dataclass(frozen=True, slots=True)
class BandTable:
    """An ordered table of DPD bands; the first band containing the DPD wins."""

    bands: tuple[Band, ...]

    def classify(self, dpd: int) -> str:
        for band in self.bands:
            if band.contains(dpd):
                return band.name
        raise ValueError(f"no band covers DPD {dpd}")

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.bands]


DEFAULT_BUCKETS = BandTable(
    (
        Band("M0", None, 0),
        Band("M1", 1, 30),
        Band("M2", 31, 60),
        Band("M3", 61, 90),
        Band("M4", 91, 120),
        Band("M5", 121, 150),
        Band("M6", 151, 180),
        Band("M7+", 181, None),
    )
)
DEFAULT_STAGES = BandTable(
    (
        Band("current", None, -4),
        Band("pre_due", -3, 0),
        Band("early", 1, 17),
        Band("mid", 18, 30),
        Band("late", 31, 90),
        Band("legal", 91, None),
    )
)
SETTLED = "settled"


class BandError(ValueError):
    """A band table that does not cover every DPD exactly once."""


def _band(row: object, where: str) -> Band:
    if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not row["name"]:
        raise BandError(f"{where}.name: a band needs a name")
    low, high = row.get("from"), row.get("to")
    for key, value in (("from", low), ("to", high)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise BandError(f"{where}.{key}: expected a whole number of days or null")
    if low is not None and high is not None and high < low:
        raise BandError(f"{where}.to: is before from")
    return Band(row["name"], low, high)


def band_table(rows: list[dict[str, object]], what: str) -> BandTable:
    """Build a band table from ``[{name, from, to}, ...]`` (``from``/``to`` inclusive, null for
    unbounded), checking that the bands are in order and cover every DPD exactly once.

    >>> band_table([{"name": "ok", "from": None, "to": 0}, {"name": "late", "from": 1}], "b")
    ... # doctest: +ELLIPSIS
    BandTable(bands=(Band(name='ok', low=None, high=0), Band(name='late', low=1, high=None)))
    """
    if not isinstance(rows, list) or not rows:
        raise BandError(f"{what}: expected a non-empty list of bands")
    bands: list[Band] = []
    for k, row in enumerate(rows):
        where = f"{what}[{k}]"
        band = _band(row, where)
        if k == 0 and band.low is not None:
            raise BandError(f"{where}.from: the first band must start unbounded (null)")
        if k > 0:
            prev = bands[-1]
            if prev.high is None or band.low != prev.high + 1:
                raise BandError(f"{where}.from: must be {what}[{k - 1}].to + 1, with no gap")
        bands.append(band)
    if bands[-1].high is not None:
        raise BandError(f"{what}[{len(bands) - 1}].to: the last band must be unbounded (null)")
    return BandTable(tuple(bands))


@dataclass(frozen=True, slots=True)
class PenaltyLine:
    """How one run of days' penalty was computed: days × round(base × daily rate)."""

    start: date
    end: date
    days: int
    base: int
    daily_rate: Fraction
    per_day: int
    amount: int
    cut_by_cap: bool = False


@dataclass(frozen=True, slots=True)
class InstalmentState:
    seq: int
    due_date: date
    principal: int
    interest: int
    fee: int
    paid_principal: int
    paid_interest: int
    paid_fee: int
    penalty_accrued: int
    penalty_paid: int
    paid_off_on: date | None
    penalty_lines: tuple[PenaltyLine, ...] = ()
    waived_interest: int = 0
    waived_fee: int = 0
    waived_penalty: int = 0
    #: penalty a plan instalment took over from the instalments it restructured
    penalty_carried: int = 0
    #: taken off by an arrangement: restructured into a plan, or forgiven by a settlement
    moved_principal: int = 0
    moved_interest: int = 0
    moved_fee: int = 0
    moved_penalty: int = 0
    #: the plan that made this instalment, or the extension that moved it
    arrangement_id: str | None = None
    #: the contractual due date, when an extension moved it
    original_due_date: date | None = None

    @property
    def unpaid(self) -> int:
        settled = self.paid_principal + self.paid_interest + self.paid_fee
        settled += self.waived_interest + self.waived_fee
        settled += self.moved_principal + self.moved_interest + self.moved_fee
        return self.principal + self.interest + self.fee - settled


@dataclass(frozen=True, slots=True)
class Components:
    principal: int = 0
    interest: int = 0
    fee: int = 0
    penalty: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty


@dataclass(frozen=True, slots=True)
class Statement:
    """What a loan owes on ``as_of`` and how late it is, with every instalment's detail."""

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
    daily_penalty_rate: Fraction
    cap_amount: int | None
    charges_total: int
    cap_reached: bool
    cap_reached_on: date | None
    credit_balance: int
    paid_total: int
    oldest_unpaid_due_date: date | None
    next_due_date: date | None
    instalments: tuple[InstalmentState, ...] = field(default_factory=tuple)
    #: what was forgiven through ``as_of`` (waivers), by component (principal is never waived)
    waived: Components = field(default_factory=Components)
    #: the extensions, plans and settlements agreed through ``as_of``, and where they stand
    arrangements: tuple[ArrangementState, ...] = ()


@dataclass(slots=True)
class _Replay:
    """Mutable replay state; lives only inside :func:`statement`."""

    balances: list[Balance]
    rate: Fraction
    grace: int
    cap: int | None
    explain: bool
    #: days on which no penalty accrues, as merged (first, last) runs in order
    pauses: list[tuple[date, date]] = field(default_factory=list)
    charged: int = 0
    cap_reached_on: date | None = None
    credit: int = 0
    lines: dict[int, list[PenaltyLine]] = field(default_factory=dict)
    #: first penalty day of each balance (due date + 1 + grace), in balance order
    accrual_from: list[date] = field(default_factory=list)
    #: the same days, sorted and unique, to split runs of days where the active set changes
    start_days: list[date] = field(default_factory=list)

    #: balances by due date, for the end-of-day work of a due date
    by_due: dict[date, list[Balance]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Order the balances by due date and rebuild what depends on it (after an
        arrangement moved or added instalments)."""
        self.balances.sort(key=lambda b: (b.inst.due_date, b.inst.seq))
        self.accrual_from = [
            b.inst.due_date + timedelta(days=1 + max(self.grace, b.grace_days or 0))
            for b in self.balances
        ]
        self.start_days = sorted(set(self.accrual_from))
        self.by_due = {}
        for b in self.balances:
            self.by_due.setdefault(b.inst.due_date, []).append(b)

    def charge(self, amount: int, day: date, cut: bool) -> int:
        """Count a charge made on ``day`` toward the cap; with ``cut``, only what the cap
        still allows. Returns what was charged."""
        if cut and self.cap is not None:
            amount = min(amount, max(self.cap - self.charged, 0))
        self.charged += amount
        if self.cap is not None and self.charged >= self.cap:
            self._mark_cap(day)
        return amount

    def accrue(self, start: date, end: date, principal_interest: bool) -> None:
        """Accrue penalty for days start..end inclusive, but not on paused days."""
        for first, last in self.pauses:
            if last < start:
                continue
            if first > end:
                break
            if first > start:
                self._accrue_days(start, first - ONE_DAY, principal_interest)
            if last >= end:
                return
            start = last + ONE_DAY
        if start <= end:
            self._accrue_days(start, end, principal_interest)

    def _accrue_days(self, start: date, end: date, principal_interest: bool) -> None:
        """Accrue penalty for days start..end inclusive, splitting where an instalment starts."""
        starts = self.start_days
        while start <= end:
            k = bisect_right(starts, start)
            seg_end = end if k == len(starts) else min(end, starts[k] - ONE_DAY)
            self._accrue_segment(start, seg_end, principal_interest)
            start = seg_end + ONE_DAY

    def _active(self, start: date, principal_interest: bool) -> list[tuple[Balance, int, int]]:
        """Instalments accruing from ``start``: (balance, base, per-day amount), oldest first."""
        active: list[tuple[Balance, int, int]] = []
        rate = self.rate
        for b, first_day in zip(self.balances, self.accrual_from, strict=True):
            if first_day > start:
                continue
            base = b.unpaid_principal + (b.unpaid_interest if principal_interest else 0)
            per_day = mul_round(base, rate) if base > 0 else 0
            if per_day > 0:
                active.append((b, base, per_day))
        return active

    def _accrue_segment(self, start: date, end: date, principal_interest: bool) -> None:
        days = (end - start).days + 1
        active = self._active(start, principal_interest)
        if not active:
            return
        per_day_total = sum(a[2] for a in active)
        room = None if self.cap is None else max(self.cap - self.charged, 0)
        if room is None or per_day_total * days <= room:
            for b, base, per_day in active:
                self._book(b, start, end, days, base, per_day, per_day * days, cut=False)
            if room is not None and per_day_total * days == room:
                self._mark_cap(end)
            return
        self._accrue_to_cap(active, start, room, per_day_total)

    def _accrue_to_cap(
        self, active: list[tuple[Balance, int, int]], start: date, room: int, per_day_total: int
    ) -> None:
        """Accrue full days while they fit under the cap, then cut one day, oldest first."""
        full = room // per_day_total
        if full:
            last_full = start + timedelta(days=full - 1)
            for b, base, per_day in active:
                self._book(b, start, last_full, full, base, per_day, per_day * full, cut=False)
        rest = room - full * per_day_total
        cut_day = start + timedelta(days=full)
        if rest == 0:
            self._mark_cap(cut_day - ONE_DAY if full else cut_day)
            return
        for b, base, per_day in active:
            part = min(per_day, rest)
            if part > 0:
                self._book(b, cut_day, cut_day, 1, base, per_day, part, cut=True)
                rest -= part
        self._mark_cap(cut_day)

    def _book(
        self,
        b: Balance,
        start: date,
        end: date,
        days: int,
        base: int,
        per_day: int,
        amount: int,
        cut: bool,
    ) -> None:
        b.penalty_accrued += amount
        self.charged += amount
        if not self.explain:
            return
        lines = self.lines.setdefault(b.inst.seq, [])
        last = lines[-1] if lines else None
        if (
            last is not None
            and not cut
            and not last.cut_by_cap
            and (last.base, last.per_day) == (base, per_day)
            and last.end + ONE_DAY == start
        ):
            lines[-1] = PenaltyLine(
                last.start, end, last.days + days, base, self.rate, per_day, last.amount + amount
            )
        else:
            lines.append(PenaltyLine(start, end, days, base, self.rate, per_day, amount, cut))

    def _mark_cap(self, day: date) -> None:
        if self.cap_reached_on is None:
            self.cap_reached_on = day

    def through(self, cursor: date, day: date, principal_interest: bool) -> None:
        """Accrue from ``cursor`` through ``day`` and charge ``day``'s fees; under a cap, the
        day's fees count before its penalty."""
        if self.cap is not None and any(
            b.inst.fee > b.fee_counted for b in self.by_due.get(day, ())
        ):
            if day > cursor:
                self.accrue(cursor, day - ONE_DAY, principal_interest)
            self.charge_fees(day)
            self.accrue(day, day, principal_interest)
        else:
            self.accrue(cursor, day, principal_interest)
            self.charge_fees(day)

    def charge_fees(self, day: date) -> None:
        """The fees of the instalments due on ``day`` count toward the cap (once each)."""
        for b in self.by_due.get(day, ()):
            self.charged += b.inst.fee - b.fee_counted
            b.fee_counted = b.inst.fee
        if self.cap is not None and self.charged >= self.cap:
            self._mark_cap(day)


def _pauses(loan: Loan) -> list[tuple[date, date]]:
    """The loan's pauses as merged (first, last) runs of days, in order."""
    runs = sorted((p.start, p.end or date.max) for p in loan.pauses)
    merged: list[tuple[date, date]] = []
    for first, last in runs:
        if merged and (merged[-1][1] == date.max or first <= merged[-1][1] + ONE_DAY):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def statement(
    loan: Loan,
    as_of: date,
    *,
    buckets: BandTable = DEFAULT_BUCKETS,
    stages: BandTable = DEFAULT_STAGES,
    explain: bool = True,
) -> Statement:
    """Replay ``loan`` through ``as_of`` (end of day) and report what it owes and how late it is.

    A plan breached on the way is taken out and the replay starts again without it (its
    payments then count against the original schedule)."""
    breached: dict[str, date] = {}
    while True:
        try:
            return _replay(loan, as_of, buckets, stages, explain, breached)
        except Breach as b:
            breached[b.arrangement_id] = b.day


def _replay(
    loan: Loan,
    as_of: date,
    buckets: BandTable,
    stages: BandTable,
    explain: bool,
    breached: dict[str, date],
) -> Statement:
    policy = loan.policy
    cap = None
    if policy.charges_cap_ratio is not None:
        cap = round_half_up(loan.principal * Fraction(policy.charges_cap_ratio))
    replay = _Replay(
        balances=[Balance(i) for i in loan.instalments],
        rate=policy.daily_penalty_rate(loan.annual_rate),
        grace=policy.grace_days,
        cap=cap,
        explain=explain,
        pauses=_pauses(loan),
    )
    arranged = Arranged(loan.arrangements, breached, replay.charge, replay.reindex)
    pi_base = policy.base.value == "principal_interest"
    payments = loan.effective_payments(as_of)
    paid_on: dict[date, list[int]] = {}
    for p in payments:
        paid_on.setdefault(p.date, []).append(p.amount)
    waived_on: dict[date, list[Waiver]] = {}
    for w in sorted(loan.waivers, key=lambda w: (w.date, w.waiver_id)):
        waived_on.setdefault(w.date, []).append(w)
    days = {b.inst.due_date for b in replay.balances} | paid_on.keys() | waived_on.keys()
    days |= event_days(loan.arrangements)
    events = sorted(d for d in days | {as_of} if d <= as_of)
    cursor = events[0]  # first day that can matter; nothing accrues before a due date
    for day in events:
        replay.through(cursor, day, pi_base)
        _end_of_day(replay, day, paid_on.get(day, ()), loan)
        for w in waived_on.get(day, ()):  # after the day's payments: what is then unpaid
            waive(replay.balances, w, day)
        if loan.arrangements:
            arranged.end_of_day(replay.balances, day, sum(paid_on.get(day, ())))
            if arranged.settled_credit is not None:
                replay.credit, arranged.settled_credit = arranged.settled_credit, None
        cursor = day + ONE_DAY
    st = _report(loan, as_of, replay, buckets, stages, sum(p.amount for p in payments))
    if loan.arrangements:
        st = replace(st, arrangements=arranged.states(loan.arrangements, as_of))
    return st


def _end_of_day(replay: _Replay, day: date, amounts: Sequence[int], loan: Loan) -> None:
    for b in replay.by_due.get(day, ()):
        if replay.credit > 0:
            replay.credit = apply_credit(b, replay.credit, day)
        elif b.unpaid_contractual == 0 and b.paid_off_on is None:
            b.paid_off_on = day
    for amount in amounts:
        replay.credit += allocate(replay.balances, amount, day, loan.policy.allocation)


def _moved(b: Balance) -> bool:
    return b.moved_principal + b.moved_interest + b.moved_fee + b.moved_penalty > 0


def _report(
    loan: Loan, as_of: date, replay: _Replay, buckets: BandTable, stages: BandTable, paid: int
) -> Statement:
    bs = replay.balances
    unpaid = [b for b in bs if b.unpaid_contractual > 0]
    oldest = min((b.inst.due_date for b in unpaid), default=None)
    dpd = None if oldest is None else (as_of - oldest).days
    past = [b for b in bs if b.inst.due_date < as_of]
    today = [b for b in bs if b.inst.due_date == as_of]
    penalty_unpaid = sum(b.unpaid_penalty for b in bs)
    # penalty is due with its instalment: only an extension's or a plan's instalment carries
    # penalty before its due date
    overdue = Components(
        principal=sum(b.unpaid_principal for b in past),
        interest=sum(b.unpaid_interest for b in past),
        fee=sum(b.unpaid_fee for b in past),
        penalty=sum(b.unpaid_penalty for b in past),
    )
    due_today = Components(
        principal=sum(b.unpaid_principal for b in today),
        interest=sum(b.unpaid_interest for b in today),
        fee=sum(b.unpaid_fee for b in today),
        penalty=sum(b.unpaid_penalty for b in today),
    )
    states = tuple(
        InstalmentState(
            seq=b.inst.seq,
            due_date=b.inst.due_date,
            principal=b.inst.principal,
            interest=b.inst.interest,
            fee=b.inst.fee,
            paid_principal=b.paid_principal,
            paid_interest=b.paid_interest,
            paid_fee=b.paid_fee,
            penalty_accrued=b.penalty_accrued,
            penalty_paid=b.penalty_paid,
            paid_off_on=b.paid_off_on,
            penalty_lines=tuple(replay.lines.get(b.inst.seq, ())),
            waived_interest=b.waived_interest,
            waived_fee=b.waived_fee,
            waived_penalty=b.waived_penalty,
            penalty_carried=b.penalty_carried,
            moved_principal=b.moved_principal,
            moved_interest=b.moved_interest,
            moved_fee=b.moved_fee,
            moved_penalty=b.moved_penalty,
            arrangement_id=b.arrangement_id,
            original_due_date=b.original_due,
        )
        for b in bs
    )
    waived = Components(
        interest=sum(b.waived_interest for b in bs),
        fee=sum(b.waived_fee for b in bs),
        penalty=sum(b.waived_penalty for b in bs),
    )
    return Statement(
        loan_id=loan.loan_id,
        currency=loan.currency,
        as_of=as_of,
        dpd=dpd,
        bucket=None if dpd is None else buckets.classify(dpd),
        stage=SETTLED if dpd is None else stages.classify(dpd),
        overdue=overdue,
        due_today=due_today,
        total_due=overdue.total + due_today.total,
        outstanding_principal=sum(b.unpaid_principal for b in bs),
        penalty_accrued=sum(b.penalty_accrued for b in bs),
        penalty_unpaid=penalty_unpaid,
        daily_penalty_rate=replay.rate,
        cap_amount=replay.cap,
        charges_total=replay.charged,
        cap_reached=replay.cap_reached_on is not None,
        cap_reached_on=replay.cap_reached_on,
        credit_balance=replay.credit,
        paid_total=paid,
        oldest_unpaid_due_date=oldest,
        next_due_date=min(
            (b.inst.due_date for b in bs if b.inst.due_date > as_of and not _moved(b)),
            default=None,
        ),
        instalments=states,
        waived=waived,
    )
