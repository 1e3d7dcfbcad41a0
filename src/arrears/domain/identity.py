"""Identity documents, checked by their kind.

* ``cn_resident`` (居民身份证, the default): 18 characters, the first 17 digits, the last a digit
  or X, whose check character follows GB 11643-1999 (ISO 7064 MOD 11-2), with a real birth
  date (YYYYMMDD at positions 7-14); the 15-digit first-generation card (YYMMDD at 7-12) is
  accepted too;
* ``hk_macau`` (港澳居民来往内地通行证): H or M and 8 or 10 digits;
* ``taiwan`` (台湾居民来往大陆通行证): 8 digits;
* ``passport``: 5 to 20 letters and digits;
* ``us_ssn``: AAA-GG-SSSS (no 000, 666 or 9xx area, no 00 group, no 0000 serial);
* ``uk_nino``: two letters, six digits, A-D;
* ``other``: 1 to 64 printable characters.
"""

from __future__ import annotations

import re
from datetime import date

KINDS = ("cn_resident", "hk_macau", "taiwan", "passport", "us_ssn", "uk_nino", "other")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"

_PATTERNS = {
    "hk_macau": r"[HM][0-9]{8}([0-9]{2})?",
    "taiwan": r"[0-9]{8}",
    "passport": r"[A-Za-z0-9]{5,20}",
    "us_ssn": r"(?!000|666|9[0-9]{2})[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}",
    "uk_nino": r"(?![DFIQUV])[A-Z](?![DFIQUVO])[A-Z][0-9]{6}[A-D]",
    "other": r"[^\x00-\x1f\x7f]{1,64}",
}


def check_character(first17: str) -> str:
    """The 18th character of a resident id whose first 17 digits are ``first17``."""
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def _birth(text: str) -> bool:
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date(2099, 12, 31)


def problem(value: str, kind: str = "cn_resident") -> str | None:
    """Why ``value`` is not a valid document of ``kind``, or None when it is."""
    if kind not in KINDS:
        return f"unknown id_type {kind!r}; expected one of {', '.join(KINDS)}"
    if kind != "cn_resident":
        if re.fullmatch(_PATTERNS[kind], value):
            return None
        return f"not a valid {kind} number: {value!r}"
    v = value.upper()
    if re.fullmatch(r"[0-9]{15}", v):
        return None if _birth("19" + v[6:12]) else f"no such birth date in {value!r}"
    if not re.fullmatch(r"[0-9]{17}[0-9X]", v):
        return f"a resident id has 18 characters (17 digits and a digit or X), got {value!r}"
    if not _birth(v[6:14]):
        return f"no such birth date in {value!r}"
    if check_character(v[:17]) != v[17]:
        return f"the check character of {value!r} should be {check_character(v[:17])}"
    return None
