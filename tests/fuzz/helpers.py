"""What the fuzz suite shares: hypothesis settings scaled by ``FUZZ_EXAMPLES``, the tally of
inputs each test tried, and the contracts the three entry points are held to.

Every test is derandomised (the same inputs on every CI run, no example database), and bounded
by ``max_examples``; ``FUZZ_EXAMPLES=10 pytest tests/fuzz`` tries ten times as many inputs.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings


def _scale() -> float:
    given = os.environ.get("FUZZ_EXAMPLES", "").strip()
    if not given:
        return 1.0
    try:
        value = float(given)
    except ValueError:
        raise ValueError(f"FUZZ_EXAMPLES must be a number (a multiplier), got {given!r}") from None
    if value <= 0:
        raise ValueError(f"FUZZ_EXAMPLES must be more than 0, got {given!r}")
    return value


SCALE = _scale()


def fuzz(examples: int) -> settings:
    """The settings of a fuzz test: ``examples`` inputs (times ``FUZZ_EXAMPLES``), no deadline,
    derandomised. The tally fixture is function scoped on purpose (it counts every input)."""
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )


@dataclass
class Tally:
    """How many inputs a test tried, by outcome, and how long it took."""

    name: str
    outcomes: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0
    slowest: float = 0.0

    def __call__(self, outcome: str) -> None:
        self.outcomes[outcome] += 1

    def timed(self, seconds: float) -> None:
        self.slowest = max(self.slowest, seconds)

    @property
    def tried(self) -> int:
        return sum(self.outcomes.values())

    def line(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"fuzz {self.name}: {self.tried} inputs in {self.seconds:.1f}s "
            f"(slowest {self.slowest * 1000:.0f} ms) [{parts}]"
        )


@contextmanager
def tracebacks() -> Iterator[list[str]]:
    """Exceptions raised where nothing can catch them (a callback's, a finaliser's): Python
    prints their traceback to stderr and goes on. Collected here, so a test can fail on them."""
    seen: list[str] = []
    before = sys.unraisablehook

    def hook(u: Any) -> None:
        seen.append(
            f"{u.err_msg or 'Exception ignored in'} {u.object!r}: "
            f"{u.exc_type.__name__}: {u.exc_value}"
        )

    sys.unraisablehook = hook
    try:
        yield seen
    finally:
        sys.unraisablehook = before


# ------------------------------------------------------------------------------------------
# the webhooks' contract: never 5xx; a 4xx is problem+json naming the field its detail names

_NAMED = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\-\[\]]*): ")


def problem_contract(status: int, headers: dict[str, str], body: bytes, what: str) -> str:
    """Check one answer; returns its outcome for the tally (raises AssertionError)."""
    import json

    assert status < 500, f"{what}: answered {status}: {body[:300]!r}"
    kind = headers.get("content-type", "")
    if status < 400:
        return f"{status}"
    assert kind.startswith("application/problem+json"), (
        f"{what}: {status} answered as {kind!r}, not application/problem+json: {body[:200]!r}"
    )
    data: Any = json.loads(body)
    assert isinstance(data, dict), f"{what}: the problem is not an object: {body[:200]!r}"
    assert data.get("status") == status, f"{what}: problem status {data.get('status')} != {status}"
    assert isinstance(data.get("title"), str) and isinstance(data.get("detail"), str), data
    named = _NAMED.match(data["detail"])
    if named:
        assert data.get("field") == named.group(1), (
            f"{what}: {status} names {named.group(1)!r} in its detail but field is "
            f"{data.get('field')!r}: {data}"
        )
    return f"{status}"
