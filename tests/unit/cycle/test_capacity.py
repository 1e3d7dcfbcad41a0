"""The greedy next-best-action baseline on instances small enough to check by hand: each
account at most once, nothing the gate refuses, lanes never over capacity, free treatments
whenever they are worth it."""

from __future__ import annotations

import numpy as np
import pytest

from arrears.cycle.capacity import NONE, greedy

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


def test_the_optimiser_is_never_worse_than_greedy_and_beats_it_where_greedy_errs() -> None:
    from arrears.cycle.capacity import optimal

    # one call (10 minutes) and one visit: greedy ranks by value per unit across lanes, so
    # account 0 takes the visit (60 a visit) and account 1, who can only be visited, gets
    # nothing; the programme calls account 0 and visits account 1
    value = [[0.0, 50.0, 60.0], [0.0, 0.0, 55.0]]
    allowed = [[False, True, True], [False, False, True]]
    g = greedy(value, allowed, LANE, USE, capacity=[10.0, 1.0])
    o = optimal(value, allowed, LANE, USE, capacity=[10.0, 1.0])
    assert g.value == pytest.approx(60.0)
    assert o.chosen.tolist() == [1, 2] and o.value == pytest.approx(105.0)
    rng = np.random.default_rng(11)
    for _ in range(30):
        n = 60
        v = rng.normal(5, 20, (n, 3))
        ok = rng.random((n, 3)) < 0.8
        cap = [float(rng.integers(0, 200)), float(rng.integers(0, 6))]
        g = greedy(v, ok, LANE, USE, cap)
        o = optimal(v, ok, LANE, USE, cap)
        assert o.value >= g.value - 1e-6
        assert (o.left >= -1e-9).all()
        assert all(ok[i, j] for i, j in enumerate(o.chosen) if j != NONE)


def test_with_a_place_per_treatment_the_optimiser_finds_the_best_plan_there_is() -> None:
    """Against every plan of small instances (each account one treatment or none, lanes within
    their places): the programme's whole solution is the best, free treatments included."""
    import itertools

    from arrears.cycle.capacity import optimal

    rng = np.random.default_rng(5)
    lane, use = [-1, -1, 0, 1], [0.0, 0.0, 1.0, 1.0]
    for _ in range(25):
        n = 6
        v = rng.normal(10, 30, (n, 4))
        ok = rng.random((n, 4)) < 0.7
        cap = [float(rng.integers(0, 4)), float(rng.integers(0, 3))]
        best = 0.0
        for plan in itertools.product(range(-1, 4), repeat=n):
            if any(j >= 0 and not ok[i, j] for i, j in enumerate(plan)):
                continue
            if sum(j == 2 for j in plan) > cap[0] or sum(j == 3 for j in plan) > cap[1]:
                continue
            best = max(best, sum(v[i, j] for i, j in enumerate(plan) if j >= 0))
        got = optimal(v, ok, lane, use, cap)
        assert got.value == pytest.approx(best)
        assert all(ok[i, j] for i, j in enumerate(got.chosen) if j != NONE)
