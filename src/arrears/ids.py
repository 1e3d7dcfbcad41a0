"""One id grammar for the whole system, safe in a URL path without escaping.

An id is 1 to 160 of ``A-Z a-z 0-9 _ . : ~ -``, starting with a letter or a digit. The lender's
own ids (loans, borrowers, payments ...) are the same without ``~`` and at most 64 long, so
``~`` joins the parts of the ids arrears composes (``2026-11-23~LN0000000001~early_sms``: the
business date, the loan and the strategy step of a plan action), and they split back
unambiguously.

Before this grammar a plan action's parts were joined by ``|``, which a URL must escape and the
API's id pattern refused. Migration 0013 rewrote the stored ids; :func:`normal` reads an old one
(a dialer still calling back about a call placed before the upgrade) as the new.
"""

from __future__ import annotations

import re
from datetime import date

SEP = "~"
PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:~\-]{0,159}$"
LENDER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
_ID = re.compile(PATTERN)


def action_id(day: date | str, loan_id: str, step_id: str) -> str:
    """The plan action of ``step_id`` for ``loan_id`` on the business date ``day``."""
    text = day.isoformat() if isinstance(day, date) else day
    return SEP.join((text, loan_id, step_id))


def call_back(action: str) -> str:
    """The agent call a call-back request adds for ``action``'s account."""
    return f"{action}{SEP}call_back"


def normal(value: str) -> str:
    """An id as stored now (an old ``|``-joined action id becomes ``~``-joined)."""
    return value.replace("|", SEP)


def valid(value: str) -> bool:
    return bool(_ID.match(value))
