"""The decision log's rows (docs/LEARNING.md), from the plan query's decision columns: one row a
step's decision for each acting account, in the store's ``decision`` table and, in the data-lake
mode, ``decisions.parquet``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from arrears.cycle.plan import DECIDED_ON
from arrears.ids import SEP
from arrears.strategy.model import Strategy

#: the log's columns, in order (the store adds the run)
COLUMNS = [
    "decision_id",
    "business_date",
    "loan_id",
    "stage",
    "segment",
    "decision",
    "step_id",
    "taken",
    "status",
    "rule",
    "candidates",
    "n_ok",
    "propensity",
    "explored",
    "policy",
    "experiment",
    "arm",
    *(f"x_{name}" for name in DECIDED_ON),
]


def options(strategy: Strategy) -> dict[str, list[str]]:
    """Each decision's options in their listed order: a choice's channels, a fixed step's one."""
    out: dict[str, list[str]] = {}
    for s in strategy.steps:
        out.setdefault(s.group or s.id, []).append(s.channel)
    return out


def policy_name(strategy: Strategy) -> str:
    return f"{strategy.name}@{strategy.version}"[:64]


def log_rows(decisions: pa.Table, strategy: Strategy) -> pa.Table:
    """The log's rows (:data:`COLUMNS`) of a day's decisions (``DayPlan.decisions``):
    ``candidates`` names the compliant options (comma-separated, in listed order), ``taken`` the
    one taken (``none`` for doing nothing; null when nothing was compliant)."""
    n = decisions.num_rows
    listed = options(strategy)
    keys = pc.binary_join_element_wise(
        decisions["decision"], pc.cast(decisions["options_ok"], pa.string()), "#"
    )
    unique = pc.unique(keys).to_pylist()
    names = []
    for key in unique:
        decision, _, mask = str(key).rpartition("#")
        bits = int(mask)
        names.append(",".join(c for k, c in enumerate(listed.get(decision, [])) if bits >> k & 1))
    candidates = pc.take(pa.array(names, pa.string()), pc.index_in(keys, pa.array(unique)))
    taken = pc.if_else(pc.is_valid(decisions["propensity"]), decisions["channel"], None)
    day = pc.cast(decisions["business_date"], pa.string())
    ids = pc.binary_join_element_wise(day, decisions["loan_id"], decisions["decision"], SEP)
    cols = {
        "decision_id": ids,
        "business_date": decisions["business_date"],
        "loan_id": decisions["loan_id"],
        "stage": decisions["stage"],
        "segment": decisions["segment"],
        "decision": decisions["decision"],
        "step_id": decisions["step_id"],
        "taken": taken,
        "status": decisions["status"],
        "rule": decisions["rule"],
        "candidates": candidates,
        "n_ok": pc.cast(decisions["n_ok"], pa.int64()),
        "propensity": decisions["propensity"],
        "explored": pc.fill_null(decisions["explored"], False),
        "policy": pa.array([policy_name(strategy)] * n, pa.string()),
        "experiment": decisions["experiment"],
        "arm": decisions["arm"],
        **{f"x_{name}": decisions[f"x_{name}"] for name in DECIDED_ON},
    }
    return pa.table(cols)
