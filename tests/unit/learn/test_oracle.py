"""The oracle (a diagnosis: the learned strategy's ceiling) scores each channel by what the
simulator's own day of answers gives: its expected payments match the simulated borrowers'
to sampling error, type by type."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from arrears.learn.oracle import Oracle
from arrears.learn.respond import Book, respond
from arrears.learn.simulator import COST
from arrears.learn.worlds import World

N = 40_000
DUE = 100_000


def _oracle(kind: str) -> tuple[Oracle, Book, pa.Table]:
    world = World(name="t", seed=5, type_mix={kind: 1.0}, contact_rate=0.25)
    book = Book(world, world.types(N))
    loans = [f"L{i}" for i in range(N)]
    features = pa.table({"loan_id": loans, "total_due": [DUE] * N, "contacts_last_7d": [0] * N})
    return Oracle(book, {x: i for i, x in enumerate(loans)}), book, features


@pytest.mark.parametrize("kind", ["forgets", "hardship", "strategic", "unreachable"])
def test_the_oracle_expects_what_the_simulated_borrowers_pay(kind: str) -> None:
    oracle, book, features = _oracle(kind)
    got = oracle.score(features)
    rng = np.random.default_rng(1)
    base = float(np.mean(book.hazard))
    zeros = np.zeros(N, np.int64)
    ones = np.ones(N, np.int64)
    day = {
        "sms": respond(book, rng, reminders=ones, calls=zeros),
        "agent_call": respond(book, rng, reminders=zeros, calls=ones, offer_when_reached=True),
        "letter": respond(book, rng, reminders=zeros, calls=zeros, escalation=ones.astype(bool)),
    }
    for channel, answers in day.items():
        # what the borrower pays today, and the promises a call takes, kept at the type's rate
        paid = np.mean(answers.paid) + np.mean(answers.promised) * float(np.mean(book.kept))
        expected = (float(np.mean(got[f"uplift_{channel}"])) + COST[channel]) / DUE + base
        assert expected == pytest.approx(paid, abs=4 * np.sqrt(paid * (1 - paid) / N) + 1e-4), (
            channel
        )
    assert set(got) >= {"uplift_sms", "uplift_agent_call", "uplift_letter", "uplift_visit"}


def test_only_what_is_wanted_is_scored_and_contacts_this_week_cost_complaints() -> None:
    oracle, _, features = _oracle("never")
    assert set(oracle.score(features, wanted={"uplift_sms"})) == {"uplift_sms"}
    calm = oracle.score(features)["uplift_sms"]
    busy = features.set_column(2, "contacts_last_7d", pa.array([3] * N))
    assert (oracle.score(busy)["uplift_sms"] < calm).all()
