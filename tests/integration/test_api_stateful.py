"""Schemathesis in stateful mode over real HTTP (SQLite and PostgreSQL): the state machine
follows the published document's OpenAPI links, so the ids a response gives (a loan from the
list, a payment just posted, an action of the day's plan) are fed to the operations that take
them, and sequences of calls (pay, reverse, look at the statement, record a call's outcome ...)
run against one store. None may end in a server error, and the run must have used real ids."""

from __future__ import annotations

import logging
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.stateful import Bundle
from schemathesis import Case
from schemathesis.core import NotSet
from schemathesis.core.transport import Response
from schemathesis.generation.meta import TestPhase
from schemathesis.generation.stateful.state_machine import StepInput
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.stateful import OpenAPIStateMachine, is_root_allowed, transition

from arrears.bootstrap import App
from arrears.compliance.facts import RESULTS
from arrears.service.daily.cycle import run_cycle
from arrears.service.staff.users import create_token
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from arrears.web.app import create_app
from tests.support.files import readme_loan_files
from tests.support.servers import serve_asgi

DAY = date(2026, 2, 19)
NOW = datetime(2026, 2, 19, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
LOANS = "GET /api/v1/loans"
STATEMENT = "GET /api/v1/loans/{loan_id}/statement"
PAY = "POST /api/v1/payments"
REVERSAL = "POST /api/v1/payments/{payment_id}/reversal"
OUTCOME = "POST /api/v1/actions/{action_id}/outcome"
#: the linked calls the run must have made with real ids, and the path parameter of each
MUST_REACH = {STATEMENT: "loan_id", REVERSAL: "payment_id", OUTCOME: "action_id"}
#: at least SCENARIOS scenarios of up to STEPS calls each, drawn CHUNK at a time; more (up to
#: BUDGET seconds) until every chain of MUST_REACH was followed
SCENARIOS, STEPS, CHUNK, BUDGET = 120, 20, 30, 150.0

log = logging.getLogger(__name__)


@pytest.fixture
def planned(app: App, tmp_path: Path) -> Iterator[tuple[str, App, str]]:
    """The README's loan, its plan for the day (so GET /plan lists real action ids) and a
    token with both scopes, served on loopback."""
    ingest(app.engine, app.cipher, [readme_loan_files(tmp_path / "in")], clock=lambda: NOW)
    app.clock = lambda: NOW
    run_cycle(app, DAY, strategy=load("default"))
    writer = create_token(app, "core-banking", ["read", "write"])
    with serve_asgi(create_app(app)) as url:
        yield url, app, writer


@dataclass
class Seen:
    """What the run did: calls and statuses, the server errors, and the calls that followed a
    link and reached a real object (their ids, by operation; their count, by link)."""

    scenarios: int = 0
    restarts: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    followed: Counter[str] = field(default_factory=Counter)
    reached: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    real: dict[str, set[str]] = field(default_factory=dict)

    def summary(self) -> str:
        ids = {label: sorted(values) for label, values in self.real.items()}
        return (
            f"{self.scenarios} scenarios ({self.restarts} restarts), "
            f"{sum(self.calls.values())} calls, statuses {dict(sorted(self.statuses.items()))}; "
            f"{sum(self.followed.values())} calls followed a link, "
            f"{sum(self.reached.values())} of them reached a real object: {ids}; "
            f"by link {dict(self.reached.most_common())}; "
            f"followed but not reached, by link and status {dict(self.missed.most_common())}"
        )


def _call(case: Case[Any]) -> str:
    """A call as the failure shows it: method, path, query and JSON body."""
    body = "" if isinstance(case.body, NotSet) else f" body={case.body!r}"
    return f"{case.method} {case.formatted_path} query={case.query or {}!r}{body}"


def _reached(label: str, response: Response) -> bool:
    """Did the call find the object its path names (a 2xx; for an outcome, also a refusal
    because the action was worked or cancelled already; for a reversal, because the payment
    was reversed already)?"""
    if 200 <= response.status_code < 300:
        return True
    if label not in (OUTCOME, REVERSAL) or response.status_code != 422:
        return False
    try:
        detail = str(response.json().get("detail", ""))
    except ValueError:
        return False
    if label == REVERSAL:
        return detail.startswith("payment_id: ") and " was reversed on " in detail
    return detail.startswith("action ") and ": already " in detail


class Checked(OpenAPIStateMachine):
    """Mixed into the document's state machine: every call with the token, every response
    noted, and two checks: no server error, and every answer as the document describes it
    (the body of a success against the endpoint's response model, of a refusal against
    Problem)."""

    token: ClassVar[str]
    seen: ClassVar[Seen]

    def setup(self) -> None:
        self.seen.scenarios += 1

    def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {self.token}"}}

    def _linked(self, case: Case[Any]) -> str | None:
        """The document's link the call followed, if it used a value from the earlier response
        (not a link Schemathesis inferred: the document's own links are under test)."""
        node = self.recorder.cases.get(case.id)
        if node is None or node.transition is None or not node.is_transition_applied:
            return None
        return None if node.transition.is_inferred else node.transition.id

    def before_call(self, case: Case[Any]) -> None:
        # an outcome's result is a free string in the document, checked against a code list by
        # the service: with a plan's real action id, give one of the codes (picked by the
        # generated string) so the call gets as far as the action
        # a payment along a link: a small amount on the linked loan (a generated amount is
        # mostly above what the loan owes, or dated in the future), so that the payment
        # posts and its reversal link has a real payment to follow; a reversal along a link:
        # a reason with words in it. Calls not along a link keep what was generated.
        body = case.body
        if not isinstance(body, dict) or not self._linked(case):
            return
        pick = zlib.crc32(repr(sorted(body.items(), key=str)).encode())
        label = case.operation.label
        if label == OUTCOME and body.get("result") not in RESULTS:
            body["result"] = RESULTS[pick % len(RESULTS)]
        elif label == PAY:
            for key in ("paid_on", "payment_id", "overpayment"):
                body.pop(key, None)
            body["amount"] = 100 + pick % 5_000
        elif label == REVERSAL:
            body["reason"] = "bounced"

    def after_call(self, response: Response, case: Case[Any]) -> None:
        super().after_call(response, case)
        label = case.operation.label
        self.seen.calls[label] += 1
        self.seen.statuses[response.status_code] += 1
        link = self._linked(case)
        if link is None:
            return
        self.seen.followed[link] += 1
        if not _reached(label, response):
            self.seen.missed[f"{link} [{response.status_code}]"] += 1
        else:
            self.seen.reached[link] += 1
            if label in MUST_REACH:
                value = str(case.path_parameters[MUST_REACH[label]])
                self.seen.real.setdefault(label, set()).add(value)

    def validate_response(
        self, response: Response, case: Case[Any], *args: Any, **kwargs: Any
    ) -> None:
        failure = self._server_error(response, case) or self._nonconforming(response, case)
        if failure is None:
            return
        calls = "\n".join(
            f"  {_call(n.value)} -> {r.status_code if r is not None else '?'}"
            for i, n in self.recorder.cases.items()
            for r in [self.recorder.find_response(case_id=i)]
        )
        failure = f"{failure}\nthe scenario's calls, in order:\n{calls}"
        self.seen.server_errors.append(failure)
        raise AssertionError(failure)

    @staticmethod
    def _server_error(response: Response, case: Case[Any]) -> str | None:
        if response.status_code < 500:
            return None
        return f"{_call(case)}: {response.status_code} {response.text[:500]}"

    @staticmethod
    def _nonconforming(response: Response, case: Case[Any]) -> str | None:
        try:
            case.validate_response(response, checks=[response_schema_conformance])
        except Exception as exc:  # schemathesis' FailureGroup: the body against the document
            return f"{_call(case)}: {response.status_code} not as documented: {exc}"
        return None


def state_machine(schema: Any, token: str, seen: Seen) -> type[OpenAPIStateMachine]:
    """The document's state machine with :class:`Checked` mixed in."""
    base: type[OpenAPIStateMachine] = schema.as_state_machine()
    extra: dict[str, Any] = {"token": token, "seen": seen}
    # GET /loans starts most chains (a loan's id for its statement, a payment, a promise ...)
    # but Schemathesis does not start scenarios with it (its optional portfolio_id filter looks
    # like the id of something no operation makes): add it as a root, as Schemathesis would
    method, path = LOANS.split(" ")
    loans = schema[path][method]
    if loans.label not in base._root_labels:
        name = "RANDOM__GET_api_v1_loans"
        extra[name] = transition(
            name=name,
            target=Bundle("catch_all"),
            input=loans.as_strategy(phase=TestPhase.STATEFUL).map(StepInput.initial),
            precondition=is_root_allowed(loans.label),
        )
        extra["root_rules"] = base.root_rules | {name}
        extra["_root_labels"] = base._root_labels | {loans.label}
    return type("Workflow", (Checked, base), extra)


def explore(machine: type[OpenAPIStateMachine], seen: Seen) -> None:
    """Run the state machine CHUNK scenarios at a time: SCENARIOS at least, then on until
    every chain of MUST_REACH was followed; stop at a server error or after BUDGET seconds."""
    ends = time.monotonic() + BUDGET
    while time.monotonic() < ends and not seen.server_errors:
        if seen.scenarios >= SCENARIOS and not _missing(seen):
            return
        run = settings(
            max_examples=CHUNK,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            # each chunk draws new scenarios: with derandomize (Hypothesis' "ci" profile, loaded
            # when CI is set) every chunk repeated the first chunk's scenarios, so a chain the
            # first chunk missed was never followed however long the run went on
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            # no shrinking: the store keeps what earlier scenarios did, so a shrunk sequence
            # would not meet the same state; a failure is reported as it happened
            phases=[Phase.generate],
        )
        try:
            machine.run(settings=run)
        except (Flaky, Unsatisfiable, AssertionError) as exc:
            # a server error is in seen.server_errors (asserted by the caller), whatever
            # Hypothesis made of it; else the store made a replayed prefix go another way
            # (Hypothesis' data tree calls that flaky) or no scenario could be drawn: start a
            # new run, as Schemathesis' own runner does
            if isinstance(exc, AssertionError) and not (seen.server_errors or _replay(exc)):
                raise
            seen.restarts += 1


def test_no_server_error_along_linked_operations(planned: tuple[str, App, str]) -> None:
    """Chains of calls with real ids (list loans -> statement -> pay -> reverse; plan ->
    queue -> outcome ...), generated from the document's links: no 5xx, every body as the
    document says, and the run did reach
    a real statement, a real reversal and a real plan action through links."""
    url, _, writer = planned
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    seen = Seen()
    explore(state_machine(schema, writer, seen), seen)
    log.info("stateful run: %s", seen.summary())
    if seen.server_errors:  # Hypothesis replays the failing scenario: the same error twice
        pytest.fail(
            "server error or an answer not as documented:\n"
            + "\n\n".join(dict.fromkeys(seen.server_errors))
        )
    missing = _missing(seen)
    assert not missing, f"no linked call with a real id reached {missing}: {seen.summary()}"
    assert seen.calls[LOANS] and seen.calls[PAY], seen.summary()


def _missing(seen: Seen) -> list[str]:
    """The operations of MUST_REACH no linked call reached yet."""
    return [label for label in MUST_REACH if not seen.real.get(label)]


def _replay(exc: BaseException) -> bool:
    """Did Hypothesis' data tree assert (a replay drew past where an earlier run stopped)?"""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__")).startswith("hypothesis.")
