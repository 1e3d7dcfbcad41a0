"""The fuzz suite's fixtures: a tally per test, summed up in one line per test when pytest runs
with ``-s`` (nothing is printed otherwise)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.fuzz.helpers import Tally

TALLIES = pytest.StashKey[list[Tally]]()


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """Counts the inputs the test tried (every call of its body, shrinking included)."""
    name = request.node.name
    t = Tally(name)
    yield t
    t.seconds = time.perf_counter() - t.started
    request.config.stash.setdefault(TALLIES, []).append(t)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if config.getoption("capture") != "no":
        return
    tallies = config.stash.get(TALLIES, [])
    if tallies:
        terminalreporter.section("fuzz: inputs tried")
        for t in tallies:
            terminalreporter.write_line(t.line())
