"""Keyed draws: numbers in [0, 1) from SHA-256 of (salt, key), so a re-run of a day draws the
same and a second process (or engine) agrees with the first. The cycle's choices draw with
them (exploration, docs/LEARNING.md), and so does :mod:`arrears.learn.explore`."""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray


def draws(salt: str, keys: list[str]) -> NDArray[np.float64]:
    """Two numbers in [0, 1) per key, from SHA-256: the same for the same salt and key."""
    out = np.empty((len(keys), 2))
    for i, key in enumerate(keys):
        digest = hashlib.sha256(f"{salt}\x1f{key}".encode()).digest()
        out[i, 0] = int.from_bytes(digest[:8], "big") / 2**64
        out[i, 1] = int.from_bytes(digest[8:16], "big") / 2**64
    return out
