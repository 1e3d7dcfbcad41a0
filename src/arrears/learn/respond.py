"""How simulated borrowers answer a day of collection: for each account in arrears, the contacts
the real plan made that day (reminders sent, calls dialled, an offer, an escalation) in, and
whether the borrower was reached, paid, promised or complained out, drawn from the borrower's
hidden type in the world (:mod:`arrears.learn.worlds`). Vectorised over the book: one call a
simulated day.

The day's chance of paying is the type's ``daily_hazard`` times each lift whose contact
happened (a reminder, a conversation, an offer, an escalation), at most 1. A call reaches the
borrower with the world's contact rate (each dial on its own), never for a type that cannot be
reached. A borrower reached who does not pay promises half the time (the promise is kept, when
its day comes, with the type's ``promise_kept``). Every contact beyond the day's first may end
in a complaint, with the type's ``complaint_per_extra_contact``, counted over the week: the
day's contacts and the six days' before. A reminder lifts less when others came in the six
days before (the type's ``reminder_fatigue``: borrowers get used to them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from arrears.learn.worlds import TYPES, World

#: a reached borrower who does not pay promises this often (an assumption, swept later)
PROMISE_WHEN_REACHED = 0.5


@dataclass(frozen=True)
class Answers:
    """One simulated day, one entry per account."""

    reached: NDArray[np.bool_]
    paid: NDArray[np.bool_]
    promised: NDArray[np.bool_]
    complained: NDArray[np.bool_]
    #: the chance of paying the simulator used (for checks and for judging a policy's truth)
    hazard: NDArray[np.float64]


class Book:
    """The hidden types of a world's borrowers, as arrays of each type's effects."""

    def __init__(self, world: World, kinds: list[str]) -> None:
        self.world = world
        self.kinds = np.array([TYPES.index(k) for k in kinds], dtype=np.int64)
        table = [world.effects_of(k) for k in TYPES]

        def col(name: str) -> NDArray[np.float64]:
            return np.array([float(getattr(e, name)) for e in table])[self.kinds]

        self.hazard = col("daily_hazard")
        self.reminder = col("reminder_lift")
        self.conversation = col("conversation_lift")
        self.offer = col("offer_lift")
        self.escalation = col("escalation_lift")
        self.kept = col("promise_kept")
        self.annoyance = col("complaint_per_extra_contact")
        self.fatigue = col("reminder_fatigue")
        # which borrowers can be reached at all: the type's share, drawn once with the seed
        draw = np.random.default_rng([world.seed, 0x4EAC]).random(self.kinds.shape[0])
        self.reachable = draw < col("reachable")

    @property
    def n(self) -> int:
        return int(self.kinds.shape[0])


def respond(
    book: Book,
    rng: np.random.Generator,
    *,
    reminders: ArrayLike,
    calls: ArrayLike,
    offer: ArrayLike | None = None,
    escalation: ArrayLike | None = None,
    offer_when_reached: bool = False,
    recent_reminders: ArrayLike | None = None,
    recent_contacts: ArrayLike | None = None,
) -> Answers:
    """The day's answers of every account of ``book`` to the contacts made: ``reminders`` and
    ``calls`` counts, ``offer`` and ``escalation`` flags (each an array over the accounts).
    ``offer_when_reached``: a borrower reached is offered a plan (collectors offer one when
    they hear of hardship), so the offer's lift applies too. ``recent_reminders`` and
    ``recent_contacts``: each account's reminders and contacts in the six days before (for
    habituation and annoyance; none when not given)."""
    n = book.n
    sent = np.asarray(reminders, dtype=np.int64)
    dialled = np.asarray(calls, dtype=np.int64)
    offered = np.zeros(n, bool) if offer is None else np.asarray(offer, dtype=bool)
    escalated = np.zeros(n, bool) if escalation is None else np.asarray(escalation, dtype=bool)
    for name, arr in (("reminders", sent), ("calls", dialled), ("offer", offered),
                      ("escalation", escalated)):  # fmt: skip
        if arr.shape != (n,):
            raise ValueError(f"{name}: expected {n} values, one per account, got {arr.shape}")
        if arr.dtype != bool and np.any(arr < 0):
            raise ValueError(f"{name}: a count cannot be negative")
    p_reach = reach(book, dialled)
    reached = rng.random(n) < p_reach
    before = np.zeros(n) if recent_reminders is None else np.asarray(recent_reminders, float)
    if offer_when_reached:
        offered = offered | reached
    hazard = _hazard(book, sent, reached, offered, escalated, before)
    paid = rng.random(n) < hazard
    promised = reached & ~paid & (rng.random(n) < PROMISE_WHEN_REACHED)
    week = np.zeros(n) if recent_contacts is None else np.asarray(recent_contacts, float)
    today = sent + dialled + escalated
    extra = np.where(today > 0, np.maximum(today + week - 1, 0), 0)
    complained = rng.random(n) < 1.0 - (1.0 - book.annoyance) ** extra
    return Answers(reached, paid, promised, complained, hazard)


def reach(book: Book, dialled: NDArray[np.int64]) -> NDArray[np.float64]:
    """The chance each borrower is reached by the day's ``dialled`` calls (each on its own)."""
    rate = book.world.contact_rate
    return np.where(book.reachable, 1.0 - (1.0 - rate) ** dialled, 0.0)


def _hazard(
    book: Book,
    sent: NDArray[np.int64],
    reached: NDArray[np.bool_],
    offered: NDArray[np.bool_],
    escalated: NDArray[np.bool_],
    before: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The day's chance of paying, given what happened."""
    lift = 1.0 + (book.reminder - 1.0) * book.fatigue**before
    hazard = np.where(sent > 0, book.hazard * lift, book.hazard)
    hazard = np.where(reached, hazard * book.conversation, hazard)
    hazard = np.where(offered, hazard * book.offer, hazard)
    hazard = np.where(escalated, hazard * book.escalation, hazard)
    return np.asarray(np.minimum(hazard, 1.0), dtype=np.float64)


def chance(
    book: Book,
    *,
    reminders: ArrayLike,
    calls: ArrayLike,
    escalation: ArrayLike,
    recent_reminders: ArrayLike,
) -> NDArray[np.float64]:
    """The chance each borrower pays today after the day's contacts (the expectation of
    :func:`respond`'s draws, a reached borrower offered a plan): the simulator's truth, which
    off-policy estimates are held to (:mod:`arrears.learn.coverage`)."""
    sent = np.asarray(reminders, dtype=np.int64)
    dialled = np.asarray(calls, dtype=np.int64)
    escalated = np.asarray(escalation, dtype=bool)
    before = np.asarray(recent_reminders, dtype=np.float64)
    p_reach = reach(book, dialled)
    yes = np.ones(book.n, bool)
    talked = _hazard(book, sent, yes, yes, escalated, before)
    silent = _hazard(book, sent, ~yes, ~yes, escalated, before)
    return np.asarray(p_reach * talked + (1.0 - p_reach) * silent, dtype=np.float64)


def keeps(book: Book, rng: np.random.Generator, due: ArrayLike) -> NDArray[np.bool_]:
    """Which of the promises falling due (a flag per account) are kept."""
    falling = np.asarray(due, dtype=bool)
    return falling & (rng.random(book.n) < book.kept)
