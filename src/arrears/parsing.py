"""JSON and YAML from outside, read within limits.

Every document a user or a provider hands us (a strategy upload, a webhook's body, a settings
file) is read through here, so no input can make the reader itself the attack:

* **size**: refused before parsing above ``max_bytes``;
* **nesting**: refused above ``max_depth`` levels (JSON is measured before it is parsed, so
  50,000 nested brackets never reach the recursive parser; YAML while it is composed);
* **YAML aliases**: at most ``max_aliases`` references, and the document as expanded (every
  alias counted as the nodes it stands for) at most ``max_nodes`` nodes, so a few lines of
  "billion laughs" cannot grow into gigabytes when the data is walked;
* **numbers**: not-a-number and infinities are refused, and so are numbers too long to be
  money or counts (:data:`MAX_NUMBER_DIGITS`).

A refusal is a :class:`ParseLimit` (a ``ValueError``) whose message names the document and
the limit, e.g. ``strategy.yaml: nesting deeper than 64 levels``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import yaml

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_NODES = 200_000
#: the longest number a document may carry (a 19-digit amount is already 10^17 yuan)
MAX_NUMBER_DIGITS = 40

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_LONG_NUMBER = re.compile(rb"[0-9]{%d,}" % (MAX_NUMBER_DIGITS + 1))


class ParseLimit(ValueError):
    """A document over one of the limits, or not well formed; the message names it."""


def json_depth(raw: bytes) -> int:
    """How deeply ``raw``'s arrays and objects nest (strings skipped), without parsing it."""
    bare = _STRINGS.sub(b'""', raw)
    codes = np.frombuffer(bare, np.uint8)
    steps = np.zeros(codes.shape[0], np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max()) if steps.size else 0


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ParseLimit(f"the number {text[:20]}… is out of range")
    return value


def _constant(name: str) -> Any:
    raise ParseLimit(f"{name} is not a number JSON allows")


def load_json(
    data: bytes | str, where: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """``data`` parsed as JSON within the limits; :class:`ParseLimit` names ``where``."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise ParseLimit(f"{where}: larger than {max_bytes:,} bytes")
    depth = json_depth(raw)
    if depth > max_depth:
        raise ParseLimit(f"{where}: nesting deeper than {max_depth} levels")
    if _LONG_NUMBER.search(_STRINGS.sub(b'""', raw)):
        raise ParseLimit(f"{where}: a number longer than {MAX_NUMBER_DIGITS} digits")
    try:
        return json.loads(raw, parse_float=_finite, parse_constant=_constant)
    except ParseLimit as exc:
        raise ParseLimit(f"{where}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ParseLimit(f"{where}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ParseLimit(f"{where}: not JSON: {exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}") from None  # fmt: skip
    except (ValueError, RecursionError) as exc:
        raise ParseLimit(f"{where}: not JSON: {exc}") from None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, counting depth, aliases and nodes as it composes."""

    max_depth = MAX_DEPTH
    max_aliases = MAX_ALIASES
    where = "document"

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self.max_aliases:
                raise ParseLimit(f"{self.where}: more than {self.max_aliases} aliases")
        self._depth += 1
        if self._depth > self.max_depth:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise ParseLimit(f"{self.where}:{mark.line + 1}: nesting deeper than "
                             f"{self.max_depth} levels")  # fmt: skip
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded(node: yaml.Node, memo: dict[int, int], cap: int) -> int:
    """Nodes in ``node`` with every alias expanded (each shared node counted once per use)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = cap + 1  # a node inside itself (a recursive alias) is over any limit
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded(child, memo, cap)
            if total > cap:
                break
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded(k, memo, cap) + _expanded(v, memo, cap)
            if total > cap:
                break
    memo[key] = total
    return total


def load_yaml(
    text: str | bytes,
    where: str,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_nodes: int = MAX_NODES,
) -> Any:
    """``text`` parsed as YAML (the safe subset) within the limits; :class:`ParseLimit` names
    ``where`` (and the line, for nesting); other YAML errors are ``yaml.YAMLError`` as usual."""
    return parse_yaml(text, where, max_bytes=max_bytes, max_depth=max_depth,
                      max_aliases=max_aliases, max_nodes=max_nodes)[1]  # fmt: skip


def parse_yaml(
    text: str | bytes,
    where: str,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_nodes: int = MAX_NODES,
) -> tuple[yaml.Node | None, Any]:
    """:func:`load_yaml`, with the composed node tree too (its marks give line numbers)."""
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise ParseLimit(f"{where}: larger than {max_bytes:,} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseLimit(f"{where}: not UTF-8 (byte {exc.start})") from None
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ParseLimit(f"{where}: larger than {max_bytes:,} bytes")
    loader = _Loader(text)
    loader.max_depth, loader.max_aliases, loader.where = max_depth, max_aliases, where
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if _expanded(node, {}, max_nodes) > max_nodes:
            raise ParseLimit(f"{where}: more than {max_nodes:,} values once its aliases are "
                             "expanded")  # fmt: skip
        return node, loader.construct_document(node)
    except RecursionError:
        raise ParseLimit(f"{where}: nesting too deep") from None
    except ParseLimit:
        raise
    except ValueError as exc:  # a value PyYAML cannot build (an integer of 5,000 digits ...)
        raise ParseLimit(f"{where}: {exc}") from None
    finally:
        loader.dispose()
