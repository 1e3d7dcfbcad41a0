"""Strategies: who is contacted, when, on which channel, with which words. A strategy is a YAML
file (see docs/STRATEGY.md and ``strategies/default.yaml``), validated in two passes (the shape
with pydantic, then the meaning: expressions, names, channels' needs), every problem reported
with its file, line, field and what was expected. The result is a :class:`Strategy`, compiled
once: each condition parsed into an expression tree that both engines evaluate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arrears.parsing import ParseLimit, parse_yaml
from arrears.strategy.attributes import NAMES
from arrears.strategy.expr import ExprError, Lit, Node, parse

#: the largest strategy file read (the shipped default is ~10 kB)
MAX_STRATEGY_BYTES = 256 * 1024

CHANNELS = (
    "sms",
    "push",
    "email",
    "letter",
    "robocall",
    "agent_call",
    "visit",
    "agency",
    "legal_referral",
)
Channel = Literal[
    "sms",
    "push",
    "email",
    "letter",
    "robocall",
    "agent_call",
    "visit",
    "agency",
    "legal_referral",
]
#: channels that send words, so need a template; people's channels work from a queue
NEEDS_TEMPLATE = frozenset({"sms", "push", "email", "letter", "robocall"})
NEEDS_QUEUE = frozenset({"agent_call", "visit"})
NEEDS_POOL = frozenset({"agency"})
ALL_SEGMENTS = "all"
#: the option of a choice that does nothing today (``best_of: [none, sms, ...]``); it is also
#: what exploration may draw instead of a fixed step's action in an explored stage
NONE = "none"
Option = Literal[
    "none",
    "sms",
    "push",
    "email",
    "letter",
    "robocall",
    "agent_call",
    "visit",
    "agency",
    "legal_referral",
]
#: the largest exploration share a stage may name
MAX_EXPLORE = 0.5


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Label(_Spec):
    zh_CN: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)


class StageSpec(_Spec):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    low: int | None = Field(alias="from", default=None)
    high: int | None = Field(alias="to", default=None)
    label: Label | None = None


class SegmentSpec(_Spec):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    when: str = "true"
    label: Label | None = None


class StepSpec(_Spec):
    id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")] | None = None
    on_day: int | list[int] | None = None
    every: Annotated[int, Field(ge=1)] | None = None
    from_day: int | None = None
    to_day: int | None = None
    channel: Channel | None = None
    #: a choice among treatments, made each day by the model scores (``uplift_<channel>``), the
    #: first compliant one listed when there are none
    best_of: Annotated[list[Option], Field(min_length=2, max_length=8)] | None = None
    #: one template, or (for a choice) a template for each channel that needs one
    template: str | dict[str, str] | None = None
    #: one queue, or (for a choice) a queue for each people's channel (agent_call, visit)
    queue: str | dict[str, str] | None = None
    pool: str | None = None
    priority: str = "0"
    when: str | None = None
    arm: str | None = None
    collectors: Annotated[int, Field(ge=1)] | None = None
    label: Label | None = None


class QueueSpec(_Spec):
    capacity: Annotated[int, Field(ge=0)]
    label: Label | None = None


class SuppressionSpec(_Spec):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    when: str
    channels: Literal["all"] | list[Channel] = "all"
    label: Label | None = None


class ArmSpec(_Spec):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    weight: Annotated[int, Field(ge=0)]
    label: Label | None = None


class ExperimentSpec(_Spec):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    salt: Annotated[str, Field(min_length=1)]
    arms: Annotated[list[ArmSpec], Field(min_length=2)]
    label: Label | None = None


class StrategySpec(_Spec):
    strategy: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]*$")]
    version: Annotated[str, Field(min_length=1)]
    title: Label
    stages: Annotated[list[StageSpec], Field(min_length=1)]
    segments: Annotated[list[SegmentSpec], Field(min_length=1)]
    queues: dict[str, QueueSpec] = {}
    pools: dict[str, QueueSpec] = {}
    suppressions: list[SuppressionSpec] = []
    experiments: list[ExperimentSpec] = []
    #: how many days an unworked call or visit is carried over to the next days' worklists
    #: before it expires (0, the default: it expires the next day)
    carry_over: dict[Literal["agent_call", "visit"], Annotated[int, Field(ge=0, le=7)]] = {}
    #: exploration share by stage: that fraction of the stage's decisions is drawn at random
    #: among the step's compliant treatments (off by default; see docs/LEARNING.md)
    explore: dict[str, Annotated[float, Field(ge=0, le=MAX_EXPLORE)]] = {}
    #: how a day's choices share the queues and pools, when they are scored: ``optimal`` (a
    #: linear programme: the lanes go where they add most over each account's best option
    #: without one), ``greedy`` (the same, best first by what a place adds), or ``priority``
    #: (no reservation: each account takes its best option, and the queue's priority cuts)
    allocation: Literal["optimal", "greedy", "priority"] = "optimal"
    treatments: dict[str, dict[str, list[StepSpec]]]


# ------------------------------------------------------------------------------------------
# compiled form


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    low: int | None
    high: int | None

    def contains(self, dpd: int) -> bool:
        return (self.low is None or dpd >= self.low) and (self.high is None or dpd <= self.high)


@dataclass(frozen=True, slots=True)
class Step:
    """One treatment step, compiled. ``day`` is the account's DPD on the business date."""

    id: str
    stage: str
    segment: str  # a segment name or "all"
    order: int  # position in the strategy, for a stable plan order
    channel: str
    template: str | None
    queue: str | None
    pool: str | None
    priority: Node
    when: Node | None
    on_days: tuple[int, ...]
    every: int | None
    from_day: int | None
    to_day: int | None
    experiment: str | None
    arm: str | None
    collectors: int | None
    #: the choice this step is an option of (the step's own id, before the channel), if any
    group: str | None = None
    #: its place in the choice's list
    option: int = 0

    def fires_on(self, dpd: int) -> bool:
        if self.on_days and dpd in self.on_days:
            return True
        if self.every is None:
            return False
        start = self.from_day if self.from_day is not None else 0
        if dpd < start or (self.to_day is not None and dpd > self.to_day):
            return False
        return (dpd - start) % self.every == 0


@dataclass(frozen=True, slots=True)
class Suppression:
    name: str
    when: Node
    channels: frozenset[str]


@dataclass(frozen=True, slots=True)
class Experiment:
    name: str
    salt: str
    arms: tuple[tuple[str, int], ...]  # (name, weight)

    def arm_for(self, bucket: int) -> str:
        """The arm of an account whose hash bucket (0..9999) is ``bucket``."""
        total = sum(w for _, w in self.arms)
        edge = 0
        for name, weight in self.arms:
            edge += weight
            if bucket * total < edge * 10_000:
                return name
        return self.arms[-1][0]

    def edges(self) -> list[tuple[str, int]]:
        """(arm, first bucket past it): an account whose bucket is below the edge is in it."""
        total = sum(w for _, w in self.arms)
        out, edge = [], 0
        for name, weight in self.arms:
            edge += weight
            out.append((name, -(-edge * 10_000 // total)))
        return out


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    version: str
    digest: str  # sha256 of the file's text: the exact strategy a plan was made with
    source: str
    spec: StrategySpec
    stages: tuple[Stage, ...]
    segments: tuple[tuple[str, Node], ...]
    steps: tuple[Step, ...]
    suppressions: tuple[Suppression, ...]
    experiments: tuple[Experiment, ...]
    queues: dict[str, int]
    pools: dict[str, int]
    #: exploration share by stage (absent: none)
    explore: dict[str, float] = field(default_factory=dict)
    #: how scored choices share the lanes (``StrategySpec.allocation``)
    allocation: str = "optimal"

    @property
    def chooses(self) -> bool:
        """Whether any step is a choice (``best_of``, or an explored stage's step)."""
        return any(s.group is not None for s in self.steps)

    @property
    def uses_models(self) -> bool:
        """Whether the plan needs the model scores: a choice, or a condition naming one."""
        return self.chooses or bool(self.model_scores)

    @property
    def model_scores(self) -> frozenset[str]:
        """The model scores the plan reads: those its conditions and priorities name, and the
        uplift of each option of its choices (what the cycle asks a scorer for)."""
        return frozenset().union(*self.model_scores_by_stage.values())

    @property
    def model_scores_by_stage(self) -> dict[str, frozenset[str]]:
        """The model scores the plan reads for an account in each stage that has steps: those
        the segments and suppressions name (every stage), those its steps' conditions and
        priorities name, and the uplift of each option of its choices. A stage that reads none
        is left out: its accounts need no scoring."""
        from arrears.strategy.attributes import MODEL_SCORES
        from arrears.strategy.expr import names_in

        known = set(MODEL_SCORES)
        every: set[str] = set()
        nodes: list[Node | None] = [n for _, n in self.segments]
        nodes += [s.when for s in self.suppressions]
        for node in nodes:
            every |= names_in(node) if node is not None else set()
        used: dict[str, set[str]] = {}
        for s in self.steps:
            mine = used.setdefault(s.stage, set(every))
            for node in (s.priority, s.when):
                mine |= names_in(node) if node is not None else set()
            if s.group is not None:
                mine.add(f"uplift_{s.channel}")
        return {k: frozenset(v & known) for k, v in used.items() if v & known}

    def labels(self, lang: str) -> dict[str, dict[str, str]]:
        """The strategy's own words for its stages, segments, queues, pools and suppressions
        in ``lang`` (zh-CN or en), by kind and name; a name without a label is absent."""
        zh = lang.startswith("zh")

        def of(named: Any) -> dict[str, str]:
            return {
                name: (label.zh_CN if zh else label.en)
                for name, label in named
                if label is not None
            }

        spec = self.spec
        return {
            "stage": of((s.name, s.label) for s in spec.stages),
            "segment": of((s.name, s.label) for s in spec.segments),
            "queue": of((k, q.label) for k, q in spec.queues.items()),
            "pool": of((k, q.label) for k, q in spec.pools.items()),
            "suppression": of((s.name, s.label) for s in spec.suppressions),
            "arm": of((a.name, a.label) for e in spec.experiments for a in e.arms),
            "experiment": of((e.name, e.label) for e in spec.experiments),
        }

    def stage_of(self, dpd: int | None) -> str | None:
        if dpd is None:
            return None
        for s in self.stages:
            if s.contains(dpd):
                return s.name
        return None


# ------------------------------------------------------------------------------------------
# loading and validation


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}"


class StrategyError(ValueError):
    """A strategy file that cannot be used; ``problems`` lists every fault found, ``steps`` the
    steps that could still be read (id, channel, template), for checks against the store."""

    def __init__(
        self, problems: list[Problem], steps: list[tuple[str, str, str | None]] | None = None
    ) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
        self.steps = steps or []


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value
            out[(*path, name)] = key.start_mark.line + 1
            _lines(value, (*path, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for k, item in enumerate(node.value):
            _lines(item, (*path, k), out)


def _field(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


class _Checker:
    def __init__(self, file: str, lines: dict[tuple[Any, ...], int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def fail(self, path: tuple[Any, ...], message: str) -> None:
        found = Problem(self.file, self.line(path), _field(path), message)
        if found not in self.problems:  # the options of one choice share their step's faults
            self.problems.append(found)

    def expr(self, source: str | None, path: tuple[Any, ...]) -> Node | None:
        if source is None:
            return None
        try:
            return parse(str(source), NAMES)
        except ExprError as exc:
            self.fail(path, f"{exc} in {source!r}")
            return None


def load(source: str | Path) -> Strategy:
    """A strategy from a file path, or a shipped strategy by name (``default``)."""
    if isinstance(source, Path) or "/" in source or source.endswith((".yaml", ".yml")):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StrategyError(
                [Problem(str(path), None, "(file)", exc.strerror or str(exc))]
            ) from exc
        return loads(text, str(path))
    shipped = resources.files("arrears.strategy") / "strategies" / f"{source}.yaml"
    if not shipped.is_file():
        raise StrategyError(
            [Problem(source, None, "(name)", "no such shipped strategy; give a file path")]
        )
    return loads(shipped.read_text(encoding="utf-8"), f"{source}.yaml")


def loads(text: str, file: str = "<strategy>") -> Strategy:
    try:
        node, data = parse_yaml(text, file, max_bytes=MAX_STRATEGY_BYTES)
    except ParseLimit as exc:
        found = re.match(rf"{re.escape(file)}:(\d+):", str(exc))
        said = str(exc).removeprefix(file + ":").split(": ", 1)[-1].strip()
        line = int(found.group(1)) if found else None
        raise StrategyError([Problem(file, line, "(limits)", said)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise StrategyError([Problem(file, line, "(syntax)", str(exc).splitlines()[0])]) from exc
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    check = _Checker(file, lines)
    if not isinstance(data, dict):
        check.fail((), "expected a mapping with strategy, version, title, stages ...")
        raise StrategyError(check.problems)
    try:
        spec = StrategySpec.model_validate(data)
    except ValidationError as exc:
        bad = set()
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            check.fail(loc, _expected(err))
            bad.add(loc)
        # the conditions are checked too, so one upload shows every problem at once
        for path, source in _raw_conditions(data):
            if path not in bad:
                check.expr(source, path)
        check.problems.sort(key=lambda p: (p.line or 0, p.field))
        raise StrategyError(check.problems, _raw_steps(data)) from exc
    strategy = _compile(spec, text, check)
    if check.problems:
        raise StrategyError(check.problems, [(s.id, s.channel, s.template) for s in strategy.steps])
    return strategy


def _raw_steps_of(data: dict[str, Any]) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    """(stage, segment, index, step) of each step of a file the schema refused, where readable."""
    treatments = data.get("treatments")
    for stage, by_segment in (treatments if isinstance(treatments, dict) else {}).items():
        for segment, steps in (by_segment if isinstance(by_segment, dict) else {}).items():
            for k, step in enumerate(steps if isinstance(steps, list) else []):
                if isinstance(step, dict):
                    yield stage, segment, k, step


def _raw_conditions(data: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Each condition (and step priority) of a file the schema refused, with its path: they
    can still be parsed and reported beside the schema's problems."""
    for key in ("segments", "suppressions"):
        items = data.get(key)
        for k, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and isinstance(item.get("when"), str):
                yield (key, k, "when"), item["when"]
    for stage, segment, k, step in _raw_steps_of(data):
        for name in ("when", "priority"):
            if isinstance(step.get(name), str):
                yield ("treatments", stage, segment, k, name), step[name]


def _raw_steps(data: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(id, channel, template) of each step of a file the schema refused, where readable."""
    out = []
    for stage, segment, k, step in _raw_steps_of(data):
        if isinstance(step.get("channel"), str):
            template = step.get("template")
            out.append(
                (
                    str(step.get("id") or f"{stage}.{segment}.{k + 1}"),
                    step["channel"],
                    template if isinstance(template, str) else None,
                )
            )
    return out


def _expected(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "literal_error":
        return f"expected one of {err['ctx']['expected']}, got {err['input']!r}"
    return f"{err['msg']}, got {err['input']!r}" if "input" in err else err["msg"]


def _compile(spec: StrategySpec, text: str, check: _Checker) -> Strategy:
    stages = _stages(spec, check)
    names = {s.name for s in stages}
    segments = []
    for k, seg in enumerate(spec.segments):
        node = check.expr(seg.when, ("segments", k, "when"))
        segments.append((seg.name, node or Lit(False)))
    seg_names = [s.name for s in spec.segments]
    _unique(check, seg_names, "segments")
    if spec.segments[-1].when.strip() != "true":
        check.fail(
            ("segments", len(spec.segments) - 1, "when"),
            "the last segment must be a catch-all (omit when), so every account has a segment",
        )
    experiments = _experiments(spec, check)
    for stage in spec.explore:
        if stage not in names:
            check.fail(("explore", stage), f"no such stage; stages: {', '.join(sorted(names))}")
    steps = list(_steps(spec, check, names, set(seg_names), {e.name: e for e in experiments}))
    _unique(check, [s.id for s in steps], "treatments (step ids)")
    suppressions = []
    for k, sup in enumerate(spec.suppressions):
        node = check.expr(sup.when, ("suppressions", k, "when"))
        chans = frozenset(CHANNELS if sup.channels == "all" else sup.channels)
        suppressions.append(Suppression(sup.name, node or Lit(False), chans))
    return Strategy(
        name=spec.strategy,
        version=spec.version,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        source=text,
        spec=spec,
        stages=stages,
        segments=tuple(segments),
        steps=tuple(steps),
        suppressions=tuple(suppressions),
        experiments=tuple(experiments),
        queues={k: q.capacity for k, q in spec.queues.items()},
        pools={k: q.capacity for k, q in spec.pools.items()},
        explore={k: v for k, v in spec.explore.items() if v > 0},
        allocation=spec.allocation,
    )


def _unique(check: _Checker, names: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            check.fail((where.split(" ")[0],), f"{name!r} appears twice; names must be unique")
        seen.add(name)


def _stages(spec: StrategySpec, check: _Checker) -> tuple[Stage, ...]:
    out: list[Stage] = []
    for k, s in enumerate(spec.stages):
        if s.low is not None and s.high is not None and s.high < s.low:
            check.fail(("stages", k, "to"), f"{s.high} is before from ({s.low})")
        if out:
            prev = out[-1]
            if prev.high is None or s.low is None or s.low <= prev.high:
                check.fail(("stages", k, "from"), "stages must be in DPD order without overlap")
        out.append(Stage(s.name, s.low, s.high))
    _unique(check, [s.name for s in out], "stages")
    return tuple(out)


def _experiments(spec: StrategySpec, check: _Checker) -> list[Experiment]:
    out = []
    for k, e in enumerate(spec.experiments):
        if sum(a.weight for a in e.arms) <= 0:
            check.fail(("experiments", k, "arms"), "the weights must add up to more than 0")
        _unique(check, [a.name for a in e.arms], "experiments")
        out.append(Experiment(e.name, e.salt, tuple((a.name, a.weight) for a in e.arms)))
    _unique(check, [e.name for e in out], "experiments")
    return out


def _steps(
    spec: StrategySpec,
    check: _Checker,
    stages: set[str],
    segments: set[str],
    experiments: dict[str, Experiment],
) -> Iterator[Step]:
    order = 0
    for stage, by_segment in spec.treatments.items():
        if stage not in stages:
            check.fail(("treatments", stage), f"no such stage; stages: {', '.join(sorted(stages))}")
        for segment, steps in by_segment.items():
            if segment != ALL_SEGMENTS and segment not in segments:
                check.fail(
                    ("treatments", stage, segment),
                    f"no such segment; segments: {', '.join(sorted(segments))} (or all)",
                )
            for k, step in enumerate(steps):
                path = ("treatments", stage, segment, k)
                for one, group, option in _options(spec, check, step, path):
                    made = _step(spec, check, one, path, order, experiments)
                    yield made if group is None else replace(made, group=group, option=option)
                    order += 1


def _options(
    spec: StrategySpec, check: _Checker, step: StepSpec, path: tuple[Any, ...]
) -> Iterator[tuple[StepSpec, str | None, int]]:
    """A step, or the options of its choice: one step each, ``<id>.<channel>``, with the
    choice's id as their group (and, in an explored stage, a fixed step with doing nothing)."""
    if (step.channel is None) == (step.best_of is None):
        check.fail(path, "a step needs a channel, or best_of: a list of channels to choose from")
        return
    if step.best_of is None:
        for name in ("template", "queue"):
            if isinstance(getattr(step, name), dict):
                check.fail((*path, name), f"a step with one channel has one {name}")
        if not spec.explore.get(path[1], 0):
            yield step, None, 0
            return
        options: list[str] = [step.channel or "", NONE]
    else:
        options = list(step.best_of)
        if len(set(options)) != len(options):
            check.fail((*path, "best_of"), "each channel may be listed once")
    base = step.id or f"{path[1]}.{path[2]}.{path[3] + 1}"
    if len(base) > 64 - len(".legal_referral"):
        check.fail((*path, "id"), "a choice's id must leave room for its channels (49 at most)")
    for k, channel in enumerate(options):
        yield _option(step, base, channel), base, k


def _option(step: StepSpec, base: str, channel: str) -> StepSpec:
    """One option of a choice, as a step of its own: what the channel needs, nothing else."""
    template, queue = step.template, step.queue
    if isinstance(template, dict):
        template = template.get(channel)
    if isinstance(queue, dict):
        queue = queue.get(channel)
    return step.model_copy(
        update={
            "id": f"{base}.{channel}",
            "channel": channel,
            "best_of": None,
            "template": template if channel in NEEDS_TEMPLATE else None,
            "queue": queue if channel in NEEDS_QUEUE else None,
            "pool": step.pool if channel in NEEDS_POOL else None,
            "collectors": step.collectors if channel == "visit" else None,
        }
    )


def _lanes(spec: StrategySpec, check: _Checker, step: StepSpec, path: tuple[Any, ...]) -> None:
    """A step's queue or pool, where its channel needs one (one named on a channel that does
    not is refused on upload: :func:`arrears.service.daily.strategies.undefined_lanes`)."""
    if step.channel in NEEDS_QUEUE and step.queue not in spec.queues:
        check.fail((*path, "queue"), f"a {step.channel} step needs a queue defined under queues")
    if step.channel in NEEDS_POOL and step.pool not in spec.pools:
        check.fail((*path, "pool"), "an agency step needs a pool defined under pools")


def _step(
    spec: StrategySpec,
    check: _Checker,
    step: StepSpec,
    path: tuple[Any, ...],
    order: int,
    experiments: dict[str, Experiment],
) -> Step:
    stage, segment, k = path[1], path[2], path[3]
    if step.on_day is None and step.every is None:
        check.fail(path, "a step needs on_day or every (with from_day)")
    if step.every is not None and step.from_day is None:
        check.fail((*path, "from_day"), "every needs from_day: the DPD the repetition starts on")
    if step.channel in NEEDS_TEMPLATE and not step.template:
        check.fail((*path, "template"), f"a {step.channel} step needs a template")
    _lanes(spec, check, step, path)
    if step.channel == "visit" and step.collectors is None:
        check.fail((*path, "collectors"), "a home visit needs the number of collectors")
    experiment = arm = None
    if step.arm is not None:
        experiment, _, arm = step.arm.partition("/")
        known = experiments.get(experiment)
        if known is None or arm not in {a for a, _ in known.arms}:
            check.fail((*path, "arm"), "expected EXPERIMENT/ARM naming a defined experiment's arm")
    on_days = (
        ()
        if step.on_day is None
        else tuple([step.on_day] if isinstance(step.on_day, int) else step.on_day)
    )
    return Step(
        id=step.id or f"{stage}.{segment}.{k + 1}",
        stage=stage,
        segment=segment,
        order=order,
        channel=str(step.channel),
        template=step.template if isinstance(step.template, str) else None,
        queue=step.queue if isinstance(step.queue, str) else None,
        pool=step.pool,
        priority=check.expr(step.priority, (*path, "priority")) or Lit(0),
        when=check.expr(step.when, (*path, "when")),
        on_days=on_days,
        every=step.every,
        from_day=step.from_day,
        to_day=step.to_day,
        experiment=experiment,
        arm=arm,
        collectors=step.collectors,
    )
