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
MAX_INT_BITS = 133  # 10^40 < 2^133

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
        data = json.loads(raw, parse_float=_finite, parse_constant=_constant)
        _whole_text(data)
        return data
    except ParseLimit as exc:
        raise ParseLimit(f"{where}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ParseLimit(f"{where}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ParseLimit(
            f"{where}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ParseLimit(f"{where}: not JSON: {exc}") from None


def _whole_text(data: Any) -> None:
    """Every string is text that UTF-8 can hold (JSON's ``\\ud800`` escape makes a lone
    surrogate, which no store, file or page can)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ParseLimit("a string holds a lone surrogate (\\ud800-\\udfff)") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int) and item.bit_length() > MAX_INT_BITS:
            raise ParseLimit(f"a number longer than {MAX_NUMBER_DIGITS} digits")


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
            raise ParseLimit(
                f"{self.where}:{mark.line + 1}: nesting deeper than {self.max_depth} levels"
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded(
    node: yaml.Node, memo: dict[int, tuple[int, int]], cap: int, level: int = 0
) -> tuple[int, int]:
    """(nodes, depth) of ``node`` with every alias expanded (each shared node counted once per
    use, and as deep as where it is used)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if level > MAX_DEPTH * 4:  # deeper than any limit: stop before Python's stack does
        return cap + 1, level
    memo[key] = (cap + 1, cap + 1)  # a node inside itself (a recursive alias) is over any limit
    total, deepest = 1, 0
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [x for pair in node.value for x in pair]
    for child in children:
        size, depth = _expanded(child, memo, cap, level + 1)
        total += size
        deepest = max(deepest, depth)
        if total > cap:
            break
    memo[key] = (total, deepest + 1)
    return memo[key]


def _within(node: yaml.Node, where: str, max_nodes: int, max_depth: int) -> None:
    size, depth = _expanded(node, {}, max_nodes)
    if size > max_nodes:
        raise ParseLimit(f"{where}: more than {max_nodes:,} values once its aliases are expanded")
    if depth > max_depth:
        raise ParseLimit(
            f"{where}: nesting deeper than {max_depth} levels once its aliases are expanded"
        )


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
    return parse_yaml(
        text,
        where,
        max_bytes=max_bytes,
        max_depth=max_depth,
        max_aliases=max_aliases,
        max_nodes=max_nodes,
    )[1]


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
        _within(node, where, max_nodes, max_depth)
        data = loader.construct_document(node)
        _whole_text(data)
        return node, data
    except RecursionError:
        raise ParseLimit(f"{where}: nesting too deep") from None
    except ParseLimit:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # a value PyYAML cannot build (an integer of 5,000 digits, !!bool maybe, !!int '_' ...)
        raise ParseLimit(f"{where}: a value that cannot be read ({type(exc).__name__})") from None
    finally:
        loader.dispose()
