"""Contact templates: Jinja2 in a sandbox, one per name, channel and locale (zh-CN, en).

A template file is YAML, one file per locale (``templates/<locale>.yaml``), each entry a
template: ``channel``, ``audience`` (debtor, the default, or third_party), ``subject`` (email,
letter, push) and ``body``. Letters and emails are HTML; the rest is plain text.

Every template is linted when it is loaded, and a template with a problem is not loaded:

* its syntax, and every variable it uses must be one of :data:`VARIABLES` (a typo would
  otherwise render as nothing);
* a debtor's template carries a verification code and an amount; every template but a push
  names the collector and the organisation;
* rendered on a sample account, it passes each rulebook's content rules (the prohibited-language
  lexicon) and disclosure rules for its channel (self-identification, the opt-out notice, a
  collection letter's fields);
* a third party's template uses no debt variable and its rendered text reveals no debt.

Problems name the file, the line of the template and the field.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from arrears.compliance.facts import Attempt, Request
from arrears.compliance.lint import load as lexicon
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rules import content, disclosure
from arrears.parsing import ParseLimit, parse_yaml

HERE = Path(__file__).parent / "templates"
LOCALES = ("zh-CN", "en")
#: the channels a template can be written for (agent calls and visits use scripts, agencies and
#: legal referrals files, not templates)
CHANNELS = ("sms", "push", "email", "letter", "robocall")
AUDIENCES = ("debtor", "third_party")
HTML = frozenset({"email", "letter"})
WITH_SUBJECT = frozenset({"email", "letter", "push"})
#: the compliance channel of each template channel
GATE_CHANNEL = {c: c for c in CHANNELS}
#: what a template may use; each is a mapping of the names listed
VARIABLES: dict[str, tuple[str, ...]] = {
    "org": ("name", "phone", "verify_url", "pay_how", "address"),
    "collector": ("id", "name"),
    "borrower": ("name",),
    "loan": ("ref", "product", "currency"),
    "debt": (
        "as_of",
        "dpd",
        "total_due",
        "overdue_principal",
        "overdue_interest",
        "overdue_fee",
        "penalty",
        "daily_rate",
        "next_due",
        "next_amount",
    ),
    "code": (),
    "today": (),
}
#: variables that tell about the debt: never in a third party's template
DEBT_VARIABLES = frozenset({"debt", "loan"})
AMOUNTS = ("total_due", "next_amount")


@dataclass(frozen=True)
class Template:
    name: str
    locale: str
    channel: str
    body: str
    subject: str | None = None
    audience: str = "debtor"
    version: int = 0  # 0: not yet in the store
    source: str = ""  # where it was read from (file:line)

    @property
    def digest(self) -> str:
        """What makes a version: a change to any of these is a new version in the store."""
        text = "\x1f".join([self.channel, self.audience, self.subject or "", self.body])
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Problem:
    where: str  # file:line
    name: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: template {self.name!r}, {self.field}: {self.message}"


@dataclass
class TemplateError(ValueError):
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str
    html: bool

    @property
    def text(self) -> str:
        """The words as the borrower reads them (HTML tags dropped), for the gate and evidence."""
        if not self.html:
            return self.body
        plain = re.sub(r"<[^>]+>", " ", self.body)
        return re.sub(r"[ \t]+", " ", plain).strip()


def money(minor: int | None) -> str:
    """Minor units as major units with two decimals and thousands separators: 222727 ->
    "2,227.27"."""
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    major, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{major:,}.{cents:02d}"


def spaced(code: str) -> str:
    """A code read out one character at a time (text-to-speech): "K7Q2" -> "K 7 Q 2"."""
    return " ".join(ch for ch in str(code) if ch.isalnum())


def _environment(html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=html, keep_trailing_newline=False
    )
    env.filters["money"] = money
    env.filters["spaced"] = spaced
    return env


_ENVS = {True: _environment(True), False: _environment(False)}


@functools.lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> jinja2.Template:
    """A template's text compiled once (the dispatcher renders thousands a second)."""
    return _ENVS[html].from_string(source)


def render(t: Template, context: dict[str, Any]) -> Rendered:
    html = t.channel in HTML
    subject = _compiled(t.subject, html).render(context).strip() if t.subject else None
    body = _compiled(t.body, html).render(context).strip()
    return Rendered(subject, body, html)


# ------------------------------------------------------------------------------------------
# reading and linting


def parse(text: str, source: str, locale: str) -> list[Template]:
    """The templates of one locale file; structural problems raise :class:`TemplateError`."""
    try:
        root = parse_yaml(text, source)[0]
    except ParseLimit as exc:
        raise TemplateError([Problem(source, "-", "file", str(exc))]) from exc
    except yaml.YAMLError as exc:
        raise TemplateError([Problem(source, "-", "file", f"not valid YAML: {exc}")]) from exc
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise TemplateError([Problem(f"{source}:1", "-", "file", "expected a mapping of names")])
    out, problems = [], []
    for key, node in root.value:
        where = f"{source}:{key.start_mark.line + 1}"
        found = _entry(str(key.value), node, where, locale)
        if isinstance(found, Template):
            out.append(found)
        else:
            problems += found
    if problems:
        raise TemplateError(problems)
    return out


#: whitespace between two non-ASCII characters: in Chinese text a folded line break (YAML's
#: ">-" turns it into a space) is not a word gap, so it is dropped
_CJK_GAP = re.compile(r"(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])")


def _one_of(value: object, allowed: tuple[str, ...]) -> str:
    return f"expected one of {', '.join(allowed)}, got {value!r}"


def _entry(name: str, node: yaml.Node, where: str, locale: str) -> Template | list[Problem]:
    """One template of a file, or what is wrong with it."""
    if not isinstance(node, yaml.MappingNode):
        return [Problem(where, name, "template", "expected a mapping")]
    spec = {str(k.value): v.value for k, v in node.value if isinstance(v, yaml.ScalarNode)}
    problems = [
        Problem(where, name, extra, "unknown field")
        for extra in sorted(set(spec) - {"channel", "audience", "subject", "body"})
    ]
    channel = spec.get("channel")
    audience = spec.get("audience", "debtor")
    if channel not in CHANNELS:
        problems.append(Problem(where, name, "channel", _one_of(channel, CHANNELS)))
    if audience not in AUDIENCES:
        problems.append(Problem(where, name, "audience", _one_of(audience, AUDIENCES)))
    if not spec.get("body"):
        problems.append(Problem(where, name, "body", "missing"))
    if channel in WITH_SUBJECT and not spec.get("subject"):
        problems.append(Problem(where, name, "subject", f"a {channel} template needs one"))
    if problems:
        return problems
    body = str(spec["body"])
    if locale.startswith("zh") and channel not in HTML:
        body = _CJK_GAP.sub("", body)
    return Template(
        name=name,
        locale=locale,
        channel=str(channel),
        body=body,
        subject=str(spec["subject"]) if spec.get("subject") else None,
        audience=audience,
        source=where,
    )


def _used(t: Template) -> tuple[set[str], set[str]]:
    """(top-level variables, dotted attributes such as "debt.dpd") the template uses."""
    env = _ENVS[t.channel in HTML]
    names: set[str] = set()
    dotted: set[str] = set()
    for part in (t.subject, t.body):
        if not part:
            continue
        ast = env.parse(part)
        names |= meta.find_undeclared_variables(ast)
        from jinja2 import nodes

        for node in ast.find_all(nodes.Getattr):
            if isinstance(node.node, nodes.Name):
                dotted.add(f"{node.node.name}.{node.attr}")
    return names, dotted


def lint(t: Template, books: dict[str, Rulebook]) -> list[Problem]:
    """Every problem with ``t`` (empty: it may be loaded)."""
    try:
        names, dotted = _used(t)
    except TemplateSyntaxError as exc:
        msg = f"template syntax, line {exc.lineno}: {exc.message}"
        return [Problem(t.source or "-", t.name, "body", msg)]
    unknown = _unknown(names, dotted)
    if unknown:
        return [Problem(t.source or "-", t.name, "body", m) for m in unknown]
    found = _required(t, names, dotted)
    try:
        text = render(t, sample_context(t.locale)).text
    except (UndefinedError, SecurityError, TypeError, ValueError) as exc:
        found.append(f"does not render: {exc}")
    else:
        for book_id, book in sorted(books.items()):
            found += _rules(t, text, book_id, book)
    return [Problem(t.source or "-", t.name, "body", m) for m in found]


def _unknown(names: set[str], dotted: set[str]) -> list[str]:
    out = [f"unknown variable {n!r}" for n in sorted(names - set(VARIABLES))]
    for d in sorted(dotted):
        top, attr = d.split(".", 1)
        if top in VARIABLES and VARIABLES[top] and attr not in VARIABLES[top]:
            known = ", ".join(f"{top}.{a}" for a in VARIABLES[top])
            out.append(f"unknown variable {d!r} (expected one of {known})")
    return out


def _required(t: Template, names: set[str], dotted: set[str]) -> list[str]:
    """What the template must or must not say, from the variables it uses."""
    out = []
    if t.audience == "third_party":
        out += [
            f"a third party's template must not use {n!r} (the debt)"
            for n in sorted(names & DEBT_VARIABLES)
        ]
    else:
        if "code" not in names:
            out.append("carries no verification code ({{ code }})")
        if not any(f"debt.{a}" in dotted for a in AMOUNTS):
            out.append("states no amount (debt.total_due or debt.next_amount)")
    if t.channel != "push":
        out += [
            f"does not name {need}" for need in ("org.name", "collector.id") if need not in dotted
        ]
    return out


def _rules(t: Template, text: str, book_id: str, book: Rulebook) -> list[str]:
    """The rulebook's content and disclosure rules (and third-party rules) on the sample text."""
    attempt = Attempt(
        channel=GATE_CHANNEL[t.channel],
        at=datetime(2026, 1, 5, 4, tzinfo=UTC),
        person_id="lint",
        debt_ids=("LINT",),
        role="debtor" if t.audience == "debtor" else "emergency_contact",
        content=text,
    )
    req = Request(attempt=attempt)
    found = []
    if book.applies("content"):
        found += content.check(req, book)
    if book.applies("disclosure"):
        found += disclosure.check(req, book)
    out = [f"[{v.rule}] {v.en}" for v in found]
    if t.audience == "third_party" and book.applies("third_party"):
        hits = lexicon(tuple(book.content.lexicon)).reveals_debt(text)
        out += [f"[{book_id}] reveals the debt to a third party: {h.term!r}" for h in hits]
    return out


def sample_context(locale: str) -> dict[str, Any]:
    """A made-up account to lint templates on (and the shape of every rendering context)."""
    zh = locale.startswith("zh")
    return {
        "org": {
            "name": "示例消费金融" if zh else "Example Consumer",
            "phone": "400-000-0000",
            "verify_url": "https://verify.example.com",
            "pay_how": "在App内“我的借款”还款或转账至还款账户"
            if zh
            else "in the app under My loans, or by bank transfer",
            "address": "上海市浦东新区示例路1号" if zh else "1 Example Road, Shanghai",
        },
        "collector": {"id": "C0001", "name": "王专员" if zh else "Agent Wang"},
        "borrower": {"name": "张三" if zh else "Zhang San"},
        "loan": {"ref": "L-0000001", "product": "cash_loan", "currency": "CNY"},
        "debt": {
            "as_of": "2026-01-05",
            "dpd": 35,
            "total_due": 222727,
            "overdue_principal": 180000,
            "overdue_interest": 20000,
            "overdue_fee": 5000,
            "penalty": 17727,
            "daily_rate": "0.05%",
            "next_due": "2026-02-15",
            "next_amount": 102500,
        },
        "code": "K7Q2M9XD",
        "today": "2026-01-05",
    }


def read_folder(folder: Path) -> list[Template]:
    """Every template of every ``<locale>.yaml`` in ``folder`` (not yet linted)."""
    out: list[Template] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        locale = path.stem
        if locale not in LOCALES:
            problems.append(
                Problem(
                    str(path),
                    "-",
                    "file",
                    f"the file name is the locale: one of {', '.join(LOCALES)}",
                )
            )
            continue
        try:
            out += parse(path.read_text(encoding="utf-8"), str(path), locale)
        except TemplateError as exc:
            problems += exc.problems
    if problems:
        raise TemplateError(problems)
    return out


def check_all(templates: list[Template], books: dict[str, Rulebook]) -> None:
    """Raise :class:`TemplateError` with every problem of every template."""
    problems = [p for t in templates for p in lint(t, books)]
    if problems:
        raise TemplateError(problems)
