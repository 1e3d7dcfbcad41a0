"""The import graph of ``src/arrears``, built with ``ast`` (imports inside functions count too):
fails, naming the modules, on an import cycle, on a lower layer importing a higher one, on a
service room importing a room it may not, and on an entrypoint (``web/``, ``cli/``) reading
the store's tables itself.

    python scripts/layers.py          # exit 0 when the map holds, 1 with the breaches listed

The map is docs/ARCHITECTURE.md's; each service room's ``__init__`` says the same in words.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: layers from the bottom: a package may import its own modules and those of lower layers
#: (and, in a layer marked ``peers``, the other packages of its layer)
LAYERS: list[tuple[str, set[str], bool]] = [
    ("foundation", {"arrears", "arrears.ids", "arrears.parsing", "arrears.settings",
                    "arrears.parallel", "arrears.exports"}, True),
    ("domain", {"arrears.domain"}, False),
    ("rules", {"arrears.compliance", "arrears.strategy"}, False),
    ("adapters", {"arrears.store", "arrears.channels"}, False),
    ("bootstrap", {"arrears.bootstrap"}, False),
    ("engine", {"arrears.cycle"}, False),
    ("service", {"arrears.service"}, False),
    ("tools", {"arrears.generate"}, False),
    ("learning", {"arrears.learn"}, False),
    ("web", {"arrears.web"}, False),
    ("cli", {"arrears.cli"}, False),
    ("main", {"arrears.__main__"}, False),
]  # fmt: skip

#: the service's rooms, from the bottom; a room may import the service's shared modules
#: (errors, store, throttle) and the rooms below it
ROOMS = ["books", "queries", "outreach", "cases", "conduct", "daily", "borrower", "staff"]
SHARED = {"errors", "store", "throttle"}
#: rooms side by side that must not import each other
SIDE_BY_SIDE = {frozenset({"borrower", "staff"})}

#: what the entrypoints may not import: they ask the service (its queries for reads)
ENTRYPOINTS = ("arrears.web", "arrears.cli")
FORBIDDEN_TO_ENTRYPOINTS = ("arrears.store.tables",)


def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.with_suffix("").relative_to(SRC).parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours ``path`` imports (``from a import b`` is ``a.b`` when that is one)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return {m for m in out if m in known}


def package(module: str) -> str:
    parts = module.split(".")
    if module == "arrears.__main__" or len(parts) == 1:
        return module
    if parts[1].startswith("cli"):
        return "arrears.cli"
    return ".".join(parts[:2]) if len(parts) > 2 or parts[1] in _PACKAGES else module


_PACKAGES = {"domain", "compliance", "strategy", "store", "channels", "cycle", "service",
             "generate", "learn", "web", "cli"}  # fmt: skip


def layer(module: str) -> int:
    pkg = package(module)
    for rank, (_, members, _) in enumerate(LAYERS):
        if pkg in members:
            return rank
    raise SystemExit(f"layers: {module} is in no layer; add its package to scripts/layers.py")


def room(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] != ["arrears", "service"] or len(parts) < 3:
        return None
    return parts[2]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def room_breach(src: str, dst: str) -> str | None:
    a, b = room(src), room(dst)
    if a is None or b is None or a == b or b in SHARED:
        return None
    if a in SHARED:
        return f"{src} (shared) imports the room {b}"
    if a not in ROOMS or b not in ROOMS:
        return f"{src} or {dst} is in no room; add it to ROOMS in scripts/layers.py"
    if frozenset({a, b}) in SIDE_BY_SIDE or ROOMS.index(b) > ROOMS.index(a):
        return f"{src} ({a}) imports {dst} ({b}), a room it may not"
    return None


def breaches(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for src, targets in sorted(graph.items()):
        for dst in sorted(targets):
            ps, pd = package(src), package(dst)
            if ps != pd:
                ls, ld = layer(src), layer(dst)
                peers = ls == ld and LAYERS[ls][2]
                if ld > ls or (ld == ls and not peers):
                    out.append(f"{src} ({LAYERS[ls][0]}) imports {dst} ({LAYERS[ld][0]})")
            breach = room_breach(src, dst)
            if breach:
                out.append(breach)
            if src.startswith(ENTRYPOINTS) and dst.startswith(FORBIDDEN_TO_ENTRYPOINTS):
                out.append(f"{src} reads the store's tables itself ({dst}); ask a query")
    return out


def main() -> int:
    known = modules()
    graph = defaultdict(set, {m: imports(p, known) - {m} for m, p in known.items()})
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)] + breaches(graph)
    for p in problems:
        print(f"layers: {p}", file=sys.stderr)
    if problems:
        print(f"layers: {len(problems)} breaches of the map", file=sys.stderr)
        return 1
    print(f"layers: {len(known)} modules, {sum(map(len, graph.values()))} imports, no breach")
    return 0


if __name__ == "__main__":
    sys.exit(main())
