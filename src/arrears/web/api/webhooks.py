"""The providers' webhooks under ``/api/v1/webhooks``, each signed.

A provider signs every callback with the shared secret (``ARREARS_WEBHOOK_SECRET``):
``X-Arrears-Timestamp`` is the Unix time of sending and ``X-Arrears-Signature`` is
``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<raw body>``. A missing or wrong signature,
or a timestamp more than five minutes away, is refused (401) before the body is read as JSON,
so a replayed or forged callback changes nothing. Errors are ``application/problem+json`` and
name the field at fault.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from arrears.bootstrap import App
from arrears.channels.http import signature
from arrears.parsing import ParseLimit, load_json
from arrears.service.errors import Invalid, ServiceError
from arrears.service.outreach import callbacks
from arrears.web.api.deps import problem

TOLERANCE_SECONDS = 300
#: how deeply a webhook's JSON may nest (a provider's callback is a flat object)
MAX_DEPTH = 16


class SmsReceipt(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=128)
    status: str = Field(min_length=1, max_length=32)
    detail: str | None = None


class EmailEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    message_id: str = Field(min_length=1, max_length=200)
    event: str
    detail: str | None = None


_STAMP = re.compile(r"[0-9]{1,12}")


def signed(app: App, secret: str, headers: Mapping[str, str], body: bytes) -> bytes | JSONResponse:
    """``body`` if its request is correctly signed and fresh; or the problem with it."""
    stamp = headers.get("X-Arrears-Timestamp", "")
    given = headers.get("X-Arrears-Signature", "")
    if not _STAMP.fullmatch(stamp):  # ASCII digits only, a sane length: never int("١"*9999)
        return problem(
            401, "unsigned", "X-Arrears-Timestamp: missing or not a number", "X-Arrears-Timestamp"
        )
    if abs(app.clock().timestamp() - int(stamp)) > TOLERANCE_SECONDS:
        return problem(
            401, "stale", "X-Arrears-Timestamp: more than 5 minutes away", "X-Arrears-Timestamp"
        )
    if not hmac.compare_digest(given.encode(), signature(secret, stamp, body).encode()):
        return problem(
            401, "bad signature", "X-Arrears-Signature: does not match", "X-Arrears-Signature"
        )
    return body


def parse_body(body: bytes, model: type[BaseModel] | None) -> Any:
    """The body as ``model`` (a JSON object when None), or the problem with it. Read within
    :mod:`arrears.parsing`'s limits (depth, size, no NaN or infinities)."""
    try:
        data = load_json(body or b"{}", "body", max_depth=MAX_DEPTH)
        if model is None:
            if not isinstance(data, dict):
                return problem(422, "invalid", "body: expected an object", "body")
            return data
        return model.model_validate(data, strict=True)
    except ParseLimit as exc:
        return problem(422, "not JSON", str(exc), "body")
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"]) or "body"
        return problem(422, "invalid", f"{where}: {e['msg']}", where)


def _run(call: Callable[[], dict[str, Any]]) -> JSONResponse:
    try:
        return JSONResponse(call())
    except callbacks.UnknownReference as exc:
        return problem(404, "unknown reference", str(exc), exc.field)
    except ServiceError as exc:
        return problem(422, "invalid", str(exc), exc.field)


def _sms(app: App, r: SmsReceipt) -> dict[str, Any]:
    return {"delivery": callbacks.sms_receipt(app, r.id, r.status, r.detail)}


def _email(app: App, r: EmailEvent) -> dict[str, Any]:
    return {"delivery": callbacks.email_event(app, r.message_id, r.event, r.detail)}


def _dialer(app: App, event: dict[str, Any]) -> dict[str, Any]:
    from arrears.service.conduct.calls import dialer_webhook

    return dialer_webhook(app, event)


def _asr(app: App, body: dict[str, Any]) -> dict[str, Any]:
    from arrears.service.conduct.inspection import asr_result

    return asr_result(app, body)


HOOKS: dict[str, tuple[str, type[BaseModel] | None, Callable[[App, Any], dict[str, Any]]]] = {
    "sms": ("An SMS gateway's delivery receipt", SmsReceipt, _sms),
    "email": ("An email's delivery, bounce or complaint", EmailEvent, _email),
    "dialer": ("A dialer's call status, keypad outcome or recording", None, _dialer),
    "asr": ("A speech-recognition job's result (a call's transcript)", None, _asr),
}


def _hook(
    app: App, secret: str, model: type[BaseModel] | None, act: Callable[[App, Any], dict[str, Any]]
) -> Callable[[Request], Any]:
    def work(headers: Mapping[str, str], body: bytes) -> JSONResponse:
        checked = signed(app, secret, headers, body)
        if isinstance(checked, JSONResponse):
            return checked
        parsed = parse_body(checked, model)
        if isinstance(parsed, JSONResponse):
            return parsed
        return _run(lambda: act(app, parsed))

    async def hook(request: Request) -> Any:
        body = await request.body()  # bounded as it streams (the app's max_body_size)
        # checking, parsing and acting run in the threadpool, never on the event loop
        return await run_in_threadpool(work, request.headers, body)

    return hook


def _mapped_sms(fields: dict[str, str]) -> Callable[[App, Any], dict[str, Any]]:
    """The SMS receipt in the gateway's own field names (the sms profile's ``receipt``)."""

    def act(app: App, data: dict[str, Any]) -> dict[str, Any]:
        got = {}
        for ours in ("id", "status"):
            theirs = fields.get(ours, ours)
            value = data.get(theirs)
            if value in (None, ""):
                raise Invalid(f"{theirs}: missing", field=str(theirs))
            got[ours] = str(value)
        said = data.get(fields.get("detail", "detail"))
        detail = None if said is None else str(said)
        return {"delivery": callbacks.sms_receipt(app, got["id"], got["status"], detail)}

    return act


def add_webhooks(
    api: FastAPI, app: App, secret: str, sms_receipt: dict[str, str] | None = None
) -> None:
    """Mount the webhooks; ``sms_receipt`` maps the receipt's fields (id, status, detail) to the
    names the SMS gateway uses (``{"id": "msgId", "status": "stat"}``); ours by default."""
    if not secret:
        raise ValueError("ARREARS_WEBHOOK_SECRET is not set: webhooks cannot be checked")
    hooks = dict(HOOKS)
    if sms_receipt:
        hooks["sms"] = (HOOKS["sms"][0], None, _mapped_sms(sms_receipt))
    for name, (summary, model, act) in hooks.items():
        api.add_api_route(
            f"/api/v1/webhooks/{name}",
            _hook(app, secret, model, act),
            methods=["POST"],
            summary=summary,
            tags=["webhooks"],
        )
