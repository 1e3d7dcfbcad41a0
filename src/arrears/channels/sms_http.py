"""SMS through an HTTP gateway: a JSON POST per message, the shape set by a payload mapping.

Most SMS gateways (domestic and international) take a POST with the number, the text and a
client reference, authenticate with a bearer token or a key header, and answer with their own
message id; delivery receipts come later to a webhook. The mapping names the gateway's fields:

    {"to": "mobile", "text": "content", "reference": "outId", "id": "msgId"}

(``id`` is the field of the answer that holds the gateway's message id). The plan action's id
goes as the client reference and as an ``Idempotency-Key`` header, so a gateway that honours
either drops a repeat. Status codes: 2xx taken; 408, 429 and 5xx (and timeouts, refused
connections) may succeed later; any other 4xx never will.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from arrears.channels.base import Message, Receipt
from arrears.channels.http import answer_field, headers, post
from arrears.channels.ratelimit import TokenBucket

DEFAULT_MAPPING = {"to": "to", "text": "text", "reference": "reference", "id": "id"}


@dataclass
class HttpSmsConfig:
    url: str
    token: str | None = None
    auth_header: str = "Authorization"  # the token goes as "Bearer <token>" in this header
    mapping: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MAPPING))
    extra: dict[str, Any] = field(default_factory=dict)  # fixed fields: sender id, sign ...
    rate_per_second: float = 50.0
    timeout_seconds: float = 10.0
    name: str = "sms-http"


class HttpSms:
    def __init__(self, config: HttpSmsConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.name = config.name
        self.mapping = {**DEFAULT_MAPPING, **config.mapping}
        self.limiter = TokenBucket(config.rate_per_second)
        self.client = client or httpx.Client(timeout=config.timeout_seconds)

    def payload(self, m: Message) -> dict[str, Any]:
        f = self.mapping
        return {
            **self.config.extra,
            f["to"]: m.destination,
            f["text"]: m.body,
            f["reference"]: m.idempotency_key,
        }

    def send(self, message: Message) -> Receipt:
        self.limiter.acquire()
        sent = headers(message.idempotency_key, self.config.token, self.config.auth_header)
        r = post(self.client, self.config.url, self.payload(message), sent, "gateway")
        ref = answer_field(r, self.mapping["id"]) or message.idempotency_key
        return Receipt(self.name, ref, "queued")

    def close(self) -> None:
        self.client.close()
