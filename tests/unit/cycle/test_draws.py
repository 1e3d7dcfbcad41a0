"""Keyed draws: the documented hash (FNV-1a of salt, 0x1f and key, then SplitMix64's finaliser),
the same from a list or an Arrow column, uniform, and independent of each other and of the day."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from arrears.cycle.draws import draws

MASK = 2**64 - 1


def _mix(z: int) -> float:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return ((z ^ (z >> 31)) >> 11) / 2**53


def _reference(salt: str, key: str) -> tuple[float, float]:
    """The hash as docs/LEARNING.md and the module describe it, in plain Python."""
    h = 0xCBF29CE484222325
    for byte in salt.encode() + b"\x1f" + key.encode():
        h = ((h ^ byte) * 0x100000001B3) & MASK
    golden = 0x9E3779B97F4A7C15
    return _mix((h + golden) & MASK), _mix((h + 2 * golden) & MASK)


def test_the_draws_are_the_documented_hash() -> None:
    keys = ["LN0000000001", "LN0000000002", "", "借款-7", "a" * 300]
    got = draws("learned|2026-12-01", keys)
    for row, key in zip(got, keys, strict=True):
        assert tuple(row) == pytest.approx(_reference("learned|2026-12-01", key), abs=0)


def test_a_list_and_an_arrow_column_draw_the_same_and_a_slice_keeps_its_keys() -> None:
    keys = [f"LN{i:010d}" for i in range(1000)]
    column = pa.chunked_array([pa.array(keys[:400]), pa.array(keys[400:])])
    whole = draws("s", column)
    assert np.array_equal(whole, draws("s", keys))
    assert np.array_equal(draws("s", pa.array(keys).slice(250, 10)), whole[250:260])
    assert draws("s", []).shape == (0, 2)


def test_the_draws_are_uniform_and_independent() -> None:
    keys = pa.array([f"LN{i:010d}" for i in range(100_000)])
    today, tomorrow = draws("learned|2026-12-01", keys), draws("learned|2026-12-02", keys)
    for col in (today[:, 0], today[:, 1], tomorrow[:, 0]):
        assert stats.kstest(col, "uniform").pvalue > 0.001
        assert 0.0 <= col.min() and col.max() < 1.0
    assert abs(np.corrcoef(today[:, 0], today[:, 1])[0, 1]) < 0.02
    assert abs(np.corrcoef(today[:, 0], tomorrow[:, 0])[0, 1]) < 0.02


def test_a_missing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="keys: a key is missing"):
        draws("s", pa.array(["a", None]))


def test_any_salt_draws_whatever_its_hash() -> None:
    # salts whose hash is over 2**63 and under it, in either order, in one process
    for salt in ("default|2026-11-23", "s", "learned|2026-12-01", "x" * 50, "默认|2026-01-01"):
        assert tuple(draws(salt, ["LN1"])[0]) == pytest.approx(_reference(salt, "LN1"), abs=0)
