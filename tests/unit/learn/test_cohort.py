"""The simulator's measure, worked by hand: the accounts entering collection, each followed
for the same number of days from its entry; what they paid of their arrears at entry, capped,
by day since entry; their contacts and complaints in those days only."""

from __future__ import annotations

import numpy as np
import pytest

from arrears.learn.simulator import _Cohort, follow_days


def test_a_run_follows_each_entering_account_for_90_days_when_it_is_long_enough() -> None:
    assert follow_days(120) == (30, 90)
    assert follow_days(150) == (60, 90)
    assert follow_days(90) == (45, 45)
    assert follow_days(4) == (2, 2)
    assert follow_days(1) == (1, 1)


def test_an_entering_account_is_counted_over_its_own_days_only() -> None:
    c = _Cohort(3, follow=2)
    due = np.array([1000, 500, 800])
    c.enter(np.array([True, False, False]), due, 0)  # account 0 enters on day 0
    c.day(0, paid=np.array([300, 50, 0]), contacts=np.array([1, 1, 1]),
          complaints=np.array([0, 0, 0]))  # fmt: skip
    c.enter(np.array([False, True, False]), due, 1)  # account 1 enters on day 1
    c.day(1, paid=np.array([900, 100, 0]), contacts=np.array([2, 1, 0]),
          complaints=np.array([1, 0, 0]))  # fmt: skip
    # day 2: account 0's two days are over; account 1's second day
    c.day(2, paid=np.array([500, 600, 0]), contacts=np.array([1, 3, 0]),
          complaints=np.array([1, 1, 0]))  # fmt: skip
    accounts, owed, recovered, contacts, complaints, cost = c.totals()
    assert (accounts, owed) == (2, 1500)
    # account 0: 300 then 900 capped at the 700 left; account 1: 100 then 600 capped at 400
    assert recovered == 1000 + 500
    assert contacts == (1 + 2) + (1 + 3) and complaints == 1 + 1 and cost == 0
    # by day since entry: day 0 brought 300 + 100, day 1 brought 700 + 400
    assert c.curve() == pytest.approx([400 / 1500, 1500 / 1500])
    assert c.totals(np.array([False, True, True]))[:3] == (1, 500, 500)
