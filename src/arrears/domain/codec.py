"""Plain-data forms of the domain: a loan from a mapping (the LOAN.json format), a statement to
a mapping (the ``arrears statement`` output). Pure: parsing and shaping only, no I/O.

Every rejection raises :class:`FieldError` naming the field at fault, e.g.
``payments[1].date: expected an ISO date YYYY-MM-DD, got '2026-02-30'``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from arrears.domain.arranged import ArrangementState
from arrears.domain.delinquency import InstalmentState, PenaltyLine, Statement
from arrears.domain.ledger import Allocation, LedgerError, Loan, Payment, PenaltyBase, Policy
from arrears.domain.money import MoneyError, check_currency, parse_minor, parse_rate
from arrears.domain.schedule import (
    Instalment,
    Method,
    ScheduleError,
    build_schedule,
    check_explicit,
)

T = TypeVar("T")

#: the penalty policy's fields, as named in LOAN.json, the ingestion files and the store
POLICY_FIELDS = (
    "penalty_daily_rate",
    "penalty_rate_multiplier",
    "penalty_base",
    "grace_days",
    "penalty_rate_cap_annual",
    "charges_cap_ratio",
    "allocation",
)


class FieldError(ValueError):
    """Bad input, with the dotted path of the field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_date(value: object, field: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise FieldError(field, f"expected an ISO date YYYY-MM-DD, got {value!r}")


def _wrap(field: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except FieldError:
        raise
    except (MoneyError, ValueError) as exc:
        reason = str(exc)
        if reason.startswith(field + ": "):
            reason = reason[len(field) + 2 :]
        raise FieldError(field, reason) from exc


def _required(data: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    if key not in data or data[key] is None or data[key] == "":
        raise FieldError(prefix + key, "is required")
    return data[key]


def _int(value: object, field: str, minimum: int | None = 0) -> int:
    n = _wrap(field, lambda: parse_minor(value, field))
    if minimum is not None and n < minimum:
        raise FieldError(field, f"must be >= {minimum}, got {n}")
    return n


def _enum(value: object, field: str, kind: type[T]) -> T:
    try:
        return kind(value)  # type: ignore[call-arg]
    except ValueError as exc:
        options = "|".join(str(m.value) for m in kind)  # type: ignore[attr-defined]
        raise FieldError(field, f"expected one of {options}, got {value!r}") from exc


def _opt_rate(data: Mapping[str, Any], key: str, prefix: str) -> Decimal | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    return _wrap(prefix + key, lambda: parse_rate(value, prefix + key))


def policy_from_dict(data: Mapping[str, Any] | None, prefix: str = "policy.") -> Policy:
    data = data or {}
    if not isinstance(data, Mapping):
        raise FieldError(prefix.rstrip("."), "expected an object")
    for key in data:
        if key not in POLICY_FIELDS:
            raise FieldError(prefix + str(key), "unknown field")
    daily = _opt_rate(data, "penalty_daily_rate", prefix)
    multiplier = _opt_rate(data, "penalty_rate_multiplier", prefix)
    if daily is not None and multiplier is not None:
        raise FieldError(
            prefix + "penalty_daily_rate", "give penalty_daily_rate or penalty_rate_multiplier"
        )
    grace = data.get("grace_days")
    return Policy(
        daily_rate=daily,
        rate_multiplier=multiplier,
        base=_enum(data.get("penalty_base") or "principal", prefix + "penalty_base", PenaltyBase),
        grace_days=0 if grace in (None, "") else _int(grace, prefix + "grace_days"),
        rate_cap_annual=_opt_rate(data, "penalty_rate_cap_annual", prefix),
        charges_cap_ratio=_opt_rate(data, "charges_cap_ratio", prefix),
        allocation=_enum(
            data.get("allocation") or "components_first", prefix + "allocation", Allocation
        ),
    )


def instalment_from_dict(row: Mapping[str, Any], seq: int, prefix: str) -> Instalment:
    if not isinstance(row, Mapping):
        raise FieldError(prefix.rstrip("."), "expected an object")
    return Instalment(
        seq=_int(row.get("seq", seq), prefix + "seq", 1),
        due_date=parse_date(_required(row, "due_date", prefix), prefix + "due_date"),
        principal=_int(row.get("principal", 0), prefix + "principal"),
        interest=_int(row.get("interest", 0), prefix + "interest"),
        fee=_int(row.get("fee", 0), prefix + "fee"),
    )


def payment_from_dict(row: Mapping[str, Any], index: int) -> Payment:
    prefix = f"payments[{index}]."
    if not isinstance(row, Mapping):
        raise FieldError(f"payments[{index}]", "expected an object")
    amount = _int(_required(row, "amount", prefix), prefix + "amount", 1)
    status = row.get("status", "posted")
    if status not in ("posted", "reversed"):
        raise FieldError(prefix + "status", f"expected posted|reversed, got {status!r}")
    return Payment(
        payment_id=str(row.get("id") or row.get("payment_id") or f"P{index + 1}"),
        date=parse_date(_required(row, "date", prefix), prefix + "date"),
        amount=amount,
        reversed=status == "reversed" or bool(row.get("reversed", False)),
    )


def loan_from_dict(data: Mapping[str, Any]) -> Loan:
    """Build a :class:`Loan` from the LOAN.json mapping, naming the field at fault on error."""
    if not isinstance(data, Mapping):
        raise FieldError("$", "expected a JSON object")
    loan_id = str(_required(data, "loan_id"))
    currency = _wrap("currency", lambda: check_currency(str(data.get("currency", "CNY"))))
    principal = _int(_required(data, "principal"), "principal", 1)
    rate = _wrap("annual_rate", lambda: parse_rate(_required(data, "annual_rate"), "annual_rate"))
    method = _enum(data.get("method", "equal_payment"), "method", Method)
    if method is Method.EXPLICIT:
        rows = _required(data, "instalments")
        if not isinstance(rows, list):
            raise FieldError("instalments", "expected a list")
        parsed = [instalment_from_dict(r, k + 1, f"instalments[{k}].") for k, r in enumerate(rows)]
        schedule = _wrap("instalments", lambda: check_explicit(parsed))
        total = sum(i.principal for i in schedule)
        if total != principal:
            raise FieldError(
                "instalments", f"principal parts sum to {total}, the loan principal is {principal}"
            )
    else:
        term = _int(_required(data, "term_months"), "term_months", 1)
        first = parse_date(_required(data, "first_due_date"), "first_due_date")
        schedule = _wrap(
            "method",
            lambda: build_schedule(
                principal=principal,
                annual_rate=rate,
                method=method,
                term_months=term,
                first_due_date=first,
            ),
        )
    payments_raw = data.get("payments") or []
    if not isinstance(payments_raw, list):
        raise FieldError("payments", "expected a list")
    payments = tuple(payment_from_dict(p, k) for k, p in enumerate(payments_raw))
    ids = [p.payment_id for p in payments]
    if len(set(ids)) != len(ids):
        raise FieldError("payments", "payment ids must be unique")
    try:
        policy = policy_from_dict(data.get("policy"))
    except LedgerError as exc:
        raise FieldError("policy", str(exc)) from exc
    except ScheduleError as exc:  # pragma: no cover - defensive
        raise FieldError("policy", str(exc)) from exc
    return Loan(loan_id, currency, principal, rate, schedule, policy, payments)


def rate_text(rate: Fraction) -> str:
    """An exact rate as a decimal string (up to 12 places), e.g. Fraction(3, 4000) -> '0.00075'."""
    text = f"{Decimal(rate.numerator) / Decimal(rate.denominator):.12f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _line(line: PenaltyLine) -> dict[str, Any]:
    return {
        "from": line.start.isoformat(),
        "to": line.end.isoformat(),
        "days": line.days,
        "base": line.base,
        "daily_rate": rate_text(line.daily_rate),
        "per_day": line.per_day,
        "amount": line.amount,
        "cut_by_cap": line.cut_by_cap,
    }


def _instalment(i: InstalmentState, as_of: date) -> dict[str, Any]:
    return {
        "seq": i.seq,
        "due_date": i.due_date.isoformat(),
        "principal": i.principal,
        "interest": i.interest,
        "fee": i.fee,
        "amount": i.principal + i.interest + i.fee,
        "paid_principal": i.paid_principal,
        "paid_interest": i.paid_interest,
        "paid_fee": i.paid_fee,
        "unpaid": i.unpaid,
        "penalty_accrued": i.penalty_accrued,
        "penalty_paid": i.penalty_paid,
        "paid_off_on": i.paid_off_on.isoformat() if i.paid_off_on else None,
        "days_overdue": max((as_of - i.due_date).days, 0) if i.unpaid > 0 else 0,
        "penalty_lines": [_line(x) for x in i.penalty_lines],
        "waived_interest": i.waived_interest,
        "waived_fee": i.waived_fee,
        "waived_penalty": i.waived_penalty,
        "penalty_carried": i.penalty_carried,
        "moved_principal": i.moved_principal,
        "moved_interest": i.moved_interest,
        "moved_fee": i.moved_fee,
        "moved_penalty": i.moved_penalty,
        "arrangement_id": i.arrangement_id,
        "original_due_date": _plain(i.original_due_date),
    }


def _arrangement(a: ArrangementState) -> dict[str, Any]:
    penalty, fee, interest, principal = a.moved
    return {
        "arrangement_id": a.arrangement_id,
        "kind": a.kind,
        "date": a.date.isoformat(),
        "status": a.status,
        "on": _plain(a.on),
        "moved": {"principal": principal, "interest": interest, "fee": fee, "penalty": penalty},
        "fee": a.fee,
        "interest": a.interest,
        "missed": a.missed,
    }


def _plain(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, date):
        return obj.isoformat()
    return obj


def statement_to_dict(st: Statement) -> dict[str, Any]:
    """The stable JSON shape of ``arrears statement``; every amount in minor units."""
    overdue = _plain(st.overdue)
    return {
        "loan_id": st.loan_id,
        "currency": st.currency,
        "as_of": st.as_of.isoformat(),
        "dpd": st.dpd,
        "bucket": st.bucket,
        "stage": st.stage,
        "overdue": overdue,
        "due_today": _plain(st.due_today),
        "total_due": st.total_due,
        "outstanding_principal": st.outstanding_principal,
        "penalty_accrued": st.penalty_accrued,
        "penalty_unpaid": st.penalty_unpaid,
        "daily_penalty_rate": rate_text(st.daily_penalty_rate),
        "charges_cap": st.cap_amount,
        "charges_total": st.charges_total,
        "cap_reached": st.cap_reached,
        "cap_reached_on": st.cap_reached_on.isoformat() if st.cap_reached_on else None,
        "credit_balance": st.credit_balance,
        "paid_total": st.paid_total,
        "oldest_unpaid_due_date": _plain(st.oldest_unpaid_due_date),
        "next_due_date": _plain(st.next_due_date),
        "instalments": [_instalment(i, st.as_of) for i in st.instalments],
        "waived": {k: v for k, v in _plain(st.waived).items() if k != "principal"},
        "arrangements": [_arrangement(a) for a in st.arrangements],
    }
