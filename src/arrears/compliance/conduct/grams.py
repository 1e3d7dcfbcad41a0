"""The classifier's n-grams of a text, compiled (numba): every n-gram of each form hashed,
looked up in the vocabulary, counted, weighed (sublinear TF times IDF, L2-normalised block by
block) and multiplied into the logits in one call, where numpy took some forty small calls a
text (hashing each size, a binary search of the vocabulary a gram, counting, gathering).

The arithmetic is the scikit-learn pipeline's, done as the numpy scorer did it: each block's
grams summed in the order of their hashes, ``1 + log(count)`` read from a table numpy computed,
the norms and the logits summed by BLAS (numba's ``np.dot``, as numpy's ``@``), the softmax
left to numpy; the scores come out the same to the last bit."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

#: the rolling hash of an n-gram's code points (64 bits, wrapping): h = h * MIX + c, then
#: xored with a mark of its size (and of its block), so grams of different sizes never share one
MIX = np.uint64(0x9E3779B97F4A7C15)
_SIZE = np.uint64(0xC2B2AE3D27D4EB4F)
#: what the k-th block's hashes are xored with (times k), so that one table holds every block
#: (the first block's hashes are its own)
_SALT = 0x94D049BB133111EB
#: spreads a hash's low bits into the top bits that choose its slot (the hashes of short grams
#: differ in their low bits only)
_SPREAD = np.uint64(0xBF58476D1CE4E5B9)
#: counts whose sublinear TF is kept in a table (a longer text gets a table of its own)
_TF = 4096


def marks(stop: int, salt: int = 0) -> np.ndarray:
    """What a gram of n characters is xored with, for n below ``stop``: its size folded in, and
    ``salt``."""
    with np.errstate(over="ignore"):
        sizes = np.arange(stop, dtype=np.uint64) * _SIZE
    return sizes ^ np.uint64(salt)


def hashes(grams: list[str]) -> np.ndarray:
    """The hash of each gram of a vocabulary (unsalted), the grams of one length at a time,
    column by column."""
    out = np.zeros(len(grams), np.uint64)
    lengths = np.array([len(g) for g in grams], dtype=np.int64)
    for n in np.unique(lengths).tolist():
        at = np.flatnonzero(lengths == n)
        joined = "".join(grams[k] for k in at.tolist())
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        codes = codes.reshape(len(at), n)
        h = codes[:, 0].copy()
        for j in range(1, n):
            h *= MIX
            h += codes[:, j]
        out[at] = h ^ marks(n + 1)[n]
    return out


def sublinear(stop: int) -> np.ndarray:
    """``1 + log(count)`` for each count below ``stop`` (0 for none), as numpy computes it."""
    counts = np.arange(1, max(stop, 1), dtype=np.float64)
    return np.concatenate((np.zeros(1), 1.0 + np.log(counts)))


@dataclass(frozen=True)
class Model:
    """The fitted model laid out for the kernel. Every block's vocabulary is in one
    open-addressed table (linear probing): slot ``s`` is ``slots[2 * s]``, a gram's hash
    (salted by its block), and ``slots[2 * s + 1]``, its place + 1 (0 for an empty slot), so
    that a look-up reads one cache line; a hash's first slot is the top ``64 - shift`` bits of
    ``hash * _SPREAD``.

    A gram's *place* is its rank among its block's hashes, the blocks one after another: the
    order in which its weight is summed. ``records`` holds, by place, the gram's row of the
    model's weights and then its IDF (together, so that a gram costs one random read of
    memory, not three); ``firsts``: the first place of each block, and the end. ``sizes``: each
    block's n-gram sizes, [start, stop); ``marks``: what a gram of each size of each block is
    xored with; ``tf``: :func:`sublinear` counts."""

    shift: np.uint64
    slots: np.ndarray
    bits: int
    records: np.ndarray
    intercept: np.ndarray
    firsts: np.ndarray
    sizes: np.ndarray
    marks: np.ndarray
    tf: np.ndarray
    _arrays: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    @classmethod
    def of(
        cls,
        hashes: Sequence[np.ndarray],
        columns: Sequence[np.ndarray],
        idf: Sequence[np.ndarray],
        sizes: Sequence[range],
        weights: np.ndarray,
        intercept: np.ndarray,
    ) -> Model:
        """The model of blocks given by their grams' ``hashes`` (sorted), the model's column
        and the IDF of each, and the n-gram sizes; ``weights`` (a row a column) and
        ``intercept``, the linear model's."""
        salts = [_SALT * k % 2**64 for k in range(len(hashes))]
        keys = np.concatenate(
            [h ^ np.uint64(salt) for h, salt in zip(hashes, salts, strict=True)]
            or [np.empty(0, np.uint64)]
        )
        ordered = np.sort(keys)
        if np.any(ordered[1:] == ordered[:-1]):
            raise ValueError("two n-grams of the vocabulary share a hash")
        bits = max(1, len(keys).bit_length() + 1)  # a quarter to a half of the slots full
        shift = np.uint64(64 - bits)
        slots = np.zeros(2 << bits, np.uint64)
        _fill(slots, keys, shift)
        column = np.concatenate([*columns, np.empty(0, np.int64)]).astype(np.int64)
        records = np.empty((len(column), weights.shape[1] + 1))
        records[:, :-1] = weights[column]
        records[:, -1] = np.concatenate([*idf, np.empty(0)])
        stop = max((s.stop for s in sizes), default=1)
        return cls(
            shift,
            slots,
            max(1, len(keys).bit_length()),
            records,
            np.array(intercept, dtype=np.float64),
            np.cumsum([0, *(len(h) for h in hashes)]).astype(np.int64),
            np.array([[s.start, s.stop] for s in sizes], dtype=np.int64).reshape(-1, 2),
            np.array([marks(stop, salt) for salt in salts], dtype=np.uint64).reshape(-1, stop),
            sublinear(_TF),
        )

    def __post_init__(self) -> None:
        # what the kernel reads of the model, in one argument (numba types each argument of a
        # call: one tuple is quicker than eight)
        arrays = (
            self.sizes,
            self.marks,
            self.shift,
            self.slots,
            self.bits,
            self.records,
            self.intercept,
            self.firsts,
        )
        object.__setattr__(self, "_arrays", arrays)

    def logits(self, forms: Sequence[str]) -> np.ndarray:
        """For each text (one row), the intercept plus the sublinear TF-IDF weights
        (L2-normalised block by block) of the known n-grams of its forms times the weights,
        less the largest of them (as a softmax takes them). ``forms``: each text's form for
        each block, one text after another."""
        codes = np.frombuffer("".join(forms).encode("utf-32-le"), dtype=np.uint32)
        bounds = np.array([0, *itertools.accumulate(len(f) for f in forms)], dtype=np.int64)
        tf = self.tf if len(codes) < len(self.tf) else sublinear(len(codes) + 1)
        out: np.ndarray = _logits(codes, bounds, len(self.sizes), tf, self._arrays)
        return out


@njit(cache=True)
def _fill(slots, keys, shift):  # type: ignore[no-untyped-def]
    """Each key into its slot, its place (its index) + 1 beside it."""
    mask = len(slots) // 2 - 1
    for k in range(len(keys)):
        s = np.int64((keys[k] * _SPREAD) >> shift)
        while slots[2 * s + 1] != 0:
            s = (s + 1) & mask
        slots[2 * s] = keys[k]
        slots[2 * s + 1] = np.uint64(k + 1)


@njit(cache=True)
def _logits(codes, bounds, blocks, tf, arrays):  # type: ignore[no-untyped-def]
    """:meth:`Model.logits`, BLAS (``np.dot``) summing as numpy's ``@`` does."""
    sizes, marks, shift, slots, bits, records, intercept, firsts = arrays
    labels = records.shape[1] - 1
    out = np.empty(((len(bounds) - 1) // blocks, labels))
    for i in range(len(out)):
        text = bounds[i * blocks : (i + 1) * blocks + 1]
        found, counts = _tally(_sort(_places(codes, text, sizes, marks, shift, slots), bits))
        w = np.empty(len(found))
        rows = np.empty((len(found), labels))
        for j in range(len(found)):
            w[j] = tf[counts[j]] * records[found[j], labels]
            for c in range(labels):
                rows[j, c] = records[found[j], c]
        cuts = np.searchsorted(found, firsts)
        for b in range(len(cuts) - 1):
            lo, hi = cuts[b], cuts[b + 1]
            if hi > lo:
                part = w[lo:hi]
                norm = np.sqrt(np.dot(part, part))
                for j in range(lo, hi):
                    w[j] = w[j] / norm
        logits = intercept + np.dot(w, rows) if len(w) else intercept.copy()
        out[i] = logits - logits.max()
    return out


@njit(cache=True)
def _places(codes, bounds, sizes, marks, shift, slots):  # type: ignore[no-untyped-def]
    """The place of every known gram of the forms, as met."""
    out = np.empty(_grams(bounds, sizes), np.int64)
    mask = len(slots) // 2 - 1
    m = 0
    for k in range(len(bounds) - 1):
        end = bounds[k + 1]
        for i in range(bounds[k], end):
            h = np.uint64(0)
            for n in range(1, min(sizes[k, 1], end - i + 1)):
                h = h * MIX + np.uint64(codes[i + n - 1])
                if n < sizes[k, 0]:
                    continue
                key = h ^ marks[k, n]
                s = np.int64((key * _SPREAD) >> shift)
                while slots[2 * s + 1] != 0:
                    if slots[2 * s] == key:
                        out[m] = np.int64(slots[2 * s + 1]) - 1
                        m += 1
                        break
                    s = (s + 1) & mask
    return out[:m]


@njit(cache=True)
def _grams(bounds, sizes):  # type: ignore[no-untyped-def]
    """How many grams the forms have (of every size asked)."""
    total = 0
    for k in range(len(bounds) - 1):
        length = bounds[k + 1] - bounds[k]
        for n in range(sizes[k, 0], sizes[k, 1]):
            total += max(0, length - n + 1)
    return total


@njit(cache=True)
def _sort(a, bits):  # type: ignore[no-untyped-def]
    """``a`` (numbers below 2 ** ``bits``) sorted, 9 bits a pass (radix: a few hundred numbers
    sort several times faster so than by numba's quicksort)."""
    other = np.empty_like(a)
    shift = 0
    while shift < bits:
        starts = np.zeros(513, np.int64)
        for x in a:
            starts[((x >> shift) & 511) + 1] += 1
        for d in range(512):
            starts[d + 1] += starts[d]
        for x in a:
            d = (x >> shift) & 511
            other[starts[d]] = x
            starts[d] += 1
        a, other = other, a
        shift += 9
    return a


@njit(cache=True)
def _tally(found):  # type: ignore[no-untyped-def]
    """The numbers of ``found`` (sorted) once each, and how often each occurs."""
    counts = np.ones(len(found), np.int64)
    u = 0
    for j in range(len(found)):
        if u > 0 and found[j] == found[u - 1]:
            counts[u - 1] += 1
        else:
            found[u] = found[j]
            u += 1
    return found[:u], counts[:u]
