"""No NUL in what a request says: a query string or a form or JSON body that carries a NUL
(raw, ``%00`` or ``\\u0000``) is refused with 422 before any of it reaches the store
(PostgreSQL cannot hold NUL in text, and no name, reason, id or note has one).

Bodies are inspected as they stream, chunk by chunk (no buffering; the body limits still
apply); multipart bodies are left alone (an evidence photo holds NUL bytes), their text fields
are checked where they are read."""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_QUERY = re.compile(rb"%00|\x00", re.IGNORECASE)
#: how a NUL is written in each kind of text body
_BODIES = {
    b"application/json": re.compile(rb"\x00|\\u0000", re.IGNORECASE),
    b"application/x-www-form-urlencoded": re.compile(rb"%00|\x00"),
    b"text/": re.compile(rb"\x00"),
}


class NoNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _QUERY.search(scope.get("query_string", b"")):
            await _refuse(send, "the query string holds a NUL character")
            return
        kind = dict(scope.get("headers", [])).get(b"content-type", b"").lower()
        nul = next((p for k, p in _BODIES.items() if kind.startswith(k)), None)
        if nul is None:
            await self.app(scope, receive, send)
            return
        tail = b""

        async def checked() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = tail + message.get("body", b"")
                if nul.search(chunk):
                    raise HTTPException(
                        422, "body: holds a NUL character", headers={"X-Field": "body"}
                    )
                tail = chunk[-5:]
            return message

        await self.app(scope, checked, send)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def refuse_control_fields(form: Any) -> None:
    """A form's text fields hold no control characters (multipart forms are not inspected as
    they stream: their files may; their words may not): 422 naming the field."""
    for name, value in form.multi_items():
        if isinstance(value, str) and _CONTROL.search(value):
            raise HTTPException(
                422, f"{name}: holds a control character", headers={"X-Field": str(name)}
            )


async def _refuse(send: Send, detail: str, status: int = 422, field: str = "query") -> None:
    import json

    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "invalid",
        "status": status,
        "detail": detail,
        "field": field,
    }
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(raw)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class Hardened:
    """Every response says ``X-Content-Type-Options: nosniff`` (a download is never run as a
    page), and a body refused for its size (413) on the API is problem+json like every other
    API error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        api = path.startswith("/api/") or path == "/portal/pay/notify"  # what providers call
        swallow = False

        async def sending(message: Message) -> None:
            nonlocal swallow
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"x-content-type-options"
                ]
                headers.append((b"x-content-type-options", b"nosniff"))
                kind = dict(headers).get(b"content-type", b"")
                if api and message["status"] == 413 and not kind.startswith(b"application/"):
                    swallow = True
                    await _refuse(send, "body: larger than this endpoint takes", 413, "body")
                    return
                message = {**message, "headers": headers}
            elif swallow:
                return
            await send(message)

        await self.app(scope, receive, sending)
