"""Rule families as pure functions ``(request, rulebook) -> [Violation]``, registered in one
table. A violation carries a stable rule id, reasons in en and zh-CN, and the first instant at
which that rule alone would allow the attempt (None: only a new event can)."""

from __future__ import annotations

from collections.abc import Callable

from arrears.compliance.facts import Request, Violation
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules import consent, content, disclosure, frequency, holds, hours, third

Rule = Callable[[Request, Rulebook], list[Violation]]

#: (family, rule) in the order decisions report them; the commonest refusals first
RULES: tuple[tuple[str, Rule], ...] = (
    ("hours", hours.check),
    ("holds", holds.check),
    ("consent", consent.check),
    ("third_party", third.check),
    ("frequency", frequency.check),
    ("content", content.check),
    ("disclosure", disclosure.check),
)
