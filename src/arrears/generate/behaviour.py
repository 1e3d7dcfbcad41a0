"""Repayment behaviours that produce a plausible mix of DPD buckets at any as-of date.

* ``on_time`` pays every instalment on or a little before its due date;
* ``forgets`` sometimes pays days late, then clears everything due (penalty included);
* ``chronic_late`` pays each instalment's amount weeks late, so arrears never quite clear;
* ``hardship`` pays until a shock, stops for months, then pays half instalments (a de facto plan);
* ``never_pays`` pays at most a couple of instalments, then nothing.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from arrears.domain.delinquency import statement
from arrears.domain.ledger import Loan, Payment

BEHAVIOURS = {
    "on_time": 0.60,
    "forgets": 0.17,
    "chronic_late": 0.09,
    "hardship": 0.08,
    "never_pays": 0.06,
}


#: the centre of the lender's collection score for each behaviour (0 worst, 1 best)
SCORES = {"on_time": 80, "forgets": 70, "chronic_late": 45, "hardship": 35, "never_pays": 15}


def score(behaviour: str, n: int) -> str:
    """A score a lender's model might give: the behaviour's centre, spread +-0.15 by loan number
    (a hash, so the main random stream is untouched), two decimals."""
    spread = (n * 2654435761) % 31 - 15
    return f"{min(max(SCORES[behaviour] + spread, 1), 99) / 100:.2f}"


def pick(rng: random.Random) -> str:
    return rng.choices(list(BEHAVIOURS), weights=list(BEHAVIOURS.values()))[0]


def _pay(loan: Loan, pid: str, day: date, amount: int) -> Loan:
    return loan.post(Payment(pid, day, amount)) if amount > 0 else loan


def simulate(loan: Loan, behaviour: str, as_of: date, rng: random.Random) -> Loan:
    """Return ``loan`` with the payments ``behaviour`` would have made up to ``as_of``."""
    due = [i for i in loan.instalments if i.due_date <= as_of + timedelta(days=3)]
    stop = len(due) + 1
    if behaviour == "never_pays":
        stop = rng.randint(0, 2)
    elif behaviour == "hardship":
        stop = rng.randint(1, max(len(loan.instalments) - 1, 1))
    for k, inst in enumerate(due):
        pid = f"{loan.loan_id}-P{k + 1:02d}"
        if k >= stop:
            loan = _hardship_resume(loan, behaviour, inst.due_date, inst.amount, as_of, rng)
            break
        if behaviour == "chronic_late":
            day = inst.due_date + timedelta(days=rng.randint(20, 50))
            if day <= as_of:
                loan = _pay(loan, pid, day, inst.amount)
        elif behaviour == "forgets" and rng.random() < 0.35:
            day = inst.due_date + timedelta(days=rng.randint(2, 20))
            if day <= as_of:
                owed = statement(loan, day, explain=False).total_due
                loan = _pay(loan, pid, day, owed)
        else:
            day = inst.due_date - timedelta(days=rng.randint(0, 3))
            if day <= as_of:
                loan = _pay(loan, pid, day, inst.amount)
    return loan


def _hardship_resume(
    loan: Loan, behaviour: str, stopped: date, amount: int, as_of: date, rng: random.Random
) -> Loan:
    if behaviour != "hardship":
        return loan
    day = stopped + timedelta(days=rng.randint(60, 150))
    n = 0
    while day <= as_of and n < 24:
        loan = _pay(loan, f"{loan.loan_id}-H{n + 1:02d}", day, amount // 2)
        day += timedelta(days=30)
        n += 1
    return loan
