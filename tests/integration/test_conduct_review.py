"""The compliance review queue: an alert is confirmed or dismissed once, with a note, and the
review is in the hash chain; two reviewers at once review it once; confirmed breaches count
against the collector."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.service.conduct.alerts import alerts, breaches_by, review
from arrears.service.errors import Conflict, Invalid, NotFound, ServiceError
from arrears.service.staff.evidence_log import verify_log
from arrears.service.staff.scope import break_glass
from arrears.service.staff.users import Staff
from arrears.store import tables as t
from tests.conftest import FIXED_NOW, PlanBook

DAY = date(2026, 11, 23)
CHEN = Staff("u-chen", "chen", "Chen", "collector", None, "C0007", ("early_callback",))


@pytest.fixture
def alerted(plan_book: PlanBook) -> tuple[App, str]:
    app = plan_book(300, 5, DAY, clock=lambda: FIXED_NOW)
    with app.engine.connect() as conn:
        loan = conn.execute(select(t.loan.c.loan_id).limit(1)).scalar_one()
    break_glass(app, CHEN, loan, "the borrower called the hotline today")
    (alert,) = alerts(app)
    return app, str(alert["alert_id"])


def test_an_alert_is_reviewed_once_with_a_note(alerted: tuple[App, str]) -> None:
    app, alert = alerted
    with pytest.raises(Invalid, match="verdict"):
        review(app, alert, by="zhao", verdict="maybe", note="not sure at all")
    with pytest.raises(Invalid, match="note"):
        review(app, alert, by="zhao", verdict="confirmed", note=" ok ")
    with pytest.raises(NotFound):
        review(app, "al-nope", by="zhao", verdict="confirmed", note="no such alert here")
    review(app, alert, by="zhao", verdict="confirmed", note="no ticket; reminded the team")
    with pytest.raises(Conflict, match="reviewed already"):
        review(app, alert, by="qian", verdict="dismissed", note="second opinion differs")
    (done,) = alerts(app, "confirmed")
    assert (done["reviewed_by"], done["review_note"]) == ("zhao", "no ticket; reminded the team")
    assert alerts(app) == []
    assert breaches_by(app).by_collector == [("C0007", 1)]
    with app.engine.connect() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(t.audit_log)
            .where(t.audit_log.c.kind == "conduct_review")
        ).scalar_one()
    assert n == 1 and verify_log(app).ok


def test_two_reviewers_at_once_review_it_once(alerted: tuple[App, str]) -> None:
    app, alert = alerted
    barrier = threading.Barrier(3)
    results: list[str] = []

    def go(who: str, verdict: str) -> None:
        barrier.wait()
        try:
            review(app, alert, by=who, verdict=verdict, note=f"{who} looked at it")
            results.append("ok")
        except ServiceError as exc:
            results.append(type(exc).__name__)

    threads = [
        threading.Thread(target=go, args=(w, v))
        for w, v in (("zhao", "confirmed"), ("qian", "dismissed"), ("sun", "confirmed"))
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results.count("ok") == 1 and set(results) <= {"ok", "Conflict"}
    with app.engine.connect() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(t.audit_log)
            .where(t.audit_log.c.kind == "conduct_review")
        ).scalar_one()
    assert n == 1
