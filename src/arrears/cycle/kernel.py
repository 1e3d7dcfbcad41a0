"""The delinquency replay of :mod:`arrears.domain.delinquency`, compiled (numba) and run over a
whole portfolio held as flat arrays: the same rules, step for step, so the results are equal to
the scalar domain's to the minor unit (a property test replays random loans through both).

Layout (CSR): loan ``i`` owns instalments ``inst_off[i]:inst_off[i + 1]`` and payments
``pay_off[i]:pay_off[i + 1]``; dates are days since 1970-01-01 (Arrow ``date32``). Payments are
only those that count (not reversed, dated on or before the as-of date). Within a loan, the
kernel orders instalments by (due date, seq) and payments by date itself.

A daily penalty rate is an exact fraction ``rate_num / rate_den``; the caller makes sure that
``2 × base × rate_num`` fits in 64 bits (see :func:`arrears.cycle.delinquency.prepare`) and
sends any loan where it might not to the scalar domain instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

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


@njit(cache=True)
def _accrue_segment(  # type: ignore[no-untyped-def]
    start, end, pi_base, st, unp_p, unp_i, acc_from, pen_acc, num, den, cap, per, memo, memo_per
):
    """One run of days where the set of accruing instalments is fixed; ``st`` holds
    [charges so far, the day the cap was reached or NONE] and is updated in place."""
    n = unp_p.shape[0]
    days = end - start + 1
    total = 0
    for j in range(n):
        per[j] = 0
        if acc_from[j] > start:
            continue  # in due-date order: no later instalment accrues either
        base = unp_p[j] + (unp_i[j] if pi_base else 0)
        if base > 0:
            if base != memo[j]:  # the division only when the base has changed
                memo[j] = base
                memo_per[j] = _mul_round(base, num, den)
            per[j] = memo_per[j]
            total += per[j]
    if total == 0:
        return
    room = max(cap - st[0], 0) if cap >= 0 else -1
    if room < 0 or total * days <= room:
        for j in range(n):
            pen_acc[j] += per[j] * days
        st[0] += total * days
        if room >= 0 and total * days == room and st[1] == NONE:
            st[1] = end
        return
    full = room // total
    if full:
        for j in range(n):
            pen_acc[j] += per[j] * full
        st[0] += total * full
    rest = room - full * total
    cut_day = start + full
    if rest == 0:
        if st[1] == NONE:
            st[1] = cut_day - 1 if full else cut_day
        return
    for j in range(n):
        part = min(per[j], rest)
        if part > 0:
            pen_acc[j] += part
            st[0] += part
            rest -= part
    if st[1] == NONE:
        st[1] = cut_day


@njit(cache=True)
def _accrue(  # type: ignore[no-untyped-def]
    start,
    end,
    pi_base,
    st,
    unp_p,
    unp_i,
    acc_from,
    starts,
    pen_acc,
    num,
    den,
    cap,
    per,
    memo,
    memo_per,
):
    while start <= end:
        # bisect_right(starts, start)
        k = np.searchsorted(starts, start, side="right")
        seg_end = end if k == starts.shape[0] else min(end, starts[k] - 1)
        _accrue_segment(
            start, seg_end, pi_base, st, unp_p, unp_i, acc_from, pen_acc, num, den, cap, per,
            memo, memo_per,
        )  # fmt: skip
        start = seg_end + 1


@njit(cache=True)
def _pay(component, j, left, unp_p, unp_i, unp_f, pen_acc, pen_paid):  # type: ignore[no-untyped-def]
    if left <= 0:
        return 0
    if component == 0:
        used = min(pen_acc[j] - pen_paid[j], left)
        pen_paid[j] += used
    elif component == 1:
        used = min(unp_f[j], left)
        unp_f[j] -= used
    elif component == 2:
        used = min(unp_i[j], left)
        unp_i[j] -= used
    else:
        used = min(unp_p[j], left)
        unp_p[j] -= used
    return used


@njit(cache=True)
def _allocate(  # type: ignore[no-untyped-def]
    amount, day, order, due, unp_p, unp_i, unp_f, pen_acc, pen_paid, paid_off
):
    n = due.shape[0]
    eligible = np.zeros(n, np.bool_)
    for j in range(n):
        owes = unp_p[j] + unp_i[j] + unp_f[j] > 0 or pen_acc[j] > pen_paid[j]
        eligible[j] = due[j] <= day and owes
    left = amount
    if order == 0:  # components first
        for c in range(4):
            for j in range(n):
                if left == 0:
                    break
                if eligible[j]:
                    left -= _pay(c, j, left, unp_p, unp_i, unp_f, pen_acc, pen_paid)
    else:  # instalment first
        for j in range(n):
            if not eligible[j]:
                continue
            for c in range(4):
                if left == 0:
                    break
                left -= _pay(c, j, left, unp_p, unp_i, unp_f, pen_acc, pen_paid)
    for j in range(n):
        if eligible[j] and paid_off[j] == NONE and unp_p[j] + unp_i[j] + unp_f[j] == 0:
            paid_off[j] = day
    return left


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
):
    n = hi - lo
    n_pay = phi - plo
    # work rows (see replay): sized for the largest loan, reused loan after loan
    due, fee, unp_p, unp_i, unp_f = w[0, :n], w[1, :n], w[2, :n], w[3, :n], w[4, :n]
    pen_acc, pen_paid, paid_off, acc_from, per = w[5, :n], w[6, :n], w[7, :n], w[8, :n], w[9, :n]
    rows, starts = w[10, :n], w[11]
    pays, amounts, events = w[12], w[13], w[14]
    memo, memo_per = w[16, :n], w[17, :n]
    for k in range(n):  # order by (due date, seq)
        rows[k] = lo + k
    for a in range(1, n):
        x = rows[a]
        b = a - 1
        while b >= 0 and (
            i_due[rows[b]] > i_due[x] or (i_due[rows[b]] == i_due[x] and i_seq[rows[b]] > i_seq[x])
        ):
            rows[b + 1] = rows[b]
            b -= 1
        rows[b + 1] = x
    for k in range(n):
        r = rows[k]
        due[k] = i_due[r]
        fee[k] = i_f[r]
        unp_p[k] = i_p[r]
        unp_i[k] = i_i[r]
        unp_f[k] = i_f[r]
        pen_acc[k] = 0
        pen_paid[k] = 0
        paid_off[k] = NONE
        acc_from[k] = due[k] + 1 + grace
        starts[k] = acc_from[k]
        memo[k] = -1
    starts = starts[: _unique_sorted(starts, n)]
    for k in range(n_pay):
        pays[k] = p_day[plo + k]
        amounts[k] = p_amt[plo + k]
    _sort_small(pays, amounts, n_pay)
    # event days: due dates up to as_of, payment days, as_of
    m = 0
    for k in range(n):
        if due[k] <= as_of:
            events[m] = due[k]
            m += 1
    for k in range(n_pay):
        events[m] = pays[k]
        m += 1
    events[m] = as_of
    m = _unique_sorted(events, m + 1)
    st = w[15, :2]  # charged, cap_reached_on
    st[0] = 0
    st[1] = NONE
    credit = 0
    paid_total = 0
    cursor = events[0]
    q = 0  # next payment
    for e in range(m):
        day = events[e]
        fee_day = False
        if cap >= 0:
            for k in range(n):
                if due[k] == day and fee[k] != 0:
                    fee_day = True
        if fee_day:
            if day > cursor:
                _accrue(cursor, day - 1, pi_base, st, unp_p, unp_i, acc_from, starts, pen_acc,
                        num, den, cap, per, memo, memo_per)  # fmt: skip
            _charge_fees(day, due, fee, st, cap)
            _accrue(day, day, pi_base, st, unp_p, unp_i, acc_from, starts, pen_acc, num, den, cap,
                    per, memo, memo_per)  # fmt: skip
        else:
            _accrue(cursor, day, pi_base, st, unp_p, unp_i, acc_from, starts, pen_acc, num, den,
                    cap, per, memo, memo_per)  # fmt: skip
            _charge_fees(day, due, fee, st, cap)
        # end of day: credit to instalments due today, then today's payments
        for k in range(n):
            if due[k] != day:
                continue
            if credit > 0:
                for c in range(1, 4):
                    credit -= _pay(c, k, credit, unp_p, unp_i, unp_f, pen_acc, pen_paid)
                if paid_off[k] == NONE and unp_p[k] + unp_i[k] + unp_f[k] == 0:
                    paid_off[k] = day
            elif unp_p[k] + unp_i[k] + unp_f[k] == 0 and paid_off[k] == NONE:
                paid_off[k] = day
        while q < n_pay and pays[q] == day:
            paid_total += amounts[q]
            credit += _allocate(
                amounts[q], day, order, due, unp_p, unp_i, unp_f, pen_acc, pen_paid, paid_off
            )
            q += 1
        cursor = day + 1
    _report(i, as_of, due, unp_p, unp_i, unp_f, pen_acc, pen_paid, st, credit, paid_total, out)


@njit(cache=True)
def _charge_fees(day, due, fee, st, cap):  # type: ignore[no-untyped-def]
    for k in range(due.shape[0]):
        if due[k] == day:
            st[0] += fee[k]
    if cap >= 0 and st[0] >= cap and st[1] == NONE:
        st[1] = day


@njit(cache=True)
def _report(  # type: ignore[no-untyped-def]
    i, as_of, due, unp_p, unp_i, unp_f, pen_acc, pen_paid, st, credit, paid_total, out
):
    n = due.shape[0]
    oldest = NONE
    nxt = NONE
    for k in range(n):
        if unp_p[k] + unp_i[k] + unp_f[k] > 0 and (oldest == NONE or due[k] < oldest):
            oldest = due[k]
        if due[k] > as_of and (nxt == NONE or due[k] < nxt):
            nxt = due[k]
    o_p = o_i = o_f = t_p = t_i = t_f = pen_unpaid = outstanding = accrued = 0
    for k in range(n):
        pen_unpaid += pen_acc[k] - pen_paid[k]
        accrued += pen_acc[k]
        outstanding += unp_p[k]
        if due[k] < as_of:
            o_p += unp_p[k]
            o_i += unp_i[k]
            o_f += unp_f[k]
        elif due[k] == as_of:
            t_p += unp_p[k]
            t_i += unp_i[k]
            t_f += unp_f[k]
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


@njit(cache=True, parallel=True)
def replay(  # type: ignore[no-untyped-def]
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
):
    """Replay every loan (``skip[i]`` true: leave its row unset for the scalar domain); returns
    an ``(n_loans, N_OUT)`` int64 array in the order of :data:`OUT`. Loans are split into
    chunks run in parallel; each chunk reuses one block of work rows."""
    n_loans = inst_off.shape[0] - 1
    out = np.zeros((n_loans, N_OUT), np.int64)
    width = 1
    for i in range(n_loans):
        width = max(width, inst_off[i + 1] - inst_off[i] + pay_off[i + 1] - pay_off[i] + 2)
    n_chunks = min(n_loans, 256)
    for c in prange(n_chunks):
        w = np.empty((18, width), np.int64)
        for i in range(c * n_loans // n_chunks, (c + 1) * n_loans // n_chunks):
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
            )
    return out
