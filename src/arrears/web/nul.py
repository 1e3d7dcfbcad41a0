"""No NUL in what a request says: a query string or a form or JSON body that carries a NUL
(raw, ``%00`` or ``\\u0000``) is refused with 422 before any of it reaches the store
(PostgreSQL cannot hold NUL in text, and no name, reason, id or note has one).

Bodies are inspected as they stream, chunk by chunk (no buffering; the body limits still
apply); multipart bodies are left alone (an evidence photo holds NUL bytes), their text fields
are checked where they are read."""

from __future__ import annotations

import re
from typing import Any

from starlette.exceptions import HTTPException
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
                    raise HTTPException(422, "body: holds a NUL character",
                                        headers={"X-Field": "body"})  # fmt: skip
                tail = chunk[-5:]
            return message

        await self.app(scope, checked, send)


async def _refuse(send: Send, detail: str) -> None:
    import json

    body: dict[str, Any] = {"type": "about:blank", "title": "invalid", "status": 422,
                            "detail": detail, "field": "query"}  # fmt: skip
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(raw)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": raw})
