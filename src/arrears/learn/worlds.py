"""Worlds for the borrower-response simulator: a world is a draw of the hidden borrower types'
mix and of their effect sizes, with the contact rates and a seed. Policies are trained on
training worlds and judged once per release on sealed ones drawn from other seeds (shifted
ones among them: more hardship, fewer people reached); worlds written by people who never saw
the learner can be given as a file (docs/LEARNING.md, "Worlds").

The file (YAML or JSON)::

    worlds:
      - name: base
        seed: 7                       # the borrowers' draws and answers in this world
        type_mix: {forgets: 0.45, hardship: 0.2, strategic: 0.15, unreachable: 0.1, never: 0.1}
        contact_rate: 0.25            # a call reaches the borrower (right-party contact)
        effects:                      # optional: each type's effect sizes over the defaults
          forgets: {daily_hazard: 0.02, reminder_lift: 0.09}

Every problem is reported with the file, the world (by position and name) and the field.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: the hidden borrower types
TYPES = ("forgets", "hardship", "strategic", "unreachable", "never")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Share = Annotated[float, Field(ge=0.0, le=1.0)]


class Effects(_Spec):
    """One type's response, per day of a debt in arrears. Lifts multiply the day's hazard of
    paying when the contact happened that day (1.0: no effect)."""

    #: the chance of paying in full on a day with no contact
    daily_hazard: Share
    #: a reminder (SMS, push, email, letter, automated call) that day
    reminder_lift: Annotated[float, Field(ge=0.0, le=50.0)] = 1.0
    #: a conversation with a collector that day
    conversation_lift: Annotated[float, Field(ge=0.0, le=50.0)] = 1.0
    #: an instalment plan or a waiver offered
    offer_lift: Annotated[float, Field(ge=0.0, le=50.0)] = 1.0
    #: credible escalation (a letter before legal action, an agency, a visit)
    escalation_lift: Annotated[float, Field(ge=0.0, le=50.0)] = 1.0
    #: the chance a promise taken is kept
    promise_kept: Share = 0.5
    #: annoyance: the chance that each contact beyond the first in seven days (the day's and
    #: the six before) leads to a complaint
    complaint_per_extra_contact: Share = 0.001
    #: habituation: each reminder in the six days before keeps this share of a reminder's lift
    #: (1.0: none; 0.5: the second reminder of a week lifts half as much above 1)
    reminder_fatigue: Share = 1.0
    #: the share of the type's borrowers reached at all on the phone (false or 0: none, until
    #: new contact data comes; true or 1: all; 0.6: six in ten, drawn with the world's seed)
    reachable: Share = 1.0


#: the defaults, before a world's draw (docs/LEARNING.md gives the sources and the assumptions)
DEFAULT_EFFECTS: dict[str, Effects] = {
    "forgets": Effects(daily_hazard=0.06, reminder_lift=2.5, conversation_lift=3.0,
                       offer_lift=1.0, escalation_lift=1.2, promise_kept=0.8,
                       complaint_per_extra_contact=0.0015, reminder_fatigue=0.6),
    "hardship": Effects(daily_hazard=0.01, reminder_lift=1.1, conversation_lift=1.5,
                        offer_lift=6.0, escalation_lift=0.8, promise_kept=0.4,
                        complaint_per_extra_contact=0.004, reminder_fatigue=0.7),
    "strategic": Effects(daily_hazard=0.008, reminder_lift=1.0, conversation_lift=1.3,
                         offer_lift=1.5, escalation_lift=5.0, promise_kept=0.3,
                         complaint_per_extra_contact=0.003, reminder_fatigue=0.8),
    "unreachable": Effects(daily_hazard=0.004, reachable=False, promise_kept=0.2),
    "never": Effects(daily_hazard=0.0005, reminder_lift=1.0, conversation_lift=1.0,
                     promise_kept=0.05, complaint_per_extra_contact=0.005),
}  # fmt: skip

DEFAULT_MIX = {"forgets": 0.55, "hardship": 0.18, "strategic": 0.12, "unreachable": 0.08,
               "never": 0.07}  # fmt: skip


class World(_Spec):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    seed: Annotated[int, Field(ge=0)]
    type_mix: dict[str, Share]
    contact_rate: Share = 0.25
    effects: dict[str, dict[str, Any]] = {}

    # each field checked on its own, so a file's every problem is reported at once
    @field_validator("type_mix")
    @classmethod
    def _mix(cls, mix: dict[str, float]) -> dict[str, float]:
        problems = [f"unknown type {k!r}; types: {', '.join(TYPES)}" for k in mix if k not in TYPES]
        total = sum(mix.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            problems.append(f"the shares must add up to 1, they add up to {total:g}")
        if problems:
            raise ValueError(" | ".join(problems))
        return mix

    @field_validator("effects")
    @classmethod
    def _effects(cls, effects: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        problems = []
        for kind, given in effects.items():
            if kind not in TYPES:
                problems.append(f"unknown type {kind!r}; types: {', '.join(TYPES)}")
                continue
            try:
                Effects.model_validate({**DEFAULT_EFFECTS[kind].model_dump(), **given})
            except ValidationError as exc:
                for err in exc.errors():
                    field = ".".join(str(p) for p in err["loc"])
                    problems.append(f"{EFFECT_MARK}{kind}.{field}: {err['msg']}")
        if problems:
            raise ValueError(" | ".join(problems))
        return effects

    def effects_of(self, kind: str) -> Effects:
        """``kind``'s effects in this world: the defaults with the world's own over them."""
        return Effects.model_validate(
            {**DEFAULT_EFFECTS[kind].model_dump(), **self.effects.get(kind, {})}
        )

    def types(self, n: int) -> list[str]:
        """The hidden types of ``n`` borrowers, drawn from the mix with the world's seed."""
        rng = np.random.default_rng(self.seed)
        kinds = [k for k in TYPES if self.type_mix.get(k, 0) > 0]
        shares = np.array([self.type_mix[k] for k in kinds])
        return [kinds[i] for i in rng.choice(len(kinds), size=n, p=shares / shares.sum())]


#: marks a problem of a type's own effect field, named in full by :func:`load_worlds`
EFFECT_MARK = "\u2063"


class WorldsError(ValueError):
    """A worlds file that cannot be used: every problem, each with the file, world and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_worlds(path: Path) -> list[World]:
    """The worlds of a YAML or JSON file (docs/LEARNING.md, "Worlds")."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        said = exc.problem or exc.context or "not YAML"
        raise WorldsError([f"{path}: {where}{said}"]) from exc
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise WorldsError([f"{path}: {str(exc).splitlines()[0]}"]) from exc
    if not isinstance(data, dict) or not isinstance(data.get("worlds"), list) or not data["worlds"]:
        raise WorldsError([f"{path}: worlds: expected a list of worlds under 'worlds'"])
    worlds, problems, names = [], [], set()
    for k, item in enumerate(data["worlds"]):
        label = item.get("name") if isinstance(item, dict) else None
        where = f"{path}: worlds[{k}]" + (f" ({label})" if label else "")
        try:
            world = World.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                problems += _said(where, err)
            continue
        if world.name in names:
            problems.append(f"{where}: name: {world.name!r} appears twice")
        names.add(world.name)
        worlds.append(world)
    if problems:
        raise WorldsError(problems)
    return worlds


def _said(where: str, err: Any) -> list[str]:
    """One validation error as the problems it holds, each naming its field in full."""
    field = ".".join(str(p) for p in err["loc"])
    out = []
    for said in err["msg"].removeprefix("Value error, ").split(" | "):
        named = field
        if said.startswith(EFFECT_MARK):  # a type's own effect field
            inner, said = said.removeprefix(EFFECT_MARK).split(": ", 1)
            named = f"{field}.{inner}"
        out.append(f"{where}: {named}: {said}" if named else f"{where}: {said}")
    return out


def draw(name: str, seed: int, *, hardship_shift: float = 0.0, reach: float = 1.0) -> World:
    """A world drawn around the defaults with ``seed``: the mix jittered (Dirichlet around the
    default shares), each type's hazard and lifts by up to about a third either way, the
    contact rate between 20% and 30% (the published range) times ``reach``; with
    ``hardship_shift`` the hardship share grows by that fraction (0.5: +50%)."""
    rng = np.random.default_rng(seed)
    base = np.array([DEFAULT_MIX[k] for k in TYPES])
    mix = rng.dirichlet(base * 200)
    i = TYPES.index("hardship")
    mix[i] *= 1 + hardship_shift
    mix = mix / mix.sum()
    effects: dict[str, dict[str, Any]] = {}
    for kind in TYPES:
        d = DEFAULT_EFFECTS[kind]
        effects[kind] = {
            f: float(np.clip(getattr(d, f) * rng.uniform(0.7, 1.3), 0.0, top))
            for f, top in (("daily_hazard", 1.0), ("reminder_lift", 50.0),
                           ("conversation_lift", 50.0), ("offer_lift", 50.0),
                           ("escalation_lift", 50.0))
        }  # fmt: skip
    return World(
        name=name,
        seed=seed,
        type_mix={k: float(m) for k, m in zip(TYPES, mix, strict=True)},
        contact_rate=float(rng.uniform(0.20, 0.30) * reach),
        effects=effects,
    )


def training_worlds(n: int, seed: int = 1) -> list[World]:
    """``n`` worlds to learn on, drawn from seeds derived from ``seed`` (never the sealed
    ones: those come from :mod:`arrears.learn.sealed`, which only the evaluation reads)."""
    seq = np.random.SeedSequence([seed, 0x7A11])
    return [
        draw(f"train-{k}", int(child.generate_state(1)[0] & 0x7FFFFFFF))
        for k, child in enumerate(seq.spawn(n))
    ]
