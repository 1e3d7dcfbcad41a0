"""The supervisor's team table, figure by figure on a day built by hand: who worked (a
collector id known only from the contacts counts), right-party contacts by disposition, promises
taken and their amount, cash credited to the last person who reached the borrower, and the
accounts behind every figure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from arrears.bootstrap import App
from arrears.service.books.statements import statement_for_loan
from arrears.service.cases.payments import post_payment
from arrears.service.cases.promises import Part, make_promise
from arrears.service.conduct.dispositions import Wrap
from arrears.service.conduct.outcomes import record_outcome
from arrears.service.outreach.worklist import items
from arrears.service.queries.team_day import team_day
from tests.conftest import PlanBook
from tests.support.clock import Clock

DAY = date(2026, 11, 23)


@pytest.fixture
def planned(plan_book: PlanBook) -> App:
    return plan_book(600, 5, DAY, clock=Clock())


def test_each_figure_and_the_accounts_behind_it(planned: App) -> None:
    queue = items(planned, "early_callback", DAY, limit=500)
    assert len(queue) >= 4
    a, b, c, d = queue[:4]
    record_outcome(planned, a.action_id, collector_id="C1", result="conversation",
                   wrap=Wrap("right_party", "job_loss"))  # fmt: skip
    record_outcome(planned, b.action_id, collector_id="C1", result="no_answer")
    record_outcome(planned, c.action_id, collector_id="C2", result="conversation",
                   wrap=Wrap("third_party"))  # fmt: skip
    record_outcome(planned, d.action_id, collector_id="C2", result="conversation")
    due = int(statement_for_loan(planned, a.loan_id, DAY)["total_due"])
    make_promise(planned, a.loan_id, [Part(DAY + timedelta(days=3), due)], source="agent_call",
                 made_by="C1")  # fmt: skip
    due_b = int(statement_for_loan(planned, b.loan_id, DAY)["total_due"])
    make_promise(
        planned,
        b.loan_id,
        [Part(DAY + timedelta(days=2), due_b)],
        source="portal",
        made_by=b.borrower_id,
    )  # fmt: skip  (the borrower's own: nobody's figure)
    post_payment(planned, d.loan_id, 5_000, DAY)  # C2 spoke with d's borrower (no disposition)
    post_payment(planned, c.loan_id, 700, DAY)  # only a third party was reached: nobody's
    team = team_day(planned, DAY)
    by = {m.collector_id: m for m in team.members}
    assert set(by) == {"C1", "C2"}, set(by)
    one, two = by["C1"], by["C2"]
    assert (one.attempts, one.reached, one.rpc_rate) == (2, 1, 0.5)
    assert (two.attempts, two.reached, two.rpc_rate) == (2, 1, 0.5)
    assert (one.promises, one.promised, one.cash) == (1, due, 0)
    assert (two.promises, two.cash) == (0, 5_000)
    assert team.accounts[("C1", "attempts")] == {a.loan_id, b.loan_id}
    assert team.accounts[("C1", "reached")] == {a.loan_id}
    assert team.accounts[("C1", "promises")] == {a.loan_id}
    assert team.accounts[("C2", "cash")] == {d.loan_id}
    assert team_day(planned, DAY + timedelta(days=1)).members == []
