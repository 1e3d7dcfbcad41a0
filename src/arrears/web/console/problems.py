"""A strategy's problems (``file:line: field: message``, as the loader and the upload's own
checks write them: :mod:`arrears.strategy.model`, :mod:`arrears.service.daily.strategies`) in
the strategy manager's language. Each message the checker writes is matched by its form and
said again in the reader's words, with the names, values and the expression it quotes kept as
they are; a message of a form not listed here (a YAML parser's, say) is introduced in the
reader's words and quoted as it came. English readers see the checker's own words, as the
command line shows them."""

from __future__ import annotations

import re
from collections.abc import Callable

from arrears.web.i18n import N_, gettext

#: what a problem's place says: ``file[:line]: field: `` (the field may be ``(syntax)``...)
_PLACE = re.compile(r"^(?P<file>[^:\n]+?)(?::(?P<line>\d+))?: (?P<field>[^\s:]+(?: \([^)]*\))?): ")
#: the loader's own names for a problem that is not a field's
FIELDS = {
    "(syntax)": N_("YAML syntax"),
    "(limits)": N_("size limits"),
    "(file)": N_("the file"),
    "(name)": N_("the name"),
}
#: each form of message, most particular first: its pattern, and what it says in words
#: (placeholders: the pattern's named groups)
MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern + r"\Z", re.S), words)
    for pattern, words in (
        (r"required, but missing", N_("required, but missing")),
        (r"unknown field", N_("unknown field")),
        (r"expected one of (?P<choices>.+), got (?P<got>.+)",
         N_("expected one of %(choices)s, got %(got)s")),
        (r"no such stage; stages: (?P<names>.+)",
         N_("no such stage; the stages are %(names)s")),
        (r"no such segment; segments: (?P<names>.+) \(or all\)",
         N_("no such segment; the segments are %(names)s (or all)")),
        (r"the last segment must be a catch-all \(omit when\), so every account has a segment",
         N_("the last segment must catch every account (leave out when)")),
        (r"(?P<name>.+) appears twice; names must be unique",
         N_("%(name)s appears twice; names must be unique")),
        (r"(?P<high>-?\d+) is before from \((?P<low>-?\d+)\)",
         N_("%(high)s is before from (%(low)s)")),
        (r"stages must be in DPD order without overlap",
         N_("stages must be in DPD order without overlap")),
        (r"the weights must add up to more than 0", N_("the weights must add up to more than 0")),
        (r"a step needs a channel, or best_of: a list of channels to choose from",
         N_("a step needs a channel, or best_of: a list of channels to choose from")),
        (r"a step with one channel has one (?P<what>\w+)",
         N_("a step with one channel has one %(what)s")),
        (r"each channel may be listed once", N_("each channel may be listed once")),
        (r"a choice's id must leave room for its channels \((?P<most>\d+) at most\)",
         N_("a choice's id must leave room for its channels (%(most)s characters at most)")),
        (r"a (?P<channel>\w+) step needs a queue defined under queues",
         N_("a %(channel)s step needs a queue defined under queues")),
        (r"an agency step needs a pool defined under pools",
         N_("an agency step needs a pool defined under pools")),
        (r"a step needs on_day or every \(with from_day\)",
         N_("a step needs on_day or every (with from_day)")),
        (r"every needs from_day: the DPD the repetition starts on",
         N_("every needs from_day: the DPD the repetition starts on")),
        (r"a (?P<channel>\w+) step needs a template",
         N_("a %(channel)s step needs a template")),
        (r"a home visit needs the number of collectors",
         N_("a home visit needs the number of collectors")),
        (r"expected EXPERIMENT/ARM naming a defined experiment's arm",
         N_("expected EXPERIMENT/ARM naming a defined experiment's arm")),
        (r"expected a mapping with strategy, version, title, stages \.\.\.",
         N_("expected a mapping with strategy, version, title, stages ...")),
        (r"no such shipped strategy; give a file path",
         N_("no such shipped strategy; give a file path")),
        (r"(?:template: )?no template is named (?P<name>.+)", N_("no template is named %(name)s")),
        (r"(?:template: )?(?P<name>'.+') is a (?P<have>[\w/]+) template, not (?P<channel>\w+)",
         N_("%(name)s is a %(have)s template, not %(channel)s")),
        (r"(?:queue: )?no queue is named (?P<name>.+) under queues",
         N_("no queue is named %(name)s under queues")),
        (r"(?:pool: )?no pool is named (?P<name>.+) under pools",
         N_("no pool is named %(name)s under pools")),
        # a condition that does not parse: what is wrong, where, in which condition
        (r"(?P<what>.+) \(at column (?P<column>\d+)\) in (?P<source>.+)",
         N_("%(what)s (column %(column)s) in the condition %(source)s")),
        (r"unknown attribute (?P<name>'[^']*'); known: (?P<known>.+)",
         N_("unknown attribute %(name)s; known: %(known)s")),
        (r"expected (?P<want>'.*'), found (?P<found>.+)",
         N_("expected %(want)s, found %(found)s")),
        (r"unexpected character (?P<text>.+)", N_("unexpected character %(text)s")),
        (r"unexpected (?P<text>.+)", N_("unexpected %(text)s")),
        (r"empty expression", N_("empty expression")),
        # a value of the wrong kind (pydantic's words), with what was given
        (r"(?P<what>.+), got (?P<got>.+)", N_("%(what)s, given %(got)s")),
        (r"Input should be a valid integer.*", N_("a whole number is expected")),
        (r"Input should be a valid number.*", N_("a number is expected")),
        (r"Input should be a valid string", N_("text is expected")),
        (r"Input should be a valid list", N_("a list is expected")),
        (r"Input should be a valid dictionary.*", N_("a mapping is expected")),
        (r"Input should be a valid boolean.*", N_("true or false is expected")),
        (r"Input should be greater than or equal to (?P<n>\S+)",
         N_("at least %(n)s is expected")),
        (r"Input should be less than or equal to (?P<n>\S+)", N_("at most %(n)s is expected")),
        (r"Input should be greater than (?P<n>\S+)", N_("more than %(n)s is expected")),
        (r"String should match pattern (?P<pattern>.+)",
         N_("the text must match the pattern %(pattern)s")),
        (r"String should have at least (?P<n>\d+) characters?",
         N_("at least %(n)s characters are expected")),
        (r"String should have at most (?P<n>\d+) characters?",
         N_("at most %(n)s characters are expected")),
        (r"List should have at least (?P<n>\d+) items? after validation.*",
         N_("at least %(n)s items are expected")),
        (r"List should have at most (?P<n>\d+) items? after validation.*",
         N_("at most %(n)s items are expected")),
    )
)  # fmt: skip
#: what introduces a message of a form not listed (quoted as it came)
UNKNOWN = N_("the check said: %(said)s")
#: a problem with its place, in words
PLACED = N_("%(file)s, line %(line)s, %(field)s: %(said)s")
UNPLACED = N_("%(file)s, %(field)s: %(said)s")


def said(message: str, _: Callable[[str], str], depth: int = 0) -> str:
    """``message`` in the words of ``_`` (a language's gettext); the values it quotes kept."""
    for pattern, words in MESSAGES:
        found = pattern.match(message)
        if found is None:
            continue
        parts = {k: _part(k, v, _, depth) for k, v in found.groupdict().items()}
        return _(words) % parts
    return _(UNKNOWN) % {"said": message}


def _part(name: str, value: str, _: Callable[[str], str], depth: int) -> str:
    """A matched part as the message shows it: a message inside the message (``what``) said
    too; a list of choices without its English "or"."""
    if name == "what" and depth < 2:
        return said(value, _, depth + 1)
    if name == "choices":
        return value.replace("' or '", "', '")
    return value


def problem_words(problem: str, lang: str) -> str:
    """A strategy's problem (``file:line: field: message``) in ``lang``; in English, as the
    checker wrote it (the form the CLI and the logs show)."""
    if lang == "en":
        return problem
    _ = gettext(lang)
    place = _PLACE.match(problem)
    if place is None:
        return said(problem, _)
    field = place["field"]
    named = _(FIELDS[field]) if field in FIELDS else field
    parts = {"file": place["file"], "field": named, "said": said(problem[place.end() :], _)}
    if place["line"] is None:
        return _(UNPLACED) % parts
    return _(PLACED) % {**parts, "line": place["line"]}
