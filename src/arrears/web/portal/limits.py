"""A sliding-window limit of attempts per key (a client's address), in memory, per process:
enough to make guessing codes hopeless (10 a window against 32^8 codes); a deployment with
several processes multiplies the allowance by their number."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta


class Limiter:
    def __init__(self, attempts: int, window: timedelta, clock: Callable[[], datetime]) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> timedelta | None:
        """Count an attempt by ``key``; None if allowed, else how long until the next one."""
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and now - seen[0] >= self.window:
                seen.popleft()
            if len(seen) >= self.attempts:
                return self.window - (now - seen[0])
            seen.append(now)
            if len(self._seen) > 100_000:  # forget idle keys rather than grow without end
                for k in [k for k, v in self._seen.items() if not v][:50_000]:
                    del self._seen[k]
            return None
