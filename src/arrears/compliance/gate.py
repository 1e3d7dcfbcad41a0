"""The gate: every rule of the rulebook over one attempt, and the earliest instant the same
attempt would be allowed with the same history."""

from __future__ import annotations

from datetime import datetime

from arrears.compliance.facts import Decision, Request, Violation
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules import RULES, Rule

MAX_STEPS = 64


def _rules(book: Rulebook) -> list[Rule]:
    rules = _ACTIVE.get(id(book))
    if rules is None or rules[0] is not book:
        rules = (book, [rule for family, rule in RULES if book.applies(family)])
        _ACTIVE[id(book)] = rules
    return rules[1]


_ACTIVE: dict[int, tuple[Rulebook, list[Rule]]] = {}


def violations(req: Request, book: Rulebook) -> list[Violation]:
    out: list[Violation] = []
    for rule in _rules(book):
        out.extend(rule(req, book))
    return out


def _first_refusal(req: Request, book: Rulebook) -> list[Violation]:
    """The violations of the first family that refuses (cheaper than asking every family)."""
    for rule in _rules(book):
        found = rule(req, book)
        if found:
            return found
    return []


def earliest(req: Request, book: Rulebook, found: list[Violation]) -> datetime | None:
    """Move the attempt to the latest instant any refusing rule names, and ask again, until no
    rule refuses; None as soon as a rule says only a new event could allow it. Each rule's retry
    instant is exact for that rule, so the first instant found is the earliest."""
    at = req.attempt.at
    for _ in range(MAX_STEPS):
        if not found:
            return at
        if any(v.retry_at is None for v in found):
            return None
        at = max(v.retry_at for v in found if v.retry_at is not None)
        found = _first_refusal(req.at(at), book)
    return None


def check(req: Request, book: Rulebook) -> Decision:
    """Decide one attempt. Pure: the same request and rulebook always give the same decision."""
    found = violations(req, book)
    return Decision(
        allowed=not found,
        violations=tuple(found),
        earliest_allowed_at=req.attempt.at if not found else earliest(req, book, found),
        rulebook=book.id,
        rulebook_version=book.version,
    )
