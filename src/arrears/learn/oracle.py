"""The oracle: a scorer that knows each simulated borrower's hidden type and its effects, and
scores each channel by what it truly adds today (the simulator's own day of answers,
:mod:`arrears.learn.respond`: the day's chance of paying, and for a call the promise a
borrower reached makes and keeps), net of its cost and of the complaint it risks.

It is a diagnosis, never a policy that could run: no lender knows its borrowers' types. Run as
the learned strategy's scorer (``arrears learn evaluate --oracle``), it shows the ceiling of
the learned strategy's choices in a world: what a perfect one-day model of every borrower
would recover through the same gate, capacities and options. When the oracle itself does not
beat the champion, no model can, and the gap is in the options, not in the learning.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from arrears.learn.respond import PROMISE_WHEN_REACHED, Book
from arrears.learn.simulator import COMPLAINT_COST, COST
from arrears.strategy.attributes import SCORED_CHANNELS

#: channels that remind (the learned strategy's letter is the demand letter: it escalates)
REMIND = ("sms", "push", "email", "robocall")


class Oracle:
    def __init__(self, book: Book, index: dict[str, int]) -> None:
        self.book = book
        self.index = index

    def score(self, features: pa.Table, *, wanted: Collection[str] | None = None) -> dict[str, Any]:
        b = self.book
        at = np.array([self.index[x] for x in features["loan_id"].to_pylist()], np.int64)
        due = _col(features, "total_due")
        recent = _col(features, "contacts_last_7d")
        h = b.hazard[at]
        reach = np.where(b.reachable[at], b.world.contact_rate, 0.0)
        remind = 1.0 + (b.reminder[at] - 1.0) * b.fatigue[at] ** recent
        # the day's chance of paying after each channel: a call that reaches the borrower is a
        # conversation with an offer; one that does not pay then promises half the time, and
        # the promise is kept with the type's rate
        talked = np.minimum(h * b.conversation[at] * b.offer[at], 1.0)
        promise = PROMISE_WHEN_REACHED * b.kept[at]
        call = reach * (talked + (1.0 - talked) * promise) + (1.0 - reach) * h
        esc = np.minimum(h * b.escalation[at], 1.0)
        talked_esc = np.minimum(h * b.escalation[at] * b.conversation[at] * b.offer[at], 1.0)
        pays: dict[str, NDArray[np.float64]] = dict.fromkeys(REMIND, np.minimum(h * remind, 1.0))
        pays |= {"letter": esc, "agent_call": call}
        pays["visit"] = reach * (talked_esc + (1.0 - talked_esc) * promise) + (1.0 - reach) * esc
        # a contact today, after ``recent`` this week, risks a complaint for each beyond one
        complaint = 1.0 - (1.0 - b.annoyance[at]) ** recent
        out: dict[str, Any] = {}
        for channel in SCORED_CHANNELS:
            name = f"uplift_{channel}"
            if wanted is not None and name not in wanted:
                continue
            gain = (pays[channel] - h) * due
            out[name] = gain - COST.get(channel, 0) - complaint * COMPLAINT_COST
        return out


def _col(features: pa.Table, name: str) -> NDArray[np.float64]:
    got = pc.fill_null(pc.cast(features[name], pa.float64()), 0.0)
    return np.maximum(np.asarray(got.to_numpy(zero_copy_only=False), np.float64), 0.0)
