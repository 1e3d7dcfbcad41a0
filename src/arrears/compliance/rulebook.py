"""Rulebooks as data: which rule families apply and their numbers, versioned YAML validated
with pydantic (a bad file names the field)."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arrears.parsing import ParseLimit, load_yaml

HERE = Path(__file__).parent / "rulebooks"
FAMILIES = ("hours", "frequency", "third_party", "holds", "consent", "content", "disclosure")
HOLD_KINDS = (
    "cease_request",
    "attorney_represented",
    "bankruptcy",
    "deceased",
    "dispute",
    "complaint",
    "legal",
    "hardship",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(_Strict):
    start: time
    end: time
    end_inclusive: bool = False
    channels: tuple[str, ...]
    honour_agreed_window: bool = True
    honour_inconvenient_times: bool = True
    unknown_location_timezones: tuple[str, ...]


class Frequency(_Strict):
    connected_calls_per_person_per_day: int | None = None
    dial_attempts_per_destination_per_day: int | None = None
    calls_per_debt_in_7_days: int | None = None
    quiet_days_after_conversation: int | None = None


class ThirdParty(_Strict):
    require_borrower_unreachable: bool = False
    failed_attempts_per_number: int = 3
    no_debt_content: bool = True
    stop_after_refusal: bool = True


class Dispute(_Strict):
    written_only: bool = False
    within_validation_period: bool = False
    validation_days: int = 30
    receipt_business_days: int = 5


class Holds(_Strict):
    kinds: tuple[Literal[HOLD_KINDS], ...]  # type: ignore[valid-type]
    cease_allowed_purposes: tuple[str, ...] = ()
    dispute: Dispute = Field(default_factory=Dispute)
    #: hold kinds during which no penalty accrues (the days the hold is in force, local time)
    pause_penalty: tuple[Literal[HOLD_KINDS], ...] = ()  # type: ignore[valid-type]


class Consent(_Strict):
    honour_opt_outs: bool = True
    #: the channels a borrower may refuse in the portal's preferences (the others carry
    #: notices the lender must be able to send: letters, agent calls, visits)
    borrower_may_refuse: tuple[Literal["sms", "push", "email", "robocall"], ...] = (
        "sms",
        "push",
        "email",
        "robocall",
    )


class Content(_Strict):
    lexicon: tuple[Literal["zh", "en"], ...] = ("zh", "en")
    no_suit_threat_on_time_barred_debt: bool = False


class MarkerRule(_Strict):
    channels: tuple[str, ...]
    #: each group must have one marker present in the content
    groups: dict[str, tuple[str, ...]]


class Disclosure(_Strict):
    visit_min_collectors: int | None = None
    identify_self: MarkerRule | None = None
    opt_out_notice: MarkerRule | None = None
    letter_fields: MarkerRule | None = None


class Quality(_Strict):
    """The call scorecard (质检) of every recorded call: required disclosures, the right-party
    check before any debt detail, prohibited language, talk-over and long silence. Markers are
    regular expressions matched (case-insensitively) in what the agent said."""

    #: each required disclosure and the markers of it (one must be in an agent's line)
    disclosures: dict[str, tuple[str, ...]]
    #: markers of the right-party check (asking for, or confirming, the borrower's identity)
    identity_check: tuple[str, ...]
    #: markers of a debt detail (the amount, the loan, the arrears) that must not come first
    debt_detail: tuple[str, ...]
    #: points a call loses: per missing disclosure, for debt detail before the check, per line
    #: of prohibited language, per talk-over by the agent, per long silence
    points: dict[
        Literal["disclosure", "debt_before_check", "prohibited", "talk_over", "silence"], int
    ]
    talk_over_seconds: float = Field(1.0, gt=0)
    silence_seconds: float = Field(8.0, gt=0)
    #: a call scoring under this goes to review (prohibited language or debt detail before the
    #: check always does)
    flag_below: int = Field(80, ge=0, le=100)


class Rulebook(_Strict):
    id: str
    version: str
    title: str
    sources: tuple[str, ...]
    default_timezone: str
    retention_years: int
    families: tuple[Literal[FAMILIES], ...]  # type: ignore[valid-type]
    hours: Hours
    frequency: Frequency = Field(default_factory=Frequency)
    third_party: ThirdParty = Field(default_factory=ThirdParty)
    holds: Holds
    consent: Consent = Field(default_factory=Consent)
    content: Content = Field(default_factory=Content)
    disclosure: Disclosure = Field(default_factory=Disclosure)
    quality: Quality | None = None

    def applies(self, family: str) -> bool:
        return family in self.families


class RulebookError(ValueError):
    """A rulebook file that does not validate; the message names the file and field."""


def load_file(path: Path) -> Rulebook:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, yaml.YAMLError, ParseLimit) as exc:
        raise RulebookError(f"{path}: {exc}") from exc
    try:
        return Rulebook.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RulebookError(f"{path.name}: {where}: {first['msg']}") from exc


NAMES = {"cn": "cn.yaml", "us-regf": "us_regf.yaml"}


@lru_cache(maxsize=8)
def load(name: str) -> Rulebook:
    """A shipped rulebook by id (``cn``, ``us-regf``) or a path to a YAML file."""
    if name in NAMES:
        return load_file(HERE / NAMES[name])
    path = Path(name)
    if path.exists():
        return load_file(path)
    raise RulebookError(f"unknown rulebook {name!r}: use {' or '.join(NAMES)} or a YAML path")
