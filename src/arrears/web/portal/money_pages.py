"""The portal's pages that change the money: Pay (through a payment provider's hosted
checkout, the sandbox provider in development) and Arrange (a promise, an extension, a plan,
a hardship request: the effect first, then confirmed).

The provider adapter is a hosted checkout: the borrower is sent to ``ARREARS_PAY_CHECKOUT_URL``
with the order, the amount, where to come back and where to notify, signed by us
(``sig``: HMAC-SHA256 of the fields with ``ARREARS_PAY_SECRET``); the provider then posts the
result to ``/portal/pay/notify``, signed the way every provider callback is
(``X-Arrears-Timestamp``, ``X-Arrears-Signature``), and sends the borrower back. The sandbox
(``/sandbox/checkout``, mounted only in development and test) is such a provider: it checks
our signature, lets the borrower pay or decline, and posts the signed result over HTTP.

No ``from __future__ import annotations`` here: FastAPI reads the annotations at run time.
"""

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from arrears.bootstrap import App
from arrears.channels.http import signature
from arrears.service.borrower import checkout, portal, selfserve
from arrears.service.borrower.signin import Session
from arrears.service.errors import ServiceError
from arrears.settings import Env
from arrears.web.api.deps import problem
from arrears.web.api.webhooks import parse_body, signed
from arrears.web.portal.context import Portal, borrower, lang_of, mine
from arrears.web.refusals import refusal

FIELDS = ("order", "amount", "currency", "return", "notify")


def sign_fields(secret: str, fields: dict[str, str]) -> str:
    text = "&".join(f"{k}={fields[k]}" for k in FIELDS)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class HostedCheckout:
    """A payment provider's hosted checkout page, reached by a signed redirect."""

    def __init__(self, url: str, secret: str, name: str) -> None:
        self.url, self.secret, self.name = url, secret, name

    def redirect(self, order: checkout.Order, return_url: str, notify_url: str) -> str:
        fields = {
            "order": order.order_id,
            "amount": str(order.amount),
            "currency": order.currency,
            "return": return_url,
            "notify": notify_url,
        }
        return f"{self.url}?{urlencode({**fields, 'sig': sign_fields(self.secret, fields)})}"


def provider_of(app: App) -> HostedCheckout | None:
    """The configured provider; the sandbox when none is and this is not production."""
    s = app.settings
    secret = s.checkout_secret
    if s.pay_checkout_url and secret:
        return HostedCheckout(s.pay_checkout_url, secret, s.pay_provider)
    if s.env is Env.PRODUCTION or not secret:
        return None
    return HostedCheckout("/sandbox/checkout", secret, "sandbox")


def mount_money(api: FastAPI, app: App, p: Portal) -> None:
    r = APIRouter(include_in_schema=False)
    Who = Annotated[Session, Depends(borrower(app))]
    provider = provider_of(app)
    _pay(r, app, p, Who, provider)
    _notify(r, app, provider)
    _arrange(r, app, p, Who)
    if provider is not None and provider.name == "sandbox":
        _sandbox(r, app, p, provider)
    api.include_router(r)


def _pay(r: APIRouter, app: App, p: Portal, Who: Any, provider: HostedCheckout | None) -> None:
    def pay_page(
        request: Request, who: Session, loan_id: str, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        b = checkout.amount_bounds(app, loan_id)
        return p.render(
            request,
            "pay.html",
            status=status,
            session=who,
            loan_id=loan_id,
            least=b.least,
            most=b.most,
            due=b.due,
            provider=provider,
            **ctx,
        )

    @r.get("/portal/loan/{loan_id}/pay")
    def pay(request: Request, loan_id: str, who: Who) -> HTMLResponse:
        mine(app, who, loan_id)
        return pay_page(request, who, loan_id)

    @r.post("/portal/loan/{loan_id}/pay")
    def start(
        request: Request, loan_id: str, who: Who, amount: Annotated[str, Form(max_length=20)]
    ) -> Response:
        mine(app, who, loan_id)
        if provider is None:
            return pay_page(request, who, loan_id, status=503)
        try:
            order = checkout.start_order(
                app, loan_id, selfserve.to_fen(amount, "amount"), provider.name
            )
        except ServiceError as exc:
            return pay_page(
                request,
                who,
                loan_id,
                status=422,
                problem=refusal(exc, lang_of(request)),
                typed=amount,
            )
        base = app.settings.public_base  # configuration, never the request's Host header
        to = provider.redirect(
            order, f"{base}/portal/pay/return?order={order.order_id}", f"{base}/portal/pay/notify"
        )
        return RedirectResponse(to, status_code=303)

    @r.get("/portal/pay/return")
    def back(request: Request, order: str, who: Who) -> HTMLResponse:
        found = checkout.order_of(app, order)
        if found is None or not portal.owns(app, who.borrower_id, found.loan_id):
            raise HTTPException(404, "no such payment")
        from arrears.service.queries.loans import borrower_timezone

        follows = checkout.what_follows(app, found.loan_id) if found.status == "paid" else None
        tz = borrower_timezone(app, found.loan_id)
        return p.render(request, "paid.html", session=who, order=found, follows=follows, tz=tz)


def _notify(r: APIRouter, app: App, provider: HostedCheckout | None) -> None:
    def settle(headers: Mapping[str, str], body: bytes) -> Response:
        assert provider is not None
        checked = signed(app, provider.secret, headers, body)
        if isinstance(checked, Response):
            return checked
        data = parse_body(checked, None)
        if isinstance(data, Response):
            return data
        bad = _notify_fields(data)
        if bad:
            return problem(422, "invalid", bad, bad.split(":", 1)[0])
        try:
            done = checkout.complete_order(
                app,
                data["order_id"],
                status=data["status"],
                amount=data["amount"],
                provider_ref=str(data.get("provider_ref") or ""),
            )
        except ServiceError as exc:
            return problem(422, "invalid", str(exc), exc.field)
        return JSONResponse({"order_id": done.order_id, "status": done.status})

    @r.post("/portal/pay/notify")
    async def notify(request: Request) -> Response:
        if provider is None:
            return problem(404, "not found", "payments are not set up", None)
        body = await request.body()
        return await run_in_threadpool(settle, request.headers, body)


def _notify_fields(data: dict[str, Any]) -> str | None:
    """What is wrong with a payment callback's fields, strictly typed: the order id and status
    are strings, the amount an integer number of minor units (never 300.9, "300" or true)."""
    for name in ("order_id", "status"):
        if not isinstance(data.get(name), str) or not data[name]:
            return f"{name}: a non-empty string is required"
    amount = data.get("amount")
    if type(amount) is not int:
        return "amount: an integer number of minor units (fen) is required"
    ref = data.get("provider_ref")
    if ref is not None and not isinstance(ref, str):
        return "provider_ref: a string is required"
    return None


def _arrange(r: APIRouter, app: App, p: Portal, Who: Any) -> None:
    def page(
        request: Request, who: Session, loan_id: str, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        return p.render(
            request,
            "arrange.html",
            status=status,
            session=who,
            loan_id=loan_id,
            opts=selfserve.options(app, loan_id),
            **ctx,
        )

    @r.get("/portal/loan/{loan_id}/arrange")
    def arrange(request: Request, loan_id: str, who: Who) -> HTMLResponse:
        mine(app, who, loan_id)
        return page(request, who, loan_id)

    @r.post("/portal/loan/{loan_id}/arrange")
    async def ask(request: Request, loan_id: str, who: Who) -> HTMLResponse:
        from starlette.concurrency import run_in_threadpool

        form = {k: str(v)[:2000] for k, v in (await request.form()).items()}
        kind, step = form.get("kind", ""), form.get("step", "preview")

        def work() -> HTMLResponse:
            mine(app, who, loan_id)
            try:
                terms = selfserve.ask_of(kind, form)
                if step != "confirm":
                    eff = selfserve.preview(app, loan_id, kind, terms)
                    return page(
                        request, who, loan_id, chosen=kind, form=form, effect=eff, ready=True
                    )
                done = selfserve.arrange(app, who.borrower_id, loan_id, kind, terms)
            except ServiceError as exc:
                return page(
                    request,
                    who,
                    loan_id,
                    status=422,
                    chosen=kind,
                    form=form,
                    problem=refusal(exc, lang_of(request)),
                )
            return page(request, who, loan_id, chosen=kind, done=done)

        return await run_in_threadpool(work)


def _sandbox(r: APIRouter, app: App, p: Portal, provider: HostedCheckout) -> None:
    def fields_of(source: Any) -> dict[str, str]:
        fields = {k: str(source.get(k, "")) for k in FIELDS}
        if not hmac.compare_digest(
            str(source.get("sig", "")), sign_fields(provider.secret, fields)
        ):
            raise HTTPException(400, "the checkout link is not signed by the merchant")
        return fields

    @r.get("/sandbox/checkout")
    def show(request: Request) -> HTMLResponse:
        fields = fields_of(request.query_params)
        return p.render(
            request,
            "sandbox.html",
            fields=fields,
            sig=request.query_params["sig"],
            amount=int(fields["amount"]),
        )

    @r.post("/sandbox/checkout")
    def pay(
        request: Request,
        order: Annotated[str, Form()],
        amount: Annotated[str, Form()],
        currency: Annotated[str, Form()],
        sig: Annotated[str, Form()],
        notify: Annotated[str, Form()],
        choice: Annotated[str, Form()],
        back: Annotated[str, Form(alias="return")],
    ) -> Response:
        fields = fields_of(
            {
                "order": order,
                "amount": amount,
                "currency": currency,
                "return": back,
                "notify": notify,
                "sig": sig,
            }
        )
        body = json.dumps(
            {
                "order_id": fields["order"],
                "amount": int(fields["amount"]),
                "status": "paid" if choice == "pay" else "failed",
                "provider_ref": f"sbx-{uuid.uuid4().hex[:12]}",
            }
        ).encode()
        stamp = str(int(app.clock().timestamp()))
        headers = {
            "X-Arrears-Timestamp": stamp,
            "Content-Type": "application/json",
            "X-Arrears-Signature": signature(provider.secret, stamp, body),
        }
        answer = httpx.post(fields["notify"], content=body, headers=headers, timeout=30)
        if answer.status_code != 200:
            raise HTTPException(502, f"the merchant refused the notification: {answer.text}")
        return RedirectResponse(fields["return"], status_code=303)
