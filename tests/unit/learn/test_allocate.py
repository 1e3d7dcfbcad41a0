"""The greedy next-best-action baseline on instances small enough to check by hand: each
account at most once, nothing the gate refuses, lanes never over capacity, free treatments
whenever they are worth it."""

from __future__ import annotations

import numpy as np
import pytest

from arrears.learn.allocate import NONE, greedy

# treatments: 0 SMS (free), 1 agent call (10 minutes of lane 0), 2 visit (one of lane 1)
LANE = [-1, 0, 1]
USE = [0.0, 10.0, 1.0]


def test_value_per_minute_first_within_capacity() -> None:
    value = [
        [1.0, 30.0, 0.0],  # a call worth 3.0 a minute
        [2.0, 50.0, 0.0],  # a call worth 5.0 a minute: first
        [0.5, 25.0, 80.0],  # a visit (its own lane)
        [0.0, 0.0, 0.0],  # worth nothing: untreated
    ]
    allowed = np.ones((4, 3), bool)
    got = greedy(value, allowed, LANE, USE, capacity=[10.0, 1.0])  # one call, one visit
    assert got.chosen.tolist() == [0, 1, 2, NONE]  # account 0 falls back to its SMS
    assert got.value == pytest.approx(1.0 + 50.0 + 80.0)
    assert got.left.tolist() == [0.0, 0.0]


def test_what_the_gate_refuses_is_never_chosen() -> None:
    value = [[1.0, 90.0, 0.0], [1.0, 20.0, 0.0]]
    allowed = [[True, False, False], [True, True, False]]  # no call for account 0 today
    got = greedy(value, allowed, LANE, USE, capacity=[100.0, 0.0])
    assert got.chosen.tolist() == [0, 1]
    assert got.left.tolist() == [90.0, 0.0]


def test_lanes_are_never_over_capacity() -> None:
    rng = np.random.default_rng(4)
    n = 500
    value = rng.uniform(-5, 60, size=(n, 3))
    allowed = rng.random((n, 3)) < 0.8
    got = greedy(value, allowed, LANE, USE, capacity=[300.0, 12.0])
    calls = int(np.sum(got.chosen == 1))
    visits = int(np.sum(got.chosen == 2))
    assert calls * 10 <= 300 and visits <= 12
    assert calls == 30 and visits == 12  # full: many more were worth it
    chosen = got.chosen[got.chosen != NONE]
    rows = np.nonzero(got.chosen != NONE)[0]
    assert np.all(np.asarray(allowed)[rows, chosen])
    assert np.all(value[rows, chosen] > 0)


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="expected 1 x 3"):
        greedy([[1.0, 2.0, 3.0]], [[True, True]], LANE, USE, [1.0, 1.0])
    with pytest.raises(ValueError, match="lane must exist"):
        greedy([[1.0, 2.0, 3.0]], [[True] * 3], [-1, 0, 5], USE, [1.0, 1.0])
