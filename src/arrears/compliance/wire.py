"""The check request and decision as JSON (the ``arrears check`` interface), with errors that
name the field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

from arrears.compliance.facts import (
    CHANNELS,
    RESULTS,
    ROLES,
    Attempt,
    Debt,
    Decision,
    Event,
    Person,
    Request,
)
from arrears.domain.codec import FieldError

EVENT_KINDS = (
    *CHANNELS,
    "consent_to_call",
    "cease_request",
    "attorney_represented",
    "bankruptcy",
    "deceased",
    "dispute",
    "verification_sent",
    "validation_notice_sent",
    "opt_out",
    "refused_contact",
    "hold",
    "hold_released",
)


def _instant(value: object, field: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                raise FieldError(field, "needs a UTC offset, e.g. 2026-11-23T09:30:00+08:00")
            return parsed
    raise FieldError(field, f"expected an ISO-8601 instant with offset, got {value!r}")


def _clock(value: object, field: str) -> time:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise FieldError(field, f"expected a local time HH:MM, got {value!r}")


def _window(value: object, field: str) -> tuple[time, time]:
    if not isinstance(value, list) or len(value) != 2:
        raise FieldError(field, 'expected ["HH:MM", "HH:MM"]')
    return _clock(value[0], field + "[0]"), _clock(value[1], field + "[1]")


def _choice(value: object, field: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise FieldError(field, f"expected one of {'|'.join(options)}, got {value!r}")
    return str(value)


def _ids(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FieldError(field, "expected a list of ids")
    return tuple(value)


def _obj(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FieldError(field, "expected an object")
    return value


def attempt_from_dict(data: Mapping[str, Any]) -> Attempt:
    a = _obj(data, "attempt")
    collectors = a.get("collectors")
    if collectors is not None and (isinstance(collectors, bool) or not isinstance(collectors, int)):
        raise FieldError("attempt.collectors", "expected a whole number")
    if "person_id" not in a:
        raise FieldError("attempt.person_id", "is required")
    return Attempt(
        channel=_choice(a.get("channel"), "attempt.channel", CHANNELS),
        at=_instant(a.get("at"), "attempt.at"),
        person_id=str(a["person_id"]),
        debt_ids=_ids(a.get("debt_ids"), "attempt.debt_ids"),
        role=_choice(a.get("role", "debtor"), "attempt.role", ROLES),
        destination=a.get("destination"),
        content=a.get("content"),
        purpose=a.get("purpose"),
        collectors=collectors,
    )


def person_from_dict(data: Mapping[str, Any] | None) -> Person:
    p = _obj(data or {}, "person")
    zones = p.get("timezones") or []
    if not isinstance(zones, list):
        raise FieldError("person.timezones", "expected a list of IANA timezone names")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for k, z in enumerate(zones):
        try:
            ZoneInfo(str(z))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise FieldError(f"person.timezones[{k}]", f"unknown timezone {z!r}") from exc
    inconvenient = p.get("inconvenient_times") or []
    if not isinstance(inconvenient, list):
        raise FieldError("person.inconvenient_times", "expected a list of windows")
    agreed = p.get("agreed_window")
    return Person(
        timezones=tuple(str(z) for z in zones),
        inconvenient_times=tuple(
            _window(w, f"person.inconvenient_times[{k}]") for k, w in enumerate(inconvenient)
        ),
        agreed_window=None if agreed is None else _window(agreed, "person.agreed_window"),
    )


def event_from_dict(data: Mapping[str, Any], k: int) -> Event:
    where = f"history[{k}]"
    e = _obj(data, where)
    kind = _choice(e.get("kind"), where + ".kind", EVENT_KINDS)
    result = e.get("result")
    if result is not None:
        result = _choice(result, where + ".result", RESULTS)
    until = e.get("until")
    return Event(
        kind=kind,
        at=_instant(e.get("at"), where + ".at"),
        direction=_choice(
            e.get("direction", "outbound"), where + ".direction", ("outbound", "inbound")
        ),
        result=result,
        person_id=None if e.get("person_id") is None else str(e["person_id"]),
        debt_ids=_ids(e.get("debt_ids"), where + ".debt_ids"),
        destination=e.get("destination"),
        role=e.get("role"),
        until=None if until is None else _instant(until, where + ".until"),
        written=bool(e.get("written", False)),
        medium=e.get("medium"),
        hold=e.get("hold"),
    )


def request_from_dict(data: Mapping[str, Any]) -> Request:
    d = _obj(data, "$")
    history = d.get("history") or []
    if not isinstance(history, list):
        raise FieldError("history", "expected a list")
    debts = d.get("debts") or []
    if not isinstance(debts, list):
        raise FieldError("debts", "expected a list")
    return Request(
        attempt=attempt_from_dict(d.get("attempt")),  # type: ignore[arg-type]
        person=person_from_dict(d.get("person")),
        history=tuple(event_from_dict(e, k) for k, e in enumerate(history)),
        debts=tuple(
            Debt(str(_obj(x, f"debts[{k}]").get("id")), bool(x.get("time_barred", False)))
            for k, x in enumerate(debts)
        ),
    )


def decision_to_dict(decision: Decision, locale: str = "en") -> dict[str, Any]:
    return {
        "allowed": decision.allowed,
        "violations": [
            {
                "rule": v.rule,
                "reason": v.reason_zh if locale.startswith("zh") else v.reason,
                "reason_en": v.reason,
                "reason_zh": v.reason_zh,
            }
            for v in decision.violations
        ],
        "earliest_allowed_at": (
            None
            if decision.earliest_allowed_at is None
            else decision.earliest_allowed_at.isoformat()
        ),
        "rulebook": decision.rulebook,
        "rulebook_version": decision.rulebook_version,
    }
