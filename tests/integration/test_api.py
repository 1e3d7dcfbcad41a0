"""The integrations' API over real HTTP (uvicorn on loopback, SQLite and PostgreSQL): bearer
tokens and their scopes, problem+json naming the field, pagination, statements, payments and
arrangements through the service layer; and Schemathesis against the published OpenAPI
document, finding no server error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.books.statements import statement_for_loan
from arrears.service.staff.users import create_token, revoke_token
from arrears.store import tables as t
from arrears.store.ingest.loader import ingest
from arrears.web.app import create_app
from tests.support.files import readme_loan_files
from tests.support.servers import serve_asgi

DAY = date(2026, 2, 19)
NOW = datetime(2026, 2, 19, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def served(app: App, tmp_path: Path) -> Iterator[tuple[str, App, str, str]]:
    ingest(app.engine, app.cipher, [readme_loan_files(tmp_path / "in")], clock=lambda: NOW)
    app.clock = lambda: NOW
    reader = create_token(app, "reporting", ["read"])
    writer = create_token(app, "core-banking", ["read", "write"])
    with serve_asgi(create_app(app)) as url:
        yield url, app, reader, writer


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_and_scopes(served: tuple[str, App, str, str]) -> None:
    url, app, reader, writer = served
    with httpx.Client(base_url=url) as c:
        none = c.get("/api/v1/loans")
        assert none.status_code == 401
        assert none.headers["content-type"] == "application/problem+json"
        assert none.json()["field"] == "Authorization"
        assert c.get("/api/v1/loans", headers=_h("arr_x_forged")).status_code == 401
        body = {"loan_id": "L1", "amount": 100}
        refused = c.post("/api/v1/payments", json=body, headers=_h(reader))
        assert refused.status_code == 403 and "write" in refused.json()["detail"]
        assert c.get("/api/v1/loans", headers=_h(reader)).status_code == 200
        revoke_token(app, reader.split("_")[1])
        assert c.get("/api/v1/loans", headers=_h(reader)).status_code == 401


def test_statements_payments_and_pages(served: tuple[str, App, str, str]) -> None:
    url, app, _, writer = served
    with httpx.Client(base_url=url, headers=_h(writer)) as c:
        page = c.get("/api/v1/loans", params={"per_page": 1}).json()
        assert (page["total"], len(page["items"]), page["page"]) == (1, 1, 1)
        assert page["items"][0]["loan_id"] == "L1"
        assert c.get("/api/v1/loans", params={"page": 2, "per_page": 1}).json()["items"] == []
        st = c.get("/api/v1/loans/L1/statement", params={"as_of": "2026-02-19"}).json()
        assert st == statement_for_loan(app, "L1", DAY) and st["total_due"] == 222727
        assert c.get("/api/v1/loans/NOPE/statement").status_code == 404
        bad = c.post("/api/v1/payments", json={"loan_id": "L1", "amount": -5})
        assert bad.status_code == 422 and bad.json()["field"] == "amount"
        paid = c.post(
            "/api/v1/payments", json={"loan_id": "L1", "amount": 2695, "payment_id": "P-API-1"}
        )
        assert paid.status_code == 201 and paid.json()["paid_on"] == "2026-02-19"
        after = c.get("/api/v1/loans/L1/statement").json()
        assert after["total_due"] == 222727 - 2695 and after["overdue"]["penalty"] == 0
        again = c.post(
            "/api/v1/payments", json={"loan_id": "L1", "amount": 1, "payment_id": "P-API-1"}
        )
        assert again.status_code == 422 and again.json()["field"] == "payment_id"
        back = c.post("/api/v1/payments/P-API-1/reversal", json={"reason": "bounced"})
        assert back.status_code == 201
        assert c.get("/api/v1/loans/L1/statement").json()["total_due"] == 222727


def test_arrangements_and_promises_through_the_api(served: tuple[str, App, str, str]) -> None:
    url, _, _, writer = served
    with httpx.Client(base_url=url, headers=_h(writer)) as c:
        shown = c.post(
            "/api/v1/loans/L1/arrangements/preview", json={"kind": "extension", "days": 29}
        )
        assert shown.status_code == 200 and shown.json()["saving_to_borrower"] == -857
        made = c.post(
            "/api/v1/loans/L1/arrangements",
            json={"kind": "extension", "days": 40, "reason": "salary late"},
        )
        # 40 days is above what an integration may agree alone (30): a supervisor decides
        assert made.status_code == 201 and made.json()["status"] == "pending_approval"
        listed = c.get("/api/v1/loans/L1/arrangements").json()
        assert listed["total"] == 1 and listed["items"][0]["proposed_by"] == "api:core-banking"
        far = c.post(
            "/api/v1/loans/L1/promises",
            json={"parts": [{"due_on": "2026-04-01", "amount": 222727}]},
        )
        assert far.status_code == 422 and "14 days" in far.json()["detail"]
        ok = c.post(
            "/api/v1/loans/L1/promises",
            json={"parts": [{"due_on": "2026-02-25", "amount": 222727}]},
        )
        assert ok.status_code == 201
        assert c.get("/api/v1/loans/L1/promises").json()["items"][0]["made_by"] == "core-banking"
        kpis = c.get("/api/v1/kpis", params={"since": "2026-02-01", "until": "2026-02-19"})
        assert kpis.status_code == 200 and kpis.json()["ptp"]["due"] == 0


def test_ingest_through_the_api_all_or_nothing(served: tuple[str, App, str, str]) -> None:
    from tests.support.files import BORROWER, LOAN

    url, app, _, writer = served
    loan = {**LOAN, "loan_id": "L2", "borrower_id": "B2"}
    borrower = {**BORROWER, "borrower_id": "B2"}
    bad = {**loan, "loan_id": "L3", "principal": "lots"}
    with httpx.Client(base_url=url, headers=_h(writer)) as c:
        refused = c.post("/api/v1/ingest", json={"borrowers": [borrower], "loans": [loan, bad]})
        assert refused.status_code == 422
        errors = refused.json()["errors"]
        assert errors[0]["entity"] == "loans" and errors[0]["field"] == "principal"
        assert c.get("/api/v1/loans").json()["total"] == 1  # nothing was written
        done = c.post("/api/v1/ingest", json={"borrowers": [borrower], "loans": [loan]})
        assert done.status_code == 201 and done.json()["loaded"]["loans"] == 1
        assert (
            c.get("/api/v1/loans/L2/statement", params={"as_of": "2026-02-19"}).json()["total_due"]
            == 222727
        )
        empty = c.post("/api/v1/ingest", json={})
        assert empty.status_code == 422 and empty.json()["field"] == "body"


def test_no_server_error_on_any_documented_request(served: tuple[str, App, str, str]) -> None:
    """Schemathesis generates requests from the published document (valid and edge-case
    values, within and at the limits) for every operation; none may end in a 5xx."""
    url, _, _, writer = served
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 15

    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def one(case: schemathesis.Case) -> None:
            response = case.call(headers=_h(writer))
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} {case.body!r}: "
                f"{response.status_code} {response.text[:300]}"
            )

        one()


def test_money_dates_and_ids_are_strictly_typed(served: tuple[str, App, str, str]) -> None:
    """No coercion: true, "100", 100.0 and a Unix time are not amounts or dates; a payment above
    the payoff is refused unless the caller says it is an overpayment."""
    url, app, _, writer = served
    with httpx.Client(base_url=url, headers=_h(writer)) as c:
        for field, value in (
            ("amount", True),
            ("amount", "100"),
            ("amount", 100.0),
            ("amount", 1e400),
            ("loan_id", 1),
            ("paid_on", 1771466400),
            ("paid_on", "19/02/2026"),
        ):
            body: dict[str, Any] = {"loan_id": "L1", "amount": 100, field: value}
            r = (
                c.post("/api/v1/payments", json=body)
                if value != 1e400
                else c.post(
                    "/api/v1/payments",
                    content=b'{"loan_id": "L1", "amount": 1e400}',
                    headers={"Content-Type": "application/json"},
                )
            )
            assert r.status_code == 422, (field, value, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        huge = c.post("/api/v1/payments", json={"loan_id": "L1", "amount": 10**13})
        assert huge.status_code == 422 and huge.json()["field"] == "amount"
        assert "payoff" in huge.json()["detail"]
        payoff = c.get("/api/v1/loans/L1/statement").json()["outstanding_principal"]
        body = {"loan_id": "L1", "amount": 2 * payoff, "overpayment": True, "payment_id": "P-OVER"}
        over = c.post("/api/v1/payments", json=body)
        assert over.status_code == 201
        assert c.get("/api/v1/loans/L1/statement").json()["credit_balance"] > 0
    with app.engine.connect() as conn:
        assert conn.execute(select(t.payment.c.payment_id)).scalars().all() == ["P-OVER"]


def test_outcomes_are_recorded_with_ids_from_a_real_plan(
    served: tuple[str, App, str, str],
) -> None:
    """The plan's own action ids (business date, loan and step, joined by "~") are valid ids
    for every endpoint that takes one, in the URL as they are."""
    from arrears import ids
    from arrears.service.daily.cycle import run_cycle
    from arrears.strategy.model import load

    url, app, _, writer = served
    run_cycle(app, DAY, strategy=load("default"))
    with httpx.Client(base_url=url, headers=_h(writer)) as c:
        plan = c.get("/api/v1/plan", params={"day": DAY.isoformat(), "per_page": 100}).json()
        actions = [a["action_id"] for a in plan["items"]]
        calls = [a["action_id"] for a in plan["items"] if a["channel"] == "agent_call"]
        assert actions and calls and all(ids.valid(a) and "|" not in a for a in actions)
        r = c.post(
            f"/api/v1/actions/{calls[0]}/outcome",
            json={"collector_id": "C0007", "result": "no_answer"},
        )
        assert r.status_code == 201, r.text
        again = c.post(
            f"/api/v1/actions/{calls[0]}/outcome",
            json={"collector_id": "C0007", "result": "no_answer"},
        )
        assert again.status_code == 422  # worked once
        wrong = c.post(
            "/api/v1/actions/2026-02-19|L1|x/outcome",
            json={"collector_id": "C0007", "result": "no_answer"},
        )
        assert wrong.status_code == 422 and wrong.json()["field"] == "action_id"
