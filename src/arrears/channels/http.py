"""A JSON POST to a provider, its failures sorted into worth-retrying and final."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

from arrears.channels.base import SendFailed

#: client errors that may pass later (the rest of 4xx never will)
RETRYABLE = frozenset({408, 425, 429})


def headers(key: str, token: str | None, auth_header: str = "Authorization") -> dict[str, str]:
    """The idempotency key, and the token as a bearer token (or as is, in another header)."""
    out = {"Idempotency-Key": key}
    if token:
        out[auth_header] = f"Bearer {token}" if auth_header == "Authorization" else token
    return out


def post(
    client: httpx.Client, url: str, payload: dict[str, Any], headers: dict[str, str], service: str
) -> httpx.Response:
    """POST ``payload``; a 2xx response, or :class:`SendFailed` (timeouts, refused
    connections, 408, 425, 429 and 5xx retryable; other answers final)."""
    try:
        r = client.post(url, json=payload, headers=headers)
    except httpx.TimeoutException as exc:
        raise SendFailed(f"{service} timed out: {exc}", retry=True) from exc
    except httpx.TransportError as exc:
        raise SendFailed(f"{service} unreachable: {exc}", retry=True) from exc
    if r.status_code >= 500 or r.status_code in RETRYABLE:
        raise SendFailed(f"{service} answered {r.status_code}: {r.text[:200]}", retry=True)
    if r.status_code >= 300:
        raise SendFailed(f"{service} refused ({r.status_code}): {r.text[:200]}", retry=False)
    return r


def answer_field(r: httpx.Response, name: str) -> str | None:
    """A field of a JSON object answer, if there is one."""
    try:
        body = r.json()
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return None if value is None else str(value)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature of a webhook: ``sha256=`` and the hex HMAC-SHA256 of
    ``<timestamp>.<raw body>`` under the shared secret (docs/CHANNELS.md)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()
