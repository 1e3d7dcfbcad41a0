"""Field parsers for ingestion: each takes a raw value (a string from CSV, or a typed value from
Parquet / JSON lines) and returns the stored value, or raises :class:`Invalid` with a reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from arrears.strategy.model import CHANNELS as STRATEGY_CHANNELS

CHANNELS = STRATEGY_CHANNELS  # the channels a borrower may agree to (consents)

Parser = Callable[[Any], Any]


class Invalid(ValueError):
    """A value a field refuses; the message is the reason a person reads."""


#: what trimming takes off a value (the vectorised checks trim the same)
WS = " \t\r\n"


def blank(value: Any) -> bool:
    """Missing: None, or text of nothing but spaces, tabs and line breaks (a control character
    is not blank: the text checks refuse it, by name)."""
    return value is None or (isinstance(value, str) and value.strip(WS) == "")


#: control characters no text field may hold (NUL and the like; tab and line breaks are fine)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: the dates a file may give (a year 9999 or 0001 is a typing or export error)
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
#: the languages arrears speaks to borrowers (its templates and pages)
LOCALES = ("zh-CN", "en")


def text(max_len: int) -> Parser:
    def parse(value: Any) -> str:
        raw = str(value)
        out = raw.strip(WS)
        if len(out) > max_len:
            raise Invalid(f"longer than {max_len} characters")
        bad = CONTROL.search(raw)  # looked for before trimming: Python trims some of them
        if bad:
            raise Invalid(
                f"holds a control character (U+{ord(bad.group()):04X}) at position "
                f"{bad.start() + 1}"
            )
        return out

    return parse


def integer(minimum: int | None = None) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise Invalid(f"expected a whole number, got {value!r}")
        if isinstance(value, int):
            n = value
        elif isinstance(value, float) and value.is_integer():
            n = int(value)
        else:
            s = str(value).strip(WS)
            if not re.fullmatch(r"[+-]?[0-9]{1,18}", s):
                raise Invalid(f"expected a whole number (minor units, <= 18 digits), got {value!r}")
            n = int(s)
        if minimum is not None and n < minimum:
            raise Invalid(f"must be >= {minimum}, got {n}")
        return n

    return parse


def _decimal(value: Any, example: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(str(value).strip(WS))
    except InvalidOperation as exc:
        raise Invalid(f"expected {example}, got {value!r}") from exc
    return d


def rate(value: Any) -> str:
    d = _decimal(value, "a decimal rate such as 0.18")
    if not d.is_finite() or d < 0 or d > 100:
        raise Invalid(f"rate must be between 0 and 100, got {value!r}")
    return str(d.normalize()) if d != 0 else "0"


def score(value: Any) -> str:
    """The lender's collection score: a decimal from 0 (worst) to 1 (best)."""
    d = _decimal(value, "a score between 0 and 1 such as 0.62")
    if not d.is_finite() or d < 0 or d > 1:
        raise Invalid(f"score must be between 0 and 1, got {value!r}")
    return str(d)


def iso_date(value: Any) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        d = value
    else:
        s = str(value).strip(WS)
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", s):
                raise ValueError(s)
            d = date.fromisoformat(s)
        except ValueError as exc:
            raise Invalid(f"expected a date YYYY-MM-DD, got {value!r}") from exc
    if not FIRST_DAY <= d <= LAST_DAY:
        raise Invalid(f"{d.isoformat()} is outside {FIRST_DAY.year}-{LAST_DAY.year}")
    return d


def instant(value: Any) -> datetime:
    """An ISO 8601 instant with its UTC offset (2026-11-23T09:30:00+08:00), stored in UTC."""
    if isinstance(value, datetime):
        at = value
    else:
        text = str(value).strip(WS)
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise Invalid(
                f"expected an instant such as 2026-11-23T09:30:00+08:00, got {text!r}"
            ) from exc
    if at.tzinfo is None:
        raise Invalid(f"needs a UTC offset, such as 2026-11-23T09:30:00+08:00, got {value!r}")
    return at.astimezone(UTC)


def choice(*options: str) -> Parser:
    def parse(value: Any) -> str:
        s = str(value).strip(WS)
        if s not in options:
            raise Invalid(f"expected one of {'|'.join(options)}, got {value!r}")
        return s

    return parse


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip(WS).lower()
    if s in ("true", "1", "yes", "y", "t"):
        return True
    if s in ("false", "0", "no", "n", "f"):
        return False
    raise Invalid(f"expected true or false, got {value!r}")


def channels(value: Any) -> str:
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    out = [str(i).strip(WS) for i in items if str(i).strip(WS)]
    bad = [c for c in out if c not in CHANNELS]
    if bad:
        raise Invalid(f"unknown channel {bad[0]!r}; channels are {','.join(CHANNELS)}")
    return ",".join(dict.fromkeys(out))


def preferred(value: Any) -> str:
    s = str(value).strip(WS)
    if s not in ("sms", "push", "email"):
        raise Invalid(f"expected a message channel (sms, push or email), got {value!r}")
    return s


def window(value: Any) -> str:
    s = str(value).strip(WS)
    m = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)", s)
    if not m:
        raise Invalid(f"expected a local time window HH:MM-HH:MM, got {value!r}")
    return s


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone(value: Any) -> str:
    s = str(value).strip(WS)
    if s not in _zones():
        raise Invalid(f"expected an IANA timezone such as Asia/Shanghai, got {value!r}")
    return s


def locale(value: Any) -> str:
    s = str(value).strip(WS)
    if s not in LOCALES:
        raise Invalid(
            f"expected one of the languages arrears speaks ({', '.join(LOCALES)}), got {value!r}"
        )
    return s


def currency(value: Any) -> str:
    s = str(value).strip(WS)
    if not re.fullmatch(r"[A-Z]{3}", s):
        raise Invalid(f"expected an ISO 4217 currency code such as CNY, got {value!r}")
    return s


def identifier(value: Any) -> str:
    s = str(value).strip(WS)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}", s):
        raise Invalid(f"expected an id of letters, digits and _.:- (max 64), got {value!r}")
    return s
