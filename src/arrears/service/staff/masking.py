"""Masking personal data for the roles that see it masked: in fields (:func:`mask`) and inside
what people wrote and heard (:func:`mask_text`: message texts, notes, complaint descriptions,
reasons, transcripts).

Inside free text, the borrower's own known values (name, numbers, emails, national id,
addresses, as stored) are masked wherever they appear, and so is anything shaped like a phone
number, a national id, a bank card or an email address, whoever's it is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def mask(value: str | None, kind: str) -> str | None:
    """``138****5678`` for a phone, ``z***@example.com`` for an email, the first character and
    stars for a name, the first 3 and last 4 of an id, the first 6 characters of an address."""
    if not value:
        return value
    if kind == "phone":
        digits = value.replace(" ", "")
        return digits[:3] + "*" * max(len(digits) - 7, 2) + digits[-4:]
    if kind == "email":
        user, _, domain = value.partition("@")
        return (user[:1] + "***@" + domain) if domain else "***"
    if kind == "national_id":
        return value[:3] + "*" * max(len(value) - 7, 4) + value[-4:]
    if kind == "address":
        return value[:6] + "…"
    return value[:1] + "*" * max(len(value) - 1, 1)


@dataclass
class Known:
    """A person's known personal values, by kind (``name``, ``phone``, ``email``,
    ``national_id``, ``address``)."""

    values: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, value: str | None) -> None:
        if value and len(value.strip()) >= 2:
            self.values.setdefault(kind, set()).add(value.strip())


#: shapes of personal data, whoever's it is: (kind as :func:`mask` takes it, pattern)
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")),
    ("national_id", re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")),
    ("card", re.compile(r"(?<!\d)\d{16,19}(?!\d)")),
    ("phone", re.compile(r"(?<![\d+])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")),
    ("phone", re.compile(r"(?<!\d)\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)")),
)


def _shape(kind: str, found: str) -> str:
    if kind == "card":
        digits = re.sub(r"\D", "", found)
        return "*" * (len(digits) - 4) + digits[-4:]
    if kind == "phone":
        digits = re.sub(r"\D", "", found)
        return str(mask(digits[-11:] if len(digits) > 11 else digits, "phone"))
    return str(mask(found, kind))


def mask_text(text: str, known: Known | None = None) -> str:
    """``text`` with the person's known values and anything shaped like personal data
    masked."""
    if not text:
        return text
    out = text
    for kind, values in (known.values if known else {}).items():
        for value in sorted(values, key=len, reverse=True):  # the longest first
            if value in out:
                out = out.replace(value, str(mask(value, "phone" if kind == "phone" else kind)))
    for kind, pattern in SHAPES:

        def masked(m: re.Match[str], kind: str = kind) -> str:
            return _shape(kind, m.group())

        out = pattern.sub(masked, out)
    return out
