"""App push through the lender's push service, in the shape of the common HTTP push APIs (FCM's
HTTP v1 and the vendors that copy it): one POST per message,

    {"message": {"token": DEVICE, "notification": {"title": ..., "body": ...},
                 "data": {"idempotency_key": ..., ...}}}

with a bearer token; the answer's ``name`` is the provider's message id. Failures as for SMS:
408, 429 and 5xx (and timeouts) may succeed later; other 4xx (an unregistered device) never will.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from arrears.channels.base import Message, Receipt
from arrears.channels.http import answer_field, headers, post
from arrears.channels.ratelimit import TokenBucket


@dataclass
class HttpPushConfig:
    url: str
    token: str | None = None
    rate_per_second: float = 200.0
    timeout_seconds: float = 10.0
    name: str = "push-http"


class HttpPush:
    def __init__(self, config: HttpPushConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.name = config.name
        self.limiter = TokenBucket(config.rate_per_second)
        self.client = client or httpx.Client(timeout=config.timeout_seconds)

    @staticmethod
    def payload(m: Message) -> dict[str, Any]:
        return {
            "message": {
                "token": m.destination,
                "notification": {"title": m.subject or "", "body": m.body},
                "data": {"idempotency_key": m.idempotency_key, **m.metadata},
            }
        }

    def send(self, message: Message) -> Receipt:
        self.limiter.acquire()
        sent = headers(message.idempotency_key, self.config.token)
        r = post(self.client, self.config.url, self.payload(message), sent, "push service")
        name = answer_field(r, "name")
        return Receipt(self.name, str(name or message.idempotency_key), "sent")

    def close(self) -> None:
        self.client.close()
