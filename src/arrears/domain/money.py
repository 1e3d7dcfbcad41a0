"""Money in integer minor units (fen, cents) with an ISO 4217 currency; rates are Decimal.

Amounts are plain ``int`` minor units everywhere, and their currency is the loan's
(``loan.currency``): a statement, a payment, an arrangement's effect and a checkout order each
belong to one loan, so one currency. There is deliberately no Money type carried through the
service (docs/ARCHITECTURE.md, "Money"): what this module gives is the arithmetic every amount
shares -- parsing, formatting by the currency's exponent, and one rounding rule.

One rounding rule for every computation in arrears: round half up (0.5 fen -> 1 fen), applied to
an exact rational value, never to a float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# ISO 4217 minor-unit exponents that differ from 2; every other well-formed code uses 2.
_EXPONENTS: dict[str, int] = {
    "BHD": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "CLF": 4,
    "UYW": 4,
}
_CODE = re.compile(r"^[A-Z]{3}$")


class MoneyError(ValueError):
    """An amount, currency or rate that cannot be used."""


def check_currency(code: str) -> str:
    """Return ``code`` if it is a well-formed ISO 4217 alphabetic code, else raise."""
    if not isinstance(code, str) or not _CODE.match(code):
        raise MoneyError(f"currency must be a 3-letter ISO 4217 code, got {code!r}")
    return code


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (CNY 2, JPY 0, KWD 3)."""
    return _EXPONENTS.get(check_currency(currency), 2)


def format_minor(amount: int, currency: str = "CNY") -> str:
    """Format minor units as a decimal string with thousands separators: 110016 -> '1,100.16'."""
    exp = minor_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    text = f"{whole:,}"
    if exp:
        text += "." + str(frac).zfill(exp)
    return sign + text


def round_half_up(value: Fraction | Decimal | int) -> int:
    """Round an exact value to the nearest integer, halves away from zero.

    >>> round_half_up(Fraction(5, 2)), round_half_up(Decimal("-2.5")), round_half_up(Fraction(7, 3))
    (3, -3, 2)
    """
    frac = Fraction(value)
    sign = -1 if frac < 0 else 1
    frac = abs(frac)
    return sign * ((2 * frac.numerator + frac.denominator) // (2 * frac.denominator))


def mul_round(amount: int, rate: Fraction) -> int:
    """``round_half_up(amount * rate)`` for a non-negative amount, in integer arithmetic."""
    num = amount * rate.numerator
    den = rate.denominator
    return (2 * num + den) // (2 * den) if num >= 0 else -((-2 * num + den) // (2 * den))


def parse_rate(value: object, field: str) -> Decimal:
    """Parse a rate given as a string or number into a Decimal, never through a float."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(f'{field}: expected a decimal rate such as "0.18", got {value!r}')
    if isinstance(value, float):
        value = repr(value)
    try:
        rate = Decimal(str(value))
    except InvalidOperation as exc:
        raise MoneyError(f"{field}: {value!r} is not a decimal number") from exc
    if not rate.is_finite() or rate < 0:
        raise MoneyError(f"{field}: rate must be a finite number >= 0, got {value!r}")
    return rate


def parse_minor(value: object, field: str) -> int:
    """Parse an amount in minor units: an integer, or a string of digits."""
    if isinstance(value, bool):
        raise MoneyError(f"{field}: expected an integer amount in minor units, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise MoneyError(f"{field}: expected an integer amount in minor units, got {value!r}")
