"""Next best action under capacity: each account gets at most one treatment today, the one
worth most net of its cost and complaint risk, while the people's treatments fit their lanes
(agent minutes per queue and time slot, visits per field team, agency pool places). Compliance
is not decided here: a treatment the gate refuses is never offered (``allowed`` false).

The optimiser (:func:`optimal`) is a linear programme solved by HiGHS. Beside it, the greedy
baseline ("uplift per minute", :func:`greedy`): each account's best treatment that uses no
capacity (SMS, push, email, letters, automated calls) is its fallback; a lane's treatment is
taken, best first by what it adds over the fallback per unit of capacity, while the lane has
room; the rest keep their fallback (if it is worth anything).

The cycle uses them once its plan has shown what the gate allows (:func:`reserve`, from
:func:`arrears.cycle.run.make_plan`): a strategy whose choices are scored gives its queue and
pool places to the accounts they add most for over their best option without a place
(``allocation: optimal``, the default, or ``greedy``), and plans the day again with the places
withheld from the rest, who then take their best other option instead of waiting for the
queue to cut them. What fixed steps and explored draws put in a lane comes off its places
first. When the first plan already took what the allocation gives, it stands.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

from arrears.cycle.decisions import log_rows
from arrears.strategy.model import Strategy

NONE = -1  # an account left untreated today


@dataclass(frozen=True)
class Allocation:
    #: the treatment (column) chosen for each account, or :data:`NONE`
    chosen: NDArray[np.int64]
    #: the expected value of the day's choice, added up
    value: float
    #: the capacity each lane has left
    left: NDArray[np.float64]


def greedy(
    value: ArrayLike,
    allowed: ArrayLike,
    lane: ArrayLike,
    use: ArrayLike,
    capacity: ArrayLike,
) -> Allocation:
    """The greedy allocation. ``value`` (n x K): each account's expected net value of each
    treatment over doing nothing; ``allowed`` (n x K): what the gate and the strategy allow;
    ``lane`` (K): the lane each treatment uses (-1: none); ``use`` (K): how much of it (agent
    minutes, a visit, a place); ``capacity`` (L): each lane's size today."""
    v = np.asarray(value, dtype=np.float64)
    ok = np.asarray(allowed, dtype=bool)
    lanes = np.asarray(lane, dtype=np.int64)
    cost = np.asarray(use, dtype=np.float64)
    left = np.asarray(capacity, dtype=np.float64).copy()
    n, k = v.shape
    if ok.shape != (n, k) or lanes.shape != (k,) or cost.shape != (k,):
        raise ValueError(
            f"allowed, lane, use: expected {n} x {k}, {k} and {k} values, got {ok.shape}, "
            f"{lanes.shape} and {cost.shape}"
        )
    if np.any(lanes >= left.shape[0]) or np.any((lanes >= 0) & (cost <= 0)):
        raise ValueError("lane, use: a treatment's lane must exist and use some of it")
    chosen = np.full(n, NONE, dtype=np.int64)
    free = lanes < 0
    fallback, gain = _fallback(v, ok, free)
    # a lane's treatment where it adds most over the fallback per unit of capacity, best first
    rows, cols = np.nonzero(ok & ~free[None, :] & (v > gain[:, None]))
    extra = v[rows, cols] - gain[rows]
    order = np.lexsort((rows, -extra / cost[cols]))
    for idx in order:
        i, j = rows[idx], cols[idx]
        if chosen[i] != NONE or left[lanes[j]] < cost[j]:
            continue
        left[lanes[j]] -= cost[j]
        chosen[i] = j
    chosen = np.where(chosen == NONE, fallback, chosen)
    picked = chosen != NONE
    total = float(np.sum(v[np.nonzero(picked)[0], chosen[picked]]))
    return Allocation(chosen, total, left)


def _fallback(
    v: NDArray[np.float64], ok: NDArray[np.bool_], free: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Each account's best treatment that uses no capacity, when it is worth something (else
    :data:`NONE`), and what it is worth (0 for none): its fallback."""
    n = v.shape[0]
    if not free.any():
        return np.full(n, NONE, dtype=np.int64), np.zeros(n)
    cols_free = np.nonzero(free)[0]
    worth = np.where(ok[:, cols_free], v[:, cols_free], -np.inf)
    best = cols_free[np.argmax(worth, axis=1)]
    top = worth[np.arange(n), np.argmax(worth, axis=1)]
    return np.where(top > 0, best, NONE).astype(np.int64), np.where(top > 0, top, 0.0)


def optimal(
    value: ArrayLike,
    allowed: ArrayLike,
    lane: ArrayLike,
    use: ArrayLike,
    capacity: ArrayLike,
) -> Allocation:
    """The best allocation, as a linear programme solved by HiGHS (the arguments as for
    :func:`greedy`): maximise the value chosen, each account at most one treatment, each lane
    within its capacity. With one unit of a lane per treatment (a visit, a place) the
    programme's vertices are whole; with minutes it may split an account between two lanes,
    so the solution is rounded down (a split account takes its larger share, if that fits,
    else its best free treatment) and is never worse than what the programme proves possible
    minus what rounding lost, which the tests bound against the greedy baseline."""
    import highspy

    v = np.asarray(value, dtype=np.float64)
    ok = np.asarray(allowed, dtype=bool)
    lanes = np.asarray(lane, dtype=np.int64)
    cost = np.asarray(use, dtype=np.float64)
    cap = np.asarray(capacity, dtype=np.float64)
    n, k = v.shape
    # what needs no place is each account's to take: its best free treatment (or nothing) is
    # its fallback, and the programme weighs only what a lane's treatment adds over it (the
    # same optimum, on the accounts a place could help: a big book has few of them)
    free = lanes < 0
    chosen, base = _fallback(v, ok, free)
    rows, cols = np.nonzero(ok & ~free[None, :] & (v > base[:, None]))
    m = rows.shape[0]
    left = cap.copy()
    if m:
        x = _solve(highspy, v[rows, cols] - base[rows], rows, lanes[cols], cost[cols], cap)
        # whole choices first, then split accounts by their largest share
        taken = np.zeros(n, bool)
        for c in np.argsort(-x, kind="stable"):
            if x[c] <= 1e-9:
                break
            i, j = int(rows[c]), int(cols[c])
            ln = int(lanes[j])
            if taken[i] or left[ln] + 1e-9 < cost[j]:
                continue
            left[ln] -= cost[j]
            chosen[i] = j
            taken[i] = True
    picked = chosen != NONE
    return Allocation(chosen, float(np.sum(v[np.nonzero(picked)[0], chosen[picked]])), left)


_SOLVERS = threading.local()


def _highs(highspy: Any) -> Any:
    """This thread's solver, made once and cleared for each programme: HiGHS 1.16 prints its
    banner when one is made, whatever its options (ERGO-Code/HiGHS#2749), so a process prints
    it once per thread, not once per day planned."""
    h = getattr(_SOLVERS, "highs", None)
    if h is None:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        _SOLVERS.highs = h
    h.clearModel()
    return h


def _solve(
    highspy: Any,
    gain: NDArray[np.float64],
    rows: NDArray[np.int64],
    lanes: NDArray[np.int64],
    cost: NDArray[np.float64],
    cap: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The programme: one column per (account, lane treatment) worth ``gain``; one row per
    account (at most one) and one per lane (within ``cap``). Returns each column's share."""
    m = rows.shape[0]
    accounts, acct_row = np.unique(rows, return_inverse=True)
    used, lane_row = np.unique(lanes, return_inverse=True)
    h = _highs(highspy)
    lp = highspy.HighsLp()
    lp.num_col_ = m
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = gain
    lp.col_lower_ = np.zeros(m)
    lp.col_upper_ = np.ones(m)
    lp.num_row_ = accounts.shape[0] + used.shape[0]
    lp.row_lower_ = np.full(lp.num_row_, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([np.ones(accounts.shape[0]), cap[used]])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * m + 1, 2, dtype=np.int32)
    index = np.column_stack([acct_row, accounts.shape[0] + lane_row]).ravel()
    lp.a_matrix_.index_ = index.astype(np.int32)
    lp.a_matrix_.value_ = np.column_stack([np.ones(m), cost]).ravel()
    h.passModel(lp)
    h.run()
    return np.asarray(h.getSolution().col_value)


def reserve(planned: pa.Table, inputs: pa.Table, strategy: Strategy) -> pa.Table | None:
    """The day's queue and pool places given to the scored choices they add most for, by
    ``strategy.allocation`` (:func:`optimal` or :func:`greedy`), once a first plan has shown
    which options the gate allows: ``planned`` the plan query's rows (actions and decisions),
    ``inputs`` its model scores (:func:`arrears.cycle.run.decision_inputs`).

    The places go to the policy's choices only: what fixed steps and explored draws put in a
    lane (planned or cut) is taken off its capacity first, and an explored decision keeps its
    draw. Each choice's options are its compliant ones with an uplift; an option that needs a
    place its decision was not given is withheld from that decision (the ``withheld`` input:
    the choice then passes over it, as over an unscored option; nothing else reads it).
    Returns the inputs with the places withheld, or None when the first plan already took what
    the allocation gives."""
    if strategy.allocation == "priority" or planned.num_rows == 0:
        return None
    names = {**strategy.queues, **strategy.pools}
    lanes = sorted(names)
    cols = _columns(strategy, inputs, lanes)
    if not any(c[2] >= 0 for c in cols):
        return None
    log = log_rows(planned, strategy)
    groups = pa.array(sorted({c[0] for c in cols}), pa.string())
    policy = _mask(
        pc.and_(
            pc.and_(pc.is_in(log["decision"], value_set=groups), pc.invert(log["explored"])),
            pc.is_valid(log["taken"]),
        )
    )
    capacity = _room(planned, policy, lanes, names)
    rows = np.flatnonzero(policy)
    if rows.size == 0:
        return None
    # the policy's choices only: a big book's plan has many more rows than choices
    sub = log.take(pa.array(rows))
    at = pc.index_in(sub["loan_id"], value_set=inputs["loan_id"]).to_numpy(zero_copy_only=False)
    listed = pc.binary_join_element_wise(",", pc.fill_null(sub["candidates"], ""), ",", "")
    value = np.zeros((rows.size, len(cols)))
    allowed = np.zeros(value.shape, bool)
    mine: dict[str, NDArray[np.bool_]] = {}
    for k, (g, channel, _) in enumerate(cols):
        if g not in mine:
            mine[g] = _mask(pc.equal(sub["decision"], g))
        uplift = pc.fill_null(inputs[f"uplift_{channel}"], np.nan)
        score = uplift.to_numpy(zero_copy_only=False)[at]
        offered = _mask(pc.match_substring(listed, f",{channel},"))
        allowed[:, k] = mine[g] & offered & ~np.isnan(score)
        value[:, k] = np.where(allowed[:, k], score, 0.0)
    lane = np.array([c[2] for c in cols], np.int64)
    use = np.where(lane >= 0, 1.0, 0.0)
    solve = optimal if strategy.allocation == "optimal" else greedy
    chosen = solve(value, allowed, lane, use, capacity).chosen
    text = np.full(inputs.num_rows, "", dtype=object)
    changed = False
    for k, (g, channel, ln) in enumerate(cols):
        if ln < 0:
            continue
        given = mine[g] & (chosen == k)
        took = mine[g] & _mask(pc.equal(sub["taken"], channel))
        changed = changed or bool(np.any(given != took))
        out = at[mine[g] & ~given]
        text[out] = text[out] + f"{g}.{channel},"
    if not changed:
        return None
    some = text != ""
    text[some] = "," + text[some]
    withheld = pa.array(text, pa.string(), mask=~some)
    at_col = inputs.schema.get_field_index("withheld")
    return inputs.set_column(at_col, "withheld", withheld)


def _mask(values: Any) -> NDArray[np.bool_]:
    """A boolean Arrow array as numpy, null as false."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _room(
    planned: pa.Table, policy: NDArray[np.bool_], lanes: list[str], names: dict[str, int]
) -> NDArray[np.float64]:
    """Each lane's places less what the plan put in it other than the policy's choices
    (fixed steps, explored draws: planned or cut), never below none."""
    lane = pc.coalesce(planned["queue"], planned["pool"])
    held = _mask(pc.is_in(planned["status"], value_set=pa.array(["planned", "cut"])))
    counts = pc.value_counts(lane.filter(pa.array(held & ~policy)))
    used = {
        str(c["values"]): int(c["counts"]) for c in counts.to_pylist() if c["values"] is not None
    }
    return np.array([max(float(names[x] - used.get(x, 0)), 0.0) for x in lanes])


def _columns(strategy: Strategy, inputs: pa.Table, lanes: list[str]) -> list[tuple[str, str, int]]:
    """Each scored choice option: (the choice, the channel, its lane's place in ``lanes`` or
    -1 when it needs none)."""
    cols: list[tuple[str, str, int]] = []
    for s in strategy.steps:
        if s.group is None or f"uplift_{s.channel}" not in inputs.column_names:
            continue
        place = s.queue or s.pool
        col = (s.group, s.channel, lanes.index(place) if place in lanes else -1)
        if col not in cols:
            cols.append(col)
    return cols
