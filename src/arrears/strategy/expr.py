"""A small, safe expression language for strategy conditions and priorities (no ``eval``).

    dpd >= 18 and total_due > 100000 and not promise_active
    total_due * (1 - score)
    product in ["cash_loan", "instalment"] and last_contact_result != "refused"

Grammar (lowest precedence first): ``or``; ``and``; ``not``; comparisons (``< <= > >= == !=
in``, ``not in``); ``+ -``; ``* /``; unary ``-``; literals (integers, decimals, "strings",
``true``, ``false``, ``null``, ``[lists]``), attribute names, parentheses. An expression is parsed
once into a tree that names only attributes from a declared set; each engine compiles the tree
(the scalar evaluator here; the vectorised one builds Ibis expressions from the same tree).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<op><=|>=|==|!=|[-+*/<>()\[\],])|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
#: limits that keep a condition a condition: its length, how deep brackets and operators may
#: nest, and how many digits a number may have (past these it is refused, never evaluated)
MAX_SOURCE = 4000
MAX_DEPTH = 48
MAX_TREE = 200  # operators chained (a and b and c ...) count one level each
MAX_DIGITS = 30
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r", "/": "/"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)


class ExprError(ValueError):
    """A malformed expression; ``position`` is the 0-based column of the fault."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at column {position + 1})")
        self.position = position


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class ListLit:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Unary:
    op: str  # "not" | "-"
    arg: Node


@dataclass(frozen=True)
class Binary:
    op: str  # and or + - * / < <= > >= == != in notin
    left: Node
    right: Node


Node = Lit | Name | ListLit | Unary | Binary


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if m is None or m.end() == pos:
            raise ExprError(
                f"unexpected character {source[pos:].lstrip()[:1]!r}",
                len(source) - len(source[pos:].lstrip()),
            )
        kind = m.lastgroup or ""
        text = m.group(kind)
        start = m.start(kind)
        if kind == "name" and text in KEYWORDS:
            kind = "kw"
        out.append(_Tok(kind, text, start))
        pos = m.end()
    out.append(_Tok("end", "", len(source)))
    return out


class _Parser:
    def __init__(self, source: str, names: Mapping[str, str]) -> None:
        self.toks = _tokens(source)
        self.k = 0
        self.names = names

    @property
    def tok(self) -> _Tok:
        return self.toks[self.k]

    def take(self, text: str | None = None, kind: str | None = None) -> _Tok | None:
        t = self.tok
        if (text is None or t.text == text) and (kind is None or t.kind == kind):
            self.k += 1
            return t
        return None

    def expect(self, text: str) -> None:
        if self.take(text) is None:
            raise ExprError(
                f"expected {text!r}, found {self.tok.text or 'the end'!r}", self.tok.pos
            )

    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "end":
            raise ExprError(f"unexpected {self.tok.text!r}", self.tok.pos)
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.take("or", "kw"):
            node = Binary("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.take("and", "kw"):
            node = Binary("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.take("not", "kw"):
            return Unary("not", self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.sum()
        t = self.tok
        if t.kind == "op" and t.text in ("<", "<=", ">", ">=", "==", "!="):
            self.k += 1
            return Binary(t.text, node, self.sum())
        if self.take("in", "kw"):
            return Binary("in", node, self.sum())
        if t.kind == "kw" and t.text == "not" and self.toks[self.k + 1].text == "in":
            self.k += 2
            return Binary("notin", node, self.sum())
        return node

    def sum(self) -> Node:
        node = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-":
            op = self.tok.text
            self.k += 1
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.tok.kind == "op" and self.tok.text in "*/":
            op = self.tok.text
            self.k += 1
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.take("-", "op"):
            return Unary("-", self.unary())
        return self.atom()

    def list_(self, opening: _Tok) -> ListLit:
        return _list_items(self, opening)

    def atom(self) -> Node:
        t = self.tok
        self.k += 1
        if t.kind == "num":
            if len(t.text.replace(".", "")) > MAX_DIGITS:
                raise ExprError(f"a number of more than {MAX_DIGITS} digits", t.pos)
            return Lit(float(t.text) if "." in t.text else int(t.text))
        if t.kind == "str":
            return Lit(_unescape(t.text[1:-1], t.pos))
        if t.kind == "kw" and t.text in ("true", "false", "null"):
            return Lit({"true": True, "false": False, "null": None}[t.text])
        if t.kind == "name":
            if t.text not in self.names:
                known = ", ".join(sorted(self.names))
                raise ExprError(f"unknown attribute {t.text!r}; known: {known}", t.pos)
            return Name(t.text)
        if t.text == "(":
            node = self.or_()
            self.expect(")")
            return node
        if t.text == "[":
            return self.list_(t)
        raise ExprError(f"unexpected {t.text or 'end of expression'!r}", t.pos)


def _unescape(body: str, pos: int) -> str:
    """A string literal's text with its escapes (backslash, quotes, n, t, r, / and uXXXX)
    resolved; any other escape is refused."""

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        if code in _ESCAPES:
            return _ESCAPES[code]
        raise ExprError(f"unknown escape \\{code} in a string", pos + 1 + m.start())

    return _ESCAPE.sub(one, body)


def depth(node: Node) -> int:
    """How deeply ``node`` nests (its longest path from the root), counted without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(n, Unary):
            stack.append((n.arg, d + 1))
        elif isinstance(n, Binary):
            stack.extend(((n.left, d + 1), (n.right, d + 1)))
    return deepest


def names_in(node: Node) -> set[str]:
    """The attribute names ``node`` reads."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            out.add(n.name)
        elif isinstance(n, Unary):
            stack.append(n.arg)
        elif isinstance(n, Binary):
            stack.extend((n.left, n.right))
    return out


def _list_items(p: _Parser, opening: _Tok) -> ListLit:
    items: list[Any] = []
    while not p.take("]"):
        item = p.atom()
        if not isinstance(item, Lit):
            raise ExprError("a list holds literals only", opening.pos)
        items.append(item.value)
        if not p.take(","):
            p.expect("]")
            break
    return ListLit(tuple(items))


def parse(source: str, names: Mapping[str, str]) -> Node:
    """Parse ``source``; ``names`` maps each allowed attribute to its type (for documentation
    and for the engines)."""
    if not isinstance(source, str) or not source.strip():
        raise ExprError("empty expression", 0)
    if len(source) > MAX_SOURCE:
        raise ExprError(f"longer than {MAX_SOURCE} characters", MAX_SOURCE)
    opened = 0
    for k, ch in enumerate(source):  # brackets counted before the recursive parser sees them
        opened += ch in "(["
        opened -= ch in ")]"
        if opened > MAX_DEPTH:
            raise ExprError(f"brackets nested deeper than {MAX_DEPTH}", k)
    try:
        node = _Parser(source, names).parse()
    except RecursionError:
        raise ExprError(f"nested deeper than {MAX_DEPTH}", 0) from None
    if depth(node) > MAX_TREE:
        raise ExprError(f"more than {MAX_TREE} operators deep", 0)
    return node


def _num(value: Any) -> Any:
    """Decimals (rates, scores from the store) become floats, as in the vectorised engine."""
    return float(value) if isinstance(value, Decimal) else value


def evaluate(node: Node, env: Mapping[str, Any]) -> Any:
    """The scalar evaluator: one account's attributes in, a value out. ``null`` compares false
    and propagates through arithmetic, as SQL's NULL does in the vectorised engine."""
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Name):
        return _num(env.get(node.name))
    if isinstance(node, ListLit):
        return node.items
    if isinstance(node, Unary):
        arg = evaluate(node.arg, env)
        if node.op == "not":
            return None if arg is None else not arg
        return None if arg is None else -arg
    return _binary(node, env)


def _binary(node: Binary, env: Mapping[str, Any]) -> Any:
    op = node.op
    left = evaluate(node.left, env)
    if op == "and":
        if left is False:
            return False
        right = evaluate(node.right, env)
        return False if right is False else (None if None in (left, right) else True)
    if op == "or":
        if left is True:
            return True
        right = evaluate(node.right, env)
        return True if right is True else (None if None in (left, right) else False)
    right = evaluate(node.right, env)
    if left is None or right is None:
        return None
    if op in ("in", "notin"):
        found = left in right
        return found if op == "in" else not found
    if op == "/":
        return None if right == 0 else left / right
    return _OPS[op](left, right)


_OPS: dict[str, Any] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def truthy(value: Any) -> bool:
    """A condition holds only when it is true (null counts as false, as in SQL WHERE)."""
    return value is True
