"""The integrations' endpoints under ``/api/v1`` (bearer tokens: ``read`` to look, ``write`` to
change). Each parses, calls one service function and maps its refusals to problem+json.
Lists are paginated (``page``, ``per_page``).

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations
(local to :func:`router`) at run time."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from arrears.bootstrap import App
from arrears.service.outreach.worklist import WorkItem
from arrears.service.queries.casework import ArrangementRow, ComplaintRow, PromiseRow
from arrears.service.queries.day_plan import PlanRow, RunRow
from arrears.service.queries.loans import LoanRow
from arrears.web.api.deps import (
    PROBLEMS,
    After,
    Caller,
    Day,
    PageDep,
    auth,
    keyset,
    page_of,
    service_call,
)
from arrears.web.api.models import (
    CONTROL,
    ActionId,
    ArrangementAsk,
    ArrangementCreate,
    ArrangementProposed,
    BotLine,
    ComplaintCreate,
    ComplaintFiled,
    Decision,
    Effect,
    Id,
    IngestBatch,
    Kpis,
    LineAnswer,
    Loaded,
    OutcomeCreate,
    OutcomeRecorded,
    PaymentCreate,
    PaymentPosted,
    PaymentReversed,
    PromiseCreate,
    PromiseMade,
    ReversalCreate,
    Statement,
    page_model,
)


def _plain_query(request: Request) -> None:
    """Every query parameter is text without control characters (422 naming it)."""
    for name, value in request.query_params.multi_items():
        if CONTROL.search(value) or CONTROL.search(name):
            raise HTTPException(
                422, f"{name}: holds a control character", headers={"X-Field": name}
            )


#: the most an ingest batch's body may be (counted as it streams)
MAX_INGEST_BODY = 64 * 1024 * 1024


#: JSON pointers into the responses that carry ids (for the links below)
FIRST = "$response.body#/items/0/"
LOAN = "$response.body#/loan_id"


def _link(
    operation_id: str, description: str, body: Any = None, **parameters: str
) -> dict[str, Any]:
    """An OpenAPI link (https://spec.openapis.org/oas/v3.1.0#link-object): where an id in a
    response leads (``parameters`` and ``body`` are runtime expressions or constants)."""
    link: dict[str, Any] = {"operationId": operation_id, "description": description}
    if parameters:
        link["parameters"] = parameters
    if body is not None:
        link["requestBody"] = body
    return link


def _links(status: int, **links: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entry adding ``links`` to the operation's own ``status`` response."""
    return {status: {"links": links}}


def _loan_links(loan: str) -> dict[str, dict[str, Any]]:
    """What a loan id leads to: its statement, promises and arrangements."""
    return {
        "statement": _link("get_statement", "The loan's statement", loan_id=loan),
        "promises": _link("list_promises", "The loan's promises to pay", loan_id=loan),
        "make_promise": _link("make_promise", "A promise to pay on the loan", loan_id=loan),
        "arrangements": _link("list_arrangements", "The loan's arrangements", loan_id=loan),
        "preview_arrangement": _link(
            "preview_arrangement", "An arrangement's effect", loan_id=loan
        ),
        "propose_arrangement": _link("propose_arrangement", "Propose an arrangement", loan_id=loan),
    }


def router(app: App) -> APIRouter:
    r = APIRouter(responses=PROBLEMS, dependencies=[Depends(_plain_query)])
    read = Annotated[Caller, Depends(auth(app, "read"))]
    write = Annotated[Caller, Depends(auth(app, "write"))]
    _ingest(r, app, write)
    _accounts(r, app, read, write)
    _cases(r, app, read, write)
    _operations(r, app, read, write)
    _cycle(r, app, read)
    return r


def _ingest(r: APIRouter, app: App, write: Any) -> None:
    loaded = _link(
        "get_statement", "A loan the batch loaded", loan_id="$request.body#/loans/0/loan_id"
    )

    @r.post(
        "/ingest",
        tags=["accounts"],
        status_code=201,
        max_body_size=MAX_INGEST_BODY,
        operation_id="ingest",
        response_model=Loaded,
        response_model_exclude_unset=True,
        responses=_links(201, statement=loaded),
        summary="Load portfolios, borrowers, contact points, loans, instalments and "
        "payments (upserted by the lender's ids; all or nothing)",
    )
    def ingest(_: write, body: IngestBatch) -> Any:
        import json
        import tempfile
        from pathlib import Path

        from arrears.service.daily.ingestion import ingest_files
        from arrears.store.ingest.loader import IngestRejected
        from arrears.store.ingest.readers import FileError

        given = {k: v for k, v in body.model_dump().items() if v}
        if not given:
            raise HTTPException(
                422, "body: give rows of at least one entity", headers={"X-Field": "body"}
            )
        with tempfile.TemporaryDirectory(prefix="arrears-api-") as folder:
            for name, rows in given.items():
                text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows)
                (Path(folder) / f"{name}.jsonl").write_text(text, encoding="utf-8")
            try:
                report = ingest_files(app, [Path(folder)])
            except IngestRejected as exc:
                first = exc.errors[0] if exc.errors else None
                return JSONResponse(
                    {
                        "type": "about:blank",
                        "title": "rejected",
                        "status": 422,
                        "detail": f"{exc}: {first}" if first else str(exc),
                        "field": first.column if first else None,
                        "errors": [
                            {
                                "entity": e.file.split(".")[0],
                                "row": e.row,
                                "field": e.column,
                                "reason": e.reason,
                            }
                            for e in exc.errors[:100]
                        ],
                    },
                    status_code=422,
                    media_type="application/problem+json",
                )
            except FileError as exc:
                raise HTTPException(422, str(exc), headers={"X-Field": "body"}) from exc
        return {"loaded": report.counts}


def _accounts(r: APIRouter, app: App, read: Any, write: Any) -> None:
    first = FIRST + "loan_id"
    pay_first = _link("post_payment", "A payment on the loan", {"loan_id": first})
    complain_first = _link(
        "file_complaint",
        "A complaint by the loan's borrower",
        {"borrower_id": FIRST + "borrower_id", "loan_id": first},
    )

    @r.get(
        "/loans",
        tags=["accounts"],
        summary="Loans, with their collection stage",
        operation_id="list_loans",
        response_model=page_model(LoanRow),
        response_model_exclude_unset=True,
        responses=_links(200, **_loan_links(first), pay=pay_first, complaint=complain_first),
    )
    def loans(
        _: read,
        p: PageDep,
        stage: Annotated[str | None, Query(max_length=24)] = None,
        portfolio_id: Annotated[str | None, Query(max_length=64)] = None,
        after: After = None,
    ) -> Any:
        from arrears.service.queries.loans import loan_listing

        found = loan_listing(
            app,
            stage=stage,
            portfolio_id=portfolio_id,
            limit=p.per_page,
            offset=p.offset,
            after=keyset(after, p),
        )
        return page_of(found.rows, found.total, p)

    pay_due = _link(
        "post_payment",
        "Pay what is due, on the statement's date",
        {
            "loan_id": LOAN,
            "amount": "$response.body#/total_due",
            "paid_on": "$response.body#/as_of",
        },
    )
    promise_due = _link(
        "make_promise",
        "Promise what is due, on the statement's date",
        {"parts": [{"due_on": "$response.body#/as_of", "amount": "$response.body#/total_due"}]},
        loan_id=LOAN,
    )
    preview_on = _link("preview_arrangement", "An arrangement's effect", loan_id=LOAN)

    @r.get(
        "/loans/{loan_id}/statement",
        tags=["accounts"],
        operation_id="get_statement",
        response_model=Statement,
        response_model_exclude_unset=True,
        responses=_links(
            200, pay=pay_due, make_promise=promise_due, preview_arrangement=preview_on
        ),
        summary="What the loan owes on a date and how every amount was computed",
    )
    def statement(_: read, loan_id: Id, as_of: Day | None = None) -> dict[str, Any]:
        from arrears.service.books.statements import statement_for_loan

        return service_call(lambda: statement_for_loan(app, loan_id, as_of or app.today()))

    paid = {
        "reversal": _link(
            "reverse_payment",
            "Reverse the payment (it bounced)",
            payment_id="$response.body#/payment_id",
        ),
        "statement": _link("get_statement", "The loan's statement after it", loan_id=LOAN),
        "promises": _link("list_promises", "The loan's promises (kept or not)", loan_id=LOAN),
    }

    @r.post(
        "/payments",
        tags=["payments"],
        status_code=201,
        operation_id="post_payment",
        response_model=PaymentPosted,
        response_model_exclude_unset=True,
        responses=_links(201, **paid),
        summary="Post a payment: allocated, and what it makes pointless cancelled",
    )
    def pay(_: write, body: PaymentCreate) -> dict[str, Any]:
        from arrears.service.cases.payments import post_payment

        done = service_call(
            lambda: post_payment(
                app,
                body.loan_id,
                body.amount,
                body.paid_on,
                payment_id=body.payment_id,
                source="api",
                overpayment=body.overpayment,
            )
        )
        return {
            "payment_id": done.payment_id,
            "loan_id": done.loan_id,
            "amount": done.amount,
            "paid_on": done.paid_on,
            "cancelled": done.cancelled,
            "promises_kept": done.promises_kept,
        }

    reversed_ = _link("get_statement", "The loan's statement after it", loan_id=LOAN)

    @r.post(
        "/payments/{payment_id}/reversal",
        tags=["payments"],
        status_code=201,
        operation_id="reverse_payment",
        response_model=PaymentReversed,
        response_model_exclude_unset=True,
        responses=_links(201, statement=reversed_),
        summary="Reverse a bounced payment and restore what it changed",
    )
    def reverse(_: write, payment_id: Id, body: ReversalCreate) -> dict[str, Any]:
        from arrears.service.cases.payments import reverse_payment

        done = service_call(lambda: reverse_payment(app, payment_id, body.reason))
        return {"payment_id": done.payment_id, "loan_id": done.loan_id, "restored": done.restored}


def _cases(r: APIRouter, app: App, read: Any, write: Any) -> None:
    promised = {
        "promises": _link("list_promises", "The loan's promises", loan_id=LOAN),
        "statement": _link("get_statement", "The loan's statement", loan_id=LOAN),
    }
    on_path = "$request.path.loan_id"
    previewed = _link(
        "propose_arrangement", "Propose the arrangement previewed", "$request.body", loan_id=on_path
    )
    proposed = {
        "arrangements": _link("list_arrangements", "The loan's arrangements", loan_id=on_path),
        "statement": _link("get_statement", "The loan's statement", loan_id=on_path),
    }

    @r.post(
        "/loans/{loan_id}/promises",
        tags=["cases"],
        status_code=201,
        operation_id="make_promise",
        response_model=PromiseMade,
        response_model_exclude_unset=True,
        responses=_links(201, **promised),
        summary="A promise to pay, in one or several parts",
    )
    def promise(caller: write, loan_id: Id, body: PromiseCreate) -> dict[str, Any]:
        from arrears.service.cases.promises import Part, make_promise

        parts = [Part(x.due_on, x.amount) for x in body.parts]
        ids = service_call(
            lambda: make_promise(
                app, loan_id, parts, source=body.source, made_by=body.made_by or caller.name
            )
        )
        return {"loan_id": loan_id, "parts": ids}

    @r.get(
        "/loans/{loan_id}/promises",
        tags=["cases"],
        summary="A loan's promises to pay",
        operation_id="list_promises",
        response_model=page_model(PromiseRow),
        response_model_exclude_unset=True,
    )
    def promises(_: read, loan_id: Id, p: PageDep) -> Any:
        from arrears.service.queries.casework import promise_listing

        found = promise_listing(app, loan_id, limit=p.per_page, offset=p.offset)
        return page_of(found.rows, found.total, p)

    @r.post(
        "/loans/{loan_id}/arrangements/preview",
        tags=["cases"],
        operation_id="preview_arrangement",
        response_model=Effect,
        response_model_exclude_unset=True,
        responses=_links(200, propose=previewed),
        summary="The effect of an arrangement, before anyone accepts it",
    )
    def preview(_: read, loan_id: Id, body: ArrangementAsk) -> dict[str, Any]:
        from arrears.service.cases.arrangements import preview as effect

        return service_call(lambda: effect(app, loan_id, body.kind, body.ask()))

    @r.post(
        "/loans/{loan_id}/arrangements",
        tags=["cases"],
        status_code=201,
        operation_id="propose_arrangement",
        response_model=ArrangementProposed,
        response_model_exclude_unset=True,
        responses=_links(201, **proposed),
        summary="Propose an arrangement (agreed at once within the API's limits, else it "
        "waits for a supervisor)",
    )
    def propose(caller: write, loan_id: Id, body: ArrangementCreate) -> dict[str, Any]:
        from arrears.service.cases.arrangements import propose as make

        done = service_call(
            lambda: make(
                app,
                loan_id,
                body.kind,
                body.ask(),
                by=f"api:{caller.name}",
                role="api",
                reason=body.reason,
            )
        )
        return {"arrangement_id": done.arrangement_id, "status": done.status, "effect": done.effect}

    @r.get(
        "/loans/{loan_id}/arrangements",
        tags=["cases"],
        summary="A loan's arrangements",
        operation_id="list_arrangements",
        response_model=page_model(ArrangementRow),
        response_model_exclude_unset=True,
    )
    def arrangements(_: read, loan_id: Id, p: PageDep) -> Any:
        from arrears.service.queries.casework import arrangement_listing

        found = arrangement_listing(app, loan_id, limit=p.per_page, offset=p.offset)
        return page_of(found.rows, found.total, p)

    @r.post(
        "/complaints",
        tags=["cases"],
        status_code=201,
        operation_id="file_complaint",
        response_model=ComplaintFiled,
        response_model_exclude_unset=True,
        summary="A complaint taken by an integration (source api)",
    )
    def complain(_: write, body: ComplaintCreate) -> dict[str, Any]:
        from arrears.service.cases.complaints import file_complaint

        cid = service_call(
            lambda: file_complaint(
                app,
                borrower_id=body.borrower_id,
                loan_id=body.loan_id,
                category=body.category,
                description=body.description,
                source="api",
                attempt_ids=body.attempt_ids,
            )
        )
        return {"complaint_id": cid}

    complained = _link(
        "file_complaint",
        "Another complaint by the borrower",
        {"borrower_id": FIRST + "borrower_id"},
    )

    @r.get(
        "/complaints",
        tags=["cases"],
        summary="Complaints, newest first",
        operation_id="list_complaints",
        response_model=page_model(ComplaintRow),
        response_model_exclude_unset=True,
        responses=_links(200, complaint=complained),
    )
    def complaints(
        _: read,
        p: PageDep,
        status: Literal["open", "escalated", "resolved"] | None = None,
    ) -> Any:
        from arrears.service.queries.casework import complaint_listing

        found = complaint_listing(app, status=status, limit=p.per_page, offset=p.offset)
        return page_of(found.rows, found.total, p)


def _operations(r: APIRouter, app: App, read: Any, write: Any) -> None:
    @r.post(
        "/compliance/check",
        tags=["compliance"],
        operation_id="check_compliance",
        response_model=Decision,
        response_model_exclude_unset=True,
        summary="Would this contact attempt be allowed? (the gate's decision)",
    )
    def check(
        _: read,
        body: dict[str, Any],
        rulebook: Annotated[str, Query(pattern="^(cn|us-regf)$")] = "cn",
        locale: Annotated[str, Query(pattern="^(en|zh-CN)$")] = "en",
    ) -> dict[str, Any]:
        from arrears.compliance.gate import check as decide
        from arrears.compliance.rulebook import load
        from arrears.compliance.wire import decision_to_dict, request_from_dict
        from arrears.domain.codec import FieldError
        from arrears.service.errors import Invalid

        def run() -> dict[str, Any]:
            try:
                req = request_from_dict(body)
            except (FieldError, ValueError, TypeError, KeyError) as exc:
                raise Invalid(str(exc), field=getattr(exc, "field", None)) from exc
            return decision_to_dict(decide(req, load(rulebook)), locale)

        return service_call(run)

    listed = {
        "outcome": _link(
            "record_outcome", "Record the item's outcome", action_id=FIRST + "action_id"
        ),
        "statement": _link(
            "get_statement", "The item's loan's statement", loan_id=FIRST + "loan_id"
        ),
    }

    @r.get(
        "/queues/{queue}/items",
        tags=["work"],
        operation_id="list_queue_items",
        response_model=page_model(WorkItem),
        response_model_exclude_unset=True,
        responses=_links(200, **listed),
        summary="A queue's planned items for a day, highest priority first",
    )
    def queue_items(_: read, queue: Id, p: PageDep, day: Day | None = None) -> Any:
        from arrears.service.outreach.worklist import items
        from arrears.service.queries.day_plan import planned_in_queue

        when = day or app.today()
        rows = service_call(lambda: items(app, queue, when, limit=p.per_page, offset=p.offset))
        return page_of([vars(x) for x in rows], planned_in_queue(app, queue, when), p)

    @r.post(
        "/actions/{action_id}/outcome",
        tags=["work"],
        status_code=201,
        operation_id="record_outcome",
        response_model=OutcomeRecorded,
        response_model_exclude_unset=True,
        summary="The outcome of a worked call or visit (the note is checked by the lexicon)",
    )
    def outcome(_: write, action_id: ActionId, body: OutcomeCreate) -> dict[str, Any]:
        from arrears.service.conduct.dispositions import Wrap
        from arrears.service.conduct.outcomes import record_outcome

        attempt = service_call(
            lambda: record_outcome(
                app,
                action_id,
                collector_id=body.collector_id,
                result=body.result,
                note=body.note,
                wrap=Wrap(body.disposition, body.reason, body.call_back_at),
            )
        )
        return {"attempt_id": attempt}

    @r.post(
        "/calls/{reference}/lines",
        tags=["work"],
        operation_id="screen_bot_line",
        response_model=LineAnswer,
        summary="Live interception: may a bot say this line now? A prohibited line stops the call",
    )
    def bot_line(_: write, reference: ActionId, body: BotLine) -> dict[str, Any]:
        from arrears.service.conduct.interception import line

        said = service_call(lambda: line(app, reference, body.text))
        return vars(said)


def _cycle(r: APIRouter, app: App, read: Any) -> None:
    planned = {
        "outcome": _link(
            "record_outcome", "Record a worked action's outcome", action_id=FIRST + "action_id"
        ),
        "queue": _link(
            "list_queue_items",
            "The action's queue that day",
            queue=FIRST + "queue",
            day="$request.query.day",
        ),
        "statement": _link(
            "get_statement", "The action's loan's statement", loan_id=FIRST + "loan_id"
        ),
    }
    ran = _link("get_plan", "The plan the run made", day=FIRST + "business_date")

    @r.get(
        "/plan",
        tags=["cycle"],
        summary="The day's planned actions",
        operation_id="get_plan",
        response_model=page_model(PlanRow),
        response_model_exclude_unset=True,
        responses=_links(200, **planned),
    )
    def plan(
        _: read,
        p: PageDep,
        day: Day | None = None,
        status: Annotated[str | None, Query(max_length=16)] = None,
        channel: Annotated[str | None, Query(max_length=16)] = None,
        after: After = None,
    ) -> Any:
        from arrears.service.queries.day_plan import plan_listing

        found = plan_listing(
            app,
            day or app.today(),
            status=status,
            channel=channel,
            limit=p.per_page,
            offset=p.offset,
            after=keyset(after, p),
        )
        return page_of(found.rows, found.total, p)

    @r.get(
        "/runs",
        tags=["cycle"],
        summary="The cycle's run history, newest first",
        operation_id="list_runs",
        response_model=page_model(RunRow),
        response_model_exclude_unset=True,
        responses=_links(200, plan=ran),
    )
    def runs(_: read, p: PageDep) -> Any:
        from arrears.service.queries.day_plan import run_listing

        found = run_listing(app, limit=p.per_page, offset=p.offset)
        return page_of(found.rows, found.total, p)

    @r.get(
        "/kpis",
        tags=["cycle"],
        summary="The portfolio's measures over a period",
        operation_id="get_kpis",
        response_model=Kpis,
        response_model_exclude_unset=True,
    )
    def kpis(_: read, since: Day | None = None, until: Day | None = None) -> dict[str, Any]:
        from arrears.service.staff.kpis import measures

        end = until or app.today()
        return service_call(
            lambda: measures(app, since or date.fromordinal(end.toordinal() - 30), end)
        )


__all__ = ["router", "datetime"]
