"""Per-address limits of the portal's forms, counted in the store (:mod:`arrears.service.throttle`)
so every server process and every concurrent request draws on one allowance.

The address is the connection's peer. ``X-Forwarded-For`` is believed only when the peer is one
of the proxies named in the settings (``ARREARS_TRUSTED_PROXIES``): then the client is the
right-most address in the header that is not itself a trusted proxy. From anyone else the header
is ignored, so a made-up value never buys a new allowance."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import lru_cache

from fastapi import Request

from arrears.bootstrap import App
from arrears.service.throttle import hit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(x.strip(), strict=False) for x in spec.split(",") if x.strip()
    )


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_address(request: Request, trusted: str) -> str:
    """The client's address: the peer, or, behind a trusted proxy, the last untrusted hop."""
    peer = request.client.host if request.client else "?"
    networks = _networks(trusted)
    if not networks or not _within(peer, networks):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if _within(hop, networks):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a hop that is not an address: count the proxy's
    return peer


class Limiter:
    """``attempts`` per ``window`` per client address, for the forms named ``name``."""

    def __init__(self, app: App, name: str, attempts: int, window: timedelta) -> None:
        self.app = app
        self.name = name
        self.attempts = attempts
        self.window = window

    def allow(self, request: Request) -> timedelta | None:
        """Count an attempt by the request's client; None if allowed, else how long to wait."""
        who = client_address(request, self.app.settings.trusted_proxies)
        return hit(self.app, f"{self.name}:{who}", self.attempts, self.window)
