"""Ordered parallel map with a bounded window, so memory stays flat however long the input."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")


def ordered_map(fn: Callable[..., R], jobs: Iterable[tuple[Any, ...]], workers: int) -> Iterator[R]:
    """``fn(*job)`` for each job, results in job order; at most 2 × workers jobs in flight.

    With one worker everything runs in this process (no pickling, easy to profile).
    """
    if workers <= 1:
        for job in jobs:
            yield fn(*job)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        window: deque[Future[R]] = deque()
        for job in jobs:
            window.append(pool.submit(fn, *job))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
