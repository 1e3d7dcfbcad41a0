"""The vectorised compiler: a parsed expression (see :mod:`arrears.strategy.expr`) becomes an Ibis
expression over a table of accounts, run by DuckDB (embedded) or Spark. SQL's three-valued logic
is what the scalar evaluator follows, so both give the same answer row for row; division by
zero is null in both."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from arrears.strategy.expr import Binary, ListLit, Lit, Name, Node, Unary


def compile_expr(node: Node, table: ir.Table) -> Any:
    """An Ibis value expression computing ``node`` for every row of ``table``."""
    if isinstance(node, Lit):
        return ibis.null() if node.value is None else ibis.literal(node.value)
    if isinstance(node, Name):
        return table[node.name]
    if isinstance(node, ListLit):
        return list(node.items)
    if isinstance(node, Unary):
        arg = compile_expr(node.arg, table)
        return ~arg if node.op == "not" else -arg
    return _binary(node, table)


def _binary(node: Binary, table: ir.Table) -> Any:
    left = compile_expr(node.left, table)
    right = compile_expr(node.right, table)
    op = node.op
    if op == "and":
        return left & right
    if op == "or":
        return left | right
    if op in ("in", "notin"):
        values = right if isinstance(right, list) else [right]
        return left.isin(values) if op == "in" else left.notin(values)
    if op == "/":
        return ibis.ifelse(right == 0, ibis.null(), left / right)
    return {
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
        "==": lambda: left == right,
        "!=": lambda: left != right,
    }[op]()
