"""The scorecard of one call (质检), from its transcript: speaker-labelled lines with times.

Configured per rulebook (``quality``):

* **required disclosures**: who is calling, for which organisation, that the call is recorded,
  the amount; each must be in something the agent said;
* **the right-party check before any debt detail**: the agent asks for or confirms the
  borrower's identity before naming the debt (naming it first discloses it to whoever picked
  up);
* **prohibited language**: every line the agent (or a bot) said goes through the conduct screen;
  each finding carries its category, the words and the line's time span;
* **talk-over and long silence**, from the lines' times.

The call starts at 100 and loses the rulebook's points for each fault. It is flagged for review
when it has prohibited language or debt detail before the check, or scores under
``flag_below``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from arrears.compliance.conduct.screen import NAMES
from arrears.compliance.conduct.screen import check as screen
from arrears.compliance.rulebook import Quality

#: who speaks for the lender on a call
STAFF = frozenset({"agent", "bot"})
#: what each disclosure is called, in en and zh-CN
DISCLOSURES: dict[str, tuple[str, str]] = {
    "identity": ("the agent's name or staff number", "催收员姓名或工号"),
    "organisation": ("the organisation", "所属机构"),
    "recording_notice": ("that the call is recorded", "录音告知"),
    "amount": ("the amount owed", "欠款金额"),
    "mini_miranda": ("that this is a debt collector", "债务催收身份告知"),
}


@dataclass(frozen=True)
class Line:
    speaker: str  # agent | borrower | bot | other
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Finding:
    kind: str  # disclosure | debt_before_check | prohibited | talk_over | silence
    code: str  # the disclosure, the screen's category, or the kind again
    start: float
    end: float
    en: str
    zh: str
    words: str = ""
    points: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "en": self.en,
            "zh": self.zh,
            "words": self.words,
            "points": self.points,
        }


@dataclass(frozen=True)
class Scorecard:
    score: int
    flagged: bool
    disclosures: dict[str, bool]
    checked_before_debt: bool
    findings: tuple[Finding, ...] = field(default=())

    @property
    def prohibited(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == "prohibited")

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "flagged": self.flagged,
            "disclosures": self.disclosures,
            "checked_before_debt": self.checked_before_debt,
            "findings": [f.as_dict() for f in self.findings],
        }


@lru_cache(maxsize=256)
def _rx(markers: tuple[str, ...], org: str) -> re.Pattern[str]:
    parts = [
        m.replace("{org}", re.escape(org)) if org else m for m in markers if m != "{org}" or org
    ]
    return re.compile("|".join(f"(?:{p})" for p in parts) or "(?!)", re.IGNORECASE)


def _disclosures(q: Quality, staff: list[Line], org: str) -> tuple[dict[str, bool], list[Finding]]:
    said = "\n".join(x.text for x in staff)
    made = {name: bool(_rx(markers, org).search(said)) for name, markers in q.disclosures.items()}
    end = staff[-1].end if staff else 0.0
    missing = [
        Finding(
            "disclosure",
            name,
            0.0,
            end,
            f"not said: {DISCLOSURES.get(name, (name, name))[0]}",
            f"未告知：{DISCLOSURES.get(name, (name, name))[1]}",
            points=q.points.get("disclosure", 0),
        )
        for name, ok in made.items()
        if not ok
    ]
    return made, missing


def _order(q: Quality, staff: list[Line]) -> tuple[bool, list[Finding]]:
    """Did the right-party check come before the first debt detail?"""
    check, debt = _rx(q.identity_check, ""), _rx(q.debt_detail, "")
    for x in staff:
        checked = check.search(x.text)
        detail = debt.search(x.text)
        if detail and not (checked and checked.start() < detail.start()):
            return False, [
                Finding(
                    "debt_before_check",
                    "debt_before_check",
                    x.start,
                    x.end,
                    "the debt was named before the borrower's identity was checked",
                    "核实本人身份之前提及了欠款",
                    words=detail.group(0),
                    points=q.points.get("debt_before_check", 0),
                )
            ]
        if checked:
            return True, []
    return True, []


def _prohibited(q: Quality, staff: list[Line]) -> list[Finding]:
    out = []
    for x in staff:
        d = screen(x.text)
        if not d.flagged:
            continue
        category = d.category or "threat"
        en, zh = NAMES.get(category, (category, category))
        words = d.findings[0].words if d.findings else x.text
        out.append(
            Finding(
                "prohibited",
                category,
                x.start,
                x.end,
                f"prohibited language: {en}",
                f"违规用语：{zh}",
                words=words,
                points=q.points.get("prohibited", 0),
            )
        )
    return out


def _timing(q: Quality, lines: list[Line]) -> list[Finding]:
    out = []
    ordered = sorted(lines, key=lambda x: (x.start, x.end))
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        overlap = prev.end - nxt.start
        if nxt.speaker != prev.speaker and overlap >= q.talk_over_seconds:
            by_staff = nxt.speaker in STAFF
            out.append(
                Finding(
                    "talk_over",
                    "talk_over",
                    nxt.start,
                    prev.end,
                    f"{nxt.speaker} talked over {prev.speaker} for {overlap:.1f} s",
                    f"{_WHO.get(nxt.speaker, nxt.speaker)}抢话 {overlap:.1f} 秒",
                    points=q.points.get("talk_over", 0) if by_staff else 0,
                )
            )
        gap = nxt.start - max(prev.end, nxt.start if overlap > 0 else prev.end)
        if gap >= q.silence_seconds:
            out.append(
                Finding(
                    "silence",
                    "silence",
                    prev.end,
                    nxt.start,
                    f"{gap:.1f} s of silence",
                    f"静默 {gap:.1f} 秒",
                    points=q.points.get("silence", 0),
                )
            )
    return out


_WHO = {"agent": "催收员", "borrower": "客户", "bot": "机器人", "other": "其他人"}


def score(lines: list[Line], q: Quality, org: str = "", *, scripted: bool = False) -> Scorecard:
    """The scorecard of a call whose transcript is ``lines``, under the rulebook's ``q``.
    ``scripted``: a robocall's recorded script, whose disclosures the template lint checked
    when it was loaded and which cannot check who answered: only its words are scored."""
    staff = [x for x in sorted(lines, key=lambda x: x.start) if x.speaker in STAFF]
    made: dict[str, bool] = {}
    missing: list[Finding] = []
    in_order, order = True, list[Finding]()
    if not scripted:
        made, missing = _disclosures(q, staff, org)
        in_order, order = _order(q, staff)
    prohibited = _prohibited(q, staff)
    findings = sorted([*prohibited, *order, *missing, *_timing(q, lines)], key=lambda f: f.start)
    total = max(0, 100 - sum(f.points for f in findings))
    flagged = bool(prohibited) or not in_order or total < q.flag_below
    return Scorecard(total, flagged, made, in_order, tuple(findings))
