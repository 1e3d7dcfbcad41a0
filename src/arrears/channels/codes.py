"""Verification codes: what a borrower (or anyone) types to check that a contact is genuine.

Eight characters of Crockford's base32 (no I, L, O or U: nothing to misread), about 10^12
codes, shown as ``K7Q2-M9XD``. Only a keyed hash of the code is stored (the store's lookup
hash, kind "verification"), so the table gives nothing away. Reading back is forgiving: case,
spaces and dashes do not matter, and O, I and L are read as 0, 1 and 1.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def shown(code: str) -> str:
    """The code as printed in a message: two groups of four."""
    return f"{code[:4]}-{code[4:]}"


def normalise(text: str) -> str | None:
    """The code someone typed, in canonical form; None when it cannot be a code."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum()).translate(_READ_AS)
    if len(raw) != LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return raw
