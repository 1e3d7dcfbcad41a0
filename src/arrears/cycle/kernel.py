"""The delinquency replay of :mod:`arrears.domain.delinquency`, compiled (numba) and run over a
whole portfolio held as flat arrays: the same rules, step for step, so the results are equal to
the scalar domain's to the minor unit (a property test replays random loans through both).

Layout (CSR): loan ``i`` owns instalments ``inst_off[i]:inst_off[i + 1]`` and payments
``pay_off[i]:pay_off[i + 1]``; dates are days since 1970-01-01 (Arrow ``date32``). Payments are
only those that count (not reversed, dated on or before the as-of date). Within a loan, the
kernel orders instalments by (due date, seq) and payments by date itself.

A daily penalty rate is an exact fraction ``rate_num / rate_den``; the caller makes sure that
``2 × base × rate_num`` fits in 64 bits (see :func:`arrears.cycle.book_delinquency.prepare`) and
sends any loan where it might not to the scalar domain instead.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numba import njit

NONE = -(2**31) + 1  # "no date" / "no DPD"

# output columns, in order (int64)
OUT = (
    "dpd",
    "overdue_principal",
    "overdue_interest",
    "overdue_fee",
    "overdue_penalty",
    "due_today_principal",
    "due_today_interest",
    "due_today_fee",
    "total_due",
    "outstanding_principal",
    "penalty_accrued",
    "charges_total",
    "cap_reached_on",
    "credit_balance",
    "paid_total",
    "oldest_unpaid_due",
    "next_due",
)
N_OUT = len(OUT)


@njit(cache=True)
def _mul_round(amount: int, num: int, den: int) -> int:
    return (2 * amount * num + den) // (2 * den)


@njit(cache=True)
def _sort_small(keys, vals, n):  # type: ignore[no-untyped-def]
    """Stable insertion sort of keys[:n] (carrying vals[:n]); loans have few rows."""
    for a in range(1, n):
        k = keys[a]
        v = vals[a]
        b = a - 1
        while b >= 0 and keys[b] > k:
            keys[b + 1] = keys[b]
            vals[b + 1] = vals[b]
            b -= 1
        keys[b + 1] = k
        vals[b + 1] = v


@njit(cache=True)
def _unique_sorted(x, n):  # type: ignore[no-untyped-def]
    """Sort x[:n] in place and drop repeats; returns the new length."""
    for a in range(1, n):
        k = x[a]
        b = a - 1
        while b >= 0 and x[b] > k:
            x[b + 1] = x[b]
            b -= 1
        x[b + 1] = k
    m = 0
    for a in range(n):
        if m == 0 or x[a] != x[m - 1]:
            x[m] = x[a]
            m += 1
    return m


# The state of one loan lives in the rows of a work block ``w`` (reused loan after loan):
DUE, FEE, UP, UI, UF, PACC, PPAID, ACC, PER, MEMO, MEMO_PER, ROWS, STARTS, PAYS, AMTS, EVENTS = (
    range(16)
)
N_WORK = 16


@njit(cache=True)
def _accrue_segment(w, n, lo, start, end, pi_base, st, num, den, cap):  # type: ignore[no-untyped-def]
    """One run of days where the set of accruing instalments is fixed. Instalments before
    ``lo`` owe nothing, so accrue nothing. ``st`` = [charges so far, cap reached on]."""
    days = end - start + 1
    total = 0
    hi = lo
    while hi < n and w[ACC, hi] <= start:  # in due-date order: later ones start later
        j = hi
        hi += 1
        w[PER, j] = 0
        base = w[UP, j] + (w[UI, j] if pi_base else 0)
        if base > 0:
            if base != w[MEMO, j]:  # the division only when the base has changed
                w[MEMO, j] = base
                w[MEMO_PER, j] = _mul_round(base, num, den)
            w[PER, j] = w[MEMO_PER, j]
            total += w[PER, j]
    if total == 0:
        return
    room = max(cap - st[0], 0) if cap >= 0 else -1
    if room < 0 or total * days <= room:
        for j in range(lo, hi):
            w[PACC, j] += w[PER, j] * days
        st[0] += total * days
        if room >= 0 and total * days == room and st[1] == NONE:
            st[1] = end
        return
    full = room // total
    if full:
        for j in range(lo, hi):
            w[PACC, j] += w[PER, j] * full
        st[0] += total * full
    rest = room - full * total
    cut_day = start + full
    if rest == 0:
        if st[1] == NONE:
            st[1] = cut_day - 1 if full else cut_day
        return
    for j in range(lo, hi):  # the last day is cut to what is left, oldest first
        part = min(w[PER, j], rest)
        if part > 0:
            w[PACC, j] += part
            st[0] += part
            rest -= part
    if st[1] == NONE:
        st[1] = cut_day


@njit(cache=True)
def _accrue(w, n, n_starts, lo, start, end, pi_base, st, num, den, cap):  # type: ignore[no-untyped-def]
    """Days start..end inclusive, split where an instalment starts accruing."""
    while start <= end:
        k = 0  # bisect_right(starts, start): a handful of start days, so a linear scan
        while k < n_starts and w[STARTS, k] <= start:
            k += 1
        seg_end = end if k == n_starts else min(end, w[STARTS, k] - 1)
        _accrue_segment(w, n, lo, start, seg_end, pi_base, st, num, den, cap)
        start = seg_end + 1


@njit(cache=True)
def _pay(w, component, j, left):  # type: ignore[no-untyped-def]
    """Pay up to ``left`` of one component of instalment j; return what was used."""
    if left <= 0:
        return 0
    if component == 0:
        used = min(w[PACC, j] - w[PPAID, j], left)
        w[PPAID, j] += used
    else:
        row = UF if component == 1 else (UI if component == 2 else UP)
        used = min(w[row, j], left)
        w[row, j] -= used
    return used


@njit(cache=True)
def _allocate(w, lo, hi, amount, order):  # type: ignore[no-untyped-def]
    """A payment over instalments lo..hi-1 (all due; earlier ones owe nothing): the
    waterfall, components first or instalment first; returns the excess."""
    left = amount
    if order == 0:
        for c in range(4):
            for j in range(lo, hi):
                if left == 0:
                    return 0
                left -= _pay(w, c, j, left)
    else:
        for j in range(lo, hi):
            for c in range(4):
                if left == 0:
                    return 0
                left -= _pay(w, c, j, left)
    return left


@njit(cache=True)
def _owes(w, j):  # type: ignore[no-untyped-def]
    return w[UP, j] + w[UI, j] + w[UF, j] > 0 or w[PACC, j] > w[PPAID, j]


@njit(cache=True)
def _load(w, i_due, i_seq, i_p, i_i, i_f, lo, hi, p_day, p_amt, plo, phi, grace):  # type: ignore[no-untyped-def]
    """Fill the work block for one loan; returns (instalments, start days, payments)."""
    n = hi - lo
    for k in range(n):  # order by (due date, seq)
        w[ROWS, k] = lo + k
    for a in range(1, n):
        x = w[ROWS, a]
        b = a - 1
        while b >= 0 and (
            i_due[w[ROWS, b]] > i_due[x]
            or (i_due[w[ROWS, b]] == i_due[x] and i_seq[w[ROWS, b]] > i_seq[x])
        ):
            w[ROWS, b + 1] = w[ROWS, b]
            b -= 1
        w[ROWS, b + 1] = x
    for k in range(n):
        r = w[ROWS, k]
        w[DUE, k] = i_due[r]
        w[FEE, k] = i_f[r]
        w[UP, k] = i_p[r]
        w[UI, k] = i_i[r]
        w[UF, k] = i_f[r]
        w[PACC, k] = 0
        w[PPAID, k] = 0
        w[ACC, k] = w[DUE, k] + 1 + grace
        w[STARTS, k] = w[ACC, k]
        w[MEMO, k] = -1
    n_starts = _unique_sorted(w[STARTS], n)
    n_pay = phi - plo
    for k in range(n_pay):
        w[PAYS, k] = p_day[plo + k]
        w[AMTS, k] = p_amt[plo + k]
    _sort_small(w[PAYS], w[AMTS], n_pay)
    return n, n_starts, n_pay


@njit(cache=True)
def _loan(  # type: ignore[no-untyped-def]
    i,
    as_of,
    i_due,
    i_seq,
    i_p,
    i_i,
    i_f,
    lo,
    hi,
    p_day,
    p_amt,
    plo,
    phi,
    num,
    den,
    grace,
    cap,
    pi_base,
    order,
    out,
    w,
    st,
):
    n, n_starts, n_pay = _load(
        w, i_due, i_seq, i_p, i_i, i_f, lo, hi, p_day, p_amt, plo, phi, grace
    )
    # event days: due dates up to as_of, payment days, as_of
    m = 0
    for k in range(n):
        if w[DUE, k] <= as_of:
            w[EVENTS, m] = w[DUE, k]
            m += 1
    for k in range(n_pay):
        w[EVENTS, m] = w[PAYS, k]
        m += 1
    w[EVENTS, m] = as_of
    m = _unique_sorted(w[EVENTS], m + 1)
    st[0] = 0
    st[1] = NONE
    credit = 0
    paid_total = 0
    owing = 0  # instalments before it owe nothing (and never will again)
    due_n = 0  # instalments due on or before the current day
    cursor = w[EVENTS, 0]
    q = 0  # next payment
    for e in range(m):
        day = w[EVENTS, e]
        first_today = due_n
        while due_n < n and w[DUE, due_n] <= day:
            due_n += 1
        fee_day = False
        fees = 0
        for k in range(first_today, due_n):  # instalments due today
            fees += w[FEE, k]
            if w[FEE, k] != 0:
                fee_day = True
        if fee_day and cap >= 0:  # the day's fees count toward the cap before its penalty
            if day > cursor:
                _accrue(w, n, n_starts, owing, cursor, day - 1, pi_base, st, num, den, cap)
            st[0] += fees
            if st[0] >= cap and st[1] == NONE:
                st[1] = day
            _accrue(w, n, n_starts, owing, day, day, pi_base, st, num, den, cap)
        else:
            _accrue(w, n, n_starts, owing, cursor, day, pi_base, st, num, den, cap)
            st[0] += fees
            if cap >= 0 and st[0] >= cap and st[1] == NONE:
                st[1] = day
        # end of day: the credit balance to instalments due today (fee, interest,
        # principal), then the day's payments
        if credit > 0:
            for k in range(first_today, due_n):
                for c in range(1, 4):
                    credit -= _pay(w, c, k, credit)
        while q < n_pay and w[PAYS, q] == day:
            paid_total += w[AMTS, q]
            credit += _allocate(w, owing, due_n, w[AMTS, q], order)
            q += 1
        while owing < n and not _owes(w, owing):
            owing += 1
        cursor = day + 1
    _report(i, as_of, w, n, st, credit, paid_total, out)


@njit(cache=True)
def _report(i, as_of, w, n, st, credit, paid_total, out):  # type: ignore[no-untyped-def]
    oldest = NONE
    nxt = NONE
    o_p = o_i = o_f = t_p = t_i = t_f = pen_unpaid = outstanding = accrued = 0
    for k in range(n):
        due = w[DUE, k]
        if oldest == NONE and w[UP, k] + w[UI, k] + w[UF, k] > 0:
            oldest = due  # in due-date order: the first unpaid is the oldest
        if nxt == NONE and due > as_of:
            nxt = due
        pen_unpaid += w[PACC, k] - w[PPAID, k]
        accrued += w[PACC, k]
        outstanding += w[UP, k]
        if due < as_of:
            o_p += w[UP, k]
            o_i += w[UI, k]
            o_f += w[UF, k]
        elif due == as_of:
            t_p += w[UP, k]
            t_i += w[UI, k]
            t_f += w[UF, k]
    out[i, 0] = NONE if oldest == NONE else as_of - oldest
    out[i, 1] = o_p
    out[i, 2] = o_i
    out[i, 3] = o_f
    out[i, 4] = pen_unpaid
    out[i, 5] = t_p
    out[i, 6] = t_i
    out[i, 7] = t_f
    out[i, 8] = o_p + o_i + o_f + pen_unpaid + t_p + t_i + t_f
    out[i, 9] = outstanding
    out[i, 10] = accrued
    out[i, 11] = st[0]
    out[i, 12] = st[1]
    out[i, 13] = credit
    out[i, 14] = paid_total
    out[i, 15] = oldest
    out[i, 16] = nxt


@njit(cache=True, nogil=True)
def _replay_range(  # type: ignore[no-untyped-def]
    first,
    stop,
    as_of,
    inst_off,
    i_due,
    i_seq,
    i_p,
    i_i,
    i_f,
    pay_off,
    p_day,
    p_amt,
    rate_num,
    rate_den,
    grace,
    cap,
    pi_base,
    order,
    skip,
    out,
):
    """Loans first..stop-1 into ``out`` (no GIL held: threads run ranges side by side)."""
    width = 1
    for i in range(first, stop):
        width = max(width, inst_off[i + 1] - inst_off[i] + pay_off[i + 1] - pay_off[i] + 2)
    w = np.empty((N_WORK, width), np.int64)
    st = np.empty(2, np.int64)
    for i in range(first, stop):
        if skip[i] or inst_off[i + 1] == inst_off[i]:
            continue
        _loan(
            i,
            as_of,
            i_due,
            i_seq,
            i_p,
            i_i,
            i_f,
            inst_off[i],
            inst_off[i + 1],
            p_day,
            p_amt,
            pay_off[i],
            pay_off[i + 1],
            rate_num[i],
            rate_den[i],
            grace[i],
            cap[i],
            pi_base[i],
            order[i],
            out,
            w,
            st,
        )


def replay(*args: np.ndarray | int, threads: int | None = None) -> np.ndarray:
    """Replay every loan (``skip[i]`` true: leave its row unset for the scalar domain); returns
    an ``(n_loans, N_OUT)`` int64 array in the order of :data:`OUT`. The arguments are those
    of :func:`_replay_range` after ``stop``, without ``out``. Loans are split into ranges that
    threads run side by side (the compiled code releases the GIL)."""
    inst_off = args[1]
    assert isinstance(inst_off, np.ndarray)
    n = inst_off.shape[0] - 1
    out = np.zeros((n, N_OUT), np.int64)
    workers = max(1, min(threads or os.cpu_count() or 1, n // 10_000 or 1))
    edges = [n * k // (workers * 4) for k in range(workers * 4 + 1)]
    run: Any = _replay_range  # a numba dispatcher: typed by its arguments at call time
    if workers == 1:
        run(0, n, *args, out)
        return out
    ranges = [(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False) if hi > lo]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda r: run(r[0], r[1], *args, out), ranges))
    return out


def readonly(*arrays: np.ndarray) -> list[np.ndarray]:
    """The kernel's inputs, contiguous and read-only. Arrow hands some columns over as read-only
    views and others as copies; numba compiles (and caches) one version per signature, so every
    input is made read-only to keep to one."""
    out = []
    for a in arrays:
        a = np.ascontiguousarray(a)
        if a.flags.writeable:
            a = a.view()
            a.setflags(write=False)
        out.append(a)
    return out


def warm() -> None:
    """Load the compiled kernels (numba's first call costs about two seconds) on tiny inputs of
    the types the cycle passes, so a caller can pay that while it waits for I/O."""
    z = np.zeros(1, np.int64)
    off = np.zeros(2, np.int64)
    no = np.zeros(1, np.bool_)
    replay(0, *readonly(off, z, z, z, z, z, off, z, z, z + 1, z + 1, z, z, no, z, no))
    buckets: Any = fnv1a_buckets  # a numba dispatcher: typed by its arguments at call time
    buckets(np.uint64(FNV_OFFSET), *readonly(off, np.zeros(1, np.uint8)), 10_000)


FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = 2**64 - 1


def fnv1a(data: bytes, h: int = FNV_OFFSET) -> int:
    """64-bit FNV-1a (the experiment hash; the same in every engine and in the reference)."""
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK
    return h


@njit(cache=True)
def fnv1a_buckets(start, offsets, data, modulo):  # type: ignore[no-untyped-def]
    """FNV-1a of each string of an Arrow string array (offsets, data), continuing from the
    state ``start`` (a hashed prefix such as the salt), modulo ``modulo``."""
    n = offsets.shape[0] - 1
    out = np.empty(n, np.int64)
    prime = np.uint64(FNV_PRIME)
    for i in range(n):
        h = np.uint64(start)
        for k in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[k])) * prime
        out[i] = np.int64(h % np.uint64(modulo))
    return out
