"""The simulated borrowers' answers: each type's chance of paying moves with the contacts its
effects name and no others; a type that cannot be reached is never reached; complaints come
only from contacts beyond the day's first; the same seed gives the same day."""

from __future__ import annotations

import numpy as np
import pytest

from arrears.learn.respond import PROMISE_WHEN_REACHED, Book, keeps, respond
from arrears.learn.worlds import World

N = 40_000


def _world(kind: str, **effects: float) -> World:
    return World(name="t", seed=3, type_mix={kind: 1.0}, contact_rate=0.25, effects={kind: effects})


def _book(kind: str, **effects: float) -> Book:
    world = _world(kind, **effects)
    return Book(world, world.types(N))


def _rate(flags: np.ndarray) -> float:
    return float(np.mean(flags))


def test_a_reminder_lifts_a_forgetful_borrowers_chance_to_pay() -> None:
    book = _book("forgets", daily_hazard=0.05, reminder_lift=3.0, conversation_lift=1.0)
    none = respond(book, np.random.default_rng(1), reminders=np.zeros(N), calls=np.zeros(N))
    sms = respond(book, np.random.default_rng(2), reminders=np.ones(N), calls=np.zeros(N))
    assert np.allclose(none.hazard, 0.05) and np.allclose(sms.hazard, 0.15)
    assert _rate(none.paid) == pytest.approx(0.05, abs=0.005)
    assert _rate(sms.paid) == pytest.approx(0.15, abs=0.008)
    assert not none.reached.any() and not none.complained.any()  # no contact, no complaint


def test_calls_reach_at_the_worlds_rate_and_never_the_unreachable() -> None:
    reach = _book("forgets")
    one = respond(reach, np.random.default_rng(3), reminders=np.zeros(N), calls=np.ones(N))
    assert _rate(one.reached) == pytest.approx(0.25, abs=0.01)
    two = respond(reach, np.random.default_rng(4), reminders=np.zeros(N), calls=np.full(N, 2))
    assert _rate(two.reached) == pytest.approx(1 - 0.75**2, abs=0.01)
    # a reached borrower who does not pay promises half the time
    not_paid = two.reached & ~two.paid
    assert _rate(two.promised[not_paid]) == pytest.approx(PROMISE_WHEN_REACHED, abs=0.02)
    assert not (two.promised & ~two.reached).any()
    lost = _book("unreachable")
    out = respond(lost, np.random.default_rng(5), reminders=np.zeros(N), calls=np.full(N, 6))
    assert not out.reached.any() and not out.promised.any()


def test_an_offer_moves_hardship_and_escalation_moves_the_strategic() -> None:
    hard = _book("hardship", daily_hazard=0.01, offer_lift=8.0, escalation_lift=0.5)
    offer = respond(hard, np.random.default_rng(6), reminders=np.zeros(N), calls=np.zeros(N),
                    offer=np.ones(N, bool))  # fmt: skip
    assert offer.hazard[0] == pytest.approx(0.08)
    pushed = respond(hard, np.random.default_rng(7), reminders=np.zeros(N), calls=np.zeros(N),
                     escalation=np.ones(N, bool))  # fmt: skip
    assert pushed.hazard[0] == pytest.approx(0.005)  # pressure backfires on hardship
    strat = _book("strategic", daily_hazard=0.01, escalation_lift=5.0)
    esc = respond(strat, np.random.default_rng(8), reminders=np.zeros(N), calls=np.zeros(N),
                  escalation=np.ones(N, bool))  # fmt: skip
    assert esc.hazard[0] == pytest.approx(0.05) and _rate(esc.paid) == pytest.approx(
        0.05, abs=0.005
    )


def test_complaints_come_from_contacts_beyond_the_first() -> None:
    book = _book("never", complaint_per_extra_contact=0.05)
    one = respond(book, np.random.default_rng(9), reminders=np.ones(N), calls=np.zeros(N))
    four = respond(book, np.random.default_rng(10), reminders=np.full(N, 2), calls=np.full(N, 2))
    assert not one.complained.any()
    assert _rate(four.complained) == pytest.approx(1 - 0.95**3, abs=0.01)


def test_the_same_seed_gives_the_same_day_and_bad_input_is_named() -> None:
    book = _book("forgets")
    a = respond(book, np.random.default_rng(11), reminders=np.ones(N), calls=np.ones(N))
    b = respond(book, np.random.default_rng(11), reminders=np.ones(N), calls=np.ones(N))
    assert (a.paid == b.paid).all() and (a.reached == b.reached).all()
    with pytest.raises(ValueError, match="calls: expected 40000 values"):
        respond(book, np.random.default_rng(1), reminders=np.ones(N), calls=np.ones(3))
    with pytest.raises(ValueError, match="reminders: a count cannot be negative"):
        respond(book, np.random.default_rng(1), reminders=-np.ones(N), calls=np.ones(N))
    due = np.zeros(N, bool)
    due[: N // 2] = True
    kept = keeps(book, np.random.default_rng(12), due)
    assert not kept[N // 2 :].any()
    assert _rate(kept[: N // 2]) == pytest.approx(book.kept[0], abs=0.01)


def test_a_week_of_contacts_annoys_and_reminders_wear_off() -> None:
    book = _book("forgets", daily_hazard=0.05, reminder_lift=3.0, reminder_fatigue=0.5,
                 complaint_per_extra_contact=0.05)  # fmt: skip
    fresh = respond(book, np.random.default_rng(13), reminders=np.ones(N), calls=np.zeros(N))
    worn = respond(book, np.random.default_rng(13), reminders=np.ones(N), calls=np.zeros(N),
                   recent_reminders=np.full(N, 2), recent_contacts=np.full(N, 2))  # fmt: skip
    assert fresh.hazard[0] == pytest.approx(0.15)
    assert worn.hazard[0] == pytest.approx(0.05 * (1 + 2 * 0.25))  # the lift above 1 quartered
    assert not fresh.complained.any()
    assert _rate(worn.complained) == pytest.approx(1 - 0.95**2, abs=0.01)
    # no contact today: no complaint, however busy the week was
    quiet = respond(book, np.random.default_rng(14), reminders=np.zeros(N), calls=np.zeros(N),
                    recent_contacts=np.full(N, 5))  # fmt: skip
    assert not quiet.complained.any()


def test_a_share_of_a_type_can_be_reached() -> None:
    """``reachable`` may be a share: that many of the type's borrowers answer at all (true and
    false are all and none)."""

    def world(reach: object) -> World:
        return World.model_validate(
            {"name": "w", "seed": 3, "type_mix": {"forgets": 1.0},
             "effects": {"forgets": {"daily_hazard": 0.0, "reachable": reach}}}
        )  # fmt: skip

    for reach, share in ((True, 1.0), (False, 0.0), (0.6, 0.6)):
        book = Book(world(reach), ["forgets"] * 5000)
        assert float(np.mean(book.reachable)) == pytest.approx(share, abs=0.03)
    book = Book(world(0.6), ["forgets"] * 5000)
    got = respond(book, np.random.default_rng(1), reminders=np.zeros(5000), calls=np.full(5000, 9))
    assert not np.any(got.reached & ~book.reachable)


def test_chance_is_the_expectation_of_the_days_draws() -> None:
    """The truth off-policy estimates are held to: for every mix of contacts, the share of
    borrowers who paid in the day's draws is the chance :func:`chance` gives."""
    from arrears.learn.respond import chance

    book = _book("hardship", daily_hazard=0.04, reminder_lift=2.0, conversation_lift=1.5,
                 offer_lift=3.0, escalation_lift=2.5, reminder_fatigue=0.5)  # fmt: skip
    rng = np.random.default_rng(9)
    sent = rng.integers(0, 2, N)
    dialled = rng.integers(0, 3, N)
    escalated = rng.random(N) < 0.3
    before = rng.integers(0, 3, N)
    want = chance(book, reminders=sent, calls=dialled, escalation=escalated,
                  recent_reminders=before)  # fmt: skip
    # a few hand-worked cells: nothing; a reminder after one this week; a call and nothing else
    h = 0.04
    assert want[(sent == 0) & (dialled == 0) & ~escalated] == pytest.approx(h)
    cell = (sent == 1) & (before == 1) & (dialled == 0) & ~escalated
    assert want[cell] == pytest.approx(h * (1 + (2.0 - 1) * 0.5))
    cell = (sent == 0) & (dialled == 1) & ~escalated
    assert want[cell] == pytest.approx(0.25 * h * 1.5 * 3.0 + 0.75 * h)
    paid = np.zeros(N)
    for k in range(20):
        got = respond(book, np.random.default_rng(100 + k), reminders=sent, calls=dialled,
                      escalation=escalated, offer_when_reached=True,
                      recent_reminders=before)  # fmt: skip
        paid += got.paid
    # 800,000 borrower-days: the mean agrees to well within its sampling error
    assert paid.mean() / 20 == pytest.approx(want.mean(), rel=0.02)
    for flag in (escalated, dialled > 0, sent > 0):
        assert paid[flag].mean() / 20 == pytest.approx(want[flag].mean(), rel=0.03)
