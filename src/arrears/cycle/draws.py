"""Keyed draws: numbers in [0, 1) from a hash of (salt, key), so a re-run of a day draws the same
and a second process (or engine) agrees with the first. The cycle's choices draw with them
(exploration, docs/LEARNING.md), and so does :mod:`arrears.learn.explore`.

The hash is 64-bit FNV-1a over the salt's UTF-8, a unit separator (0x1f) and the key's UTF-8,
then each of the two draws is SplitMix64's finaliser of it (the second after adding the golden
ratio constant), its top 53 bits over 2**53. Not a secret: a draw is a coin, not a key. It runs
compiled over the keys' Arrow buffers (a million keys in milliseconds: the cycle draws for every
acting account every day).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit
from numpy.typing import NDArray

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def draws(salt: str, keys: Sequence[str] | pa.Array | pa.ChunkedArray) -> NDArray[np.float64]:
    """Two numbers in [0, 1) per key: the same for the same salt and key."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    arr = keys if isinstance(keys, pa.Array) else pa.array(list(keys), pa.string())
    arr = pc.cast(arr, pa.large_string())
    if arr.null_count:
        raise ValueError("keys: a key is missing (null)")
    n = len(arr)
    out = np.empty((n, 2))
    if n == 0:
        return out
    _, offsets, data = arr.buffers()
    off = np.frombuffer(offsets, np.int64, n + 1, arr.offset * 8)
    body = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    # typed uint64 on both sides of the compiled calls (a Python int over 2**63 is not)
    seed = np.uint64(_fnv(np.frombuffer(salt.encode() + b"\x1f", np.uint8), FNV_OFFSET))
    _draw(body, off, seed, out)
    return out


@njit(cache=True)
def _fnv(data: NDArray[np.uint8], h: np.uint64) -> np.uint64:
    for b in data:
        h = (h ^ np.uint64(b)) * FNV_PRIME
    return h


@njit(cache=True)
def _mix(z: np.uint64) -> float:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _draw(
    data: NDArray[np.uint8], off: NDArray[np.int64], seed: np.uint64, out: NDArray[np.float64]
) -> None:
    golden = np.uint64(GOLDEN)
    for i in range(out.shape[0]):
        h = np.uint64(seed)
        for j in range(off[i], off[i + 1]):
            h = (h ^ np.uint64(data[j])) * FNV_PRIME
        first = h + golden
        out[i, 0] = _mix(first)
        out[i, 1] = _mix(first + golden)
