"""LightGBM's boosters, read from their own text and evaluated by a compiled (numba) walk over
all of them at once: what scoring the book each day costs (issue 20: scoring adds at most 5 s to
the 1M-loan cycle).

LightGBM's own ``predict`` turns each row into a sparse vector before it walks a tree, and walks
one booster at a time; the cycle asks for every model's score of the same rows. Here the
boosters' trees are flattened into one set of arrays, and each row walks every tree of every
booster while its features are in cache, on all cores.

The walk follows LightGBM's decisions exactly (``Tree::NumericalDecision`` and
``Tree::CategoricalDecision``; a test holds it to ``Booster.predict`` on rows with missing
values and unseen categories):

* a numerical split sends a missing value (NaN) to zero unless its missing type is NaN; a value
  that is its missing type (zero within 1e-35, or NaN) goes the default way; otherwise left
  when ``value <= threshold``;
* a categorical split sends NaN and negative values right, and a category left when it is in the
  split's bitset.

The raw sum of the trees' leaves is turned into the booster's output by its objective: the
logistic function for ``binary`` (with its ``sigmoid``) and ``cross_entropy``, the sum itself for
``regression``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

#: LightGBM's kZeroThreshold
ZERO = 1e-35
#: more features than any model of ours has (a split naming more is damage)
MAX_FEATURES = 10_000


class TreesError(ValueError):
    """A booster's text that this evaluator does not read (linear trees, several classes, an
    objective without a known output)."""


@dataclass(frozen=True)
class Forest:
    """The trees of several boosters, flattened. Node ``k`` of tree ``t`` is entry
    ``first[t] + k``; a child below zero is leaf ``~child`` of the tree, at
    ``leaf_first[t] + ~child``."""

    names: tuple[str, ...]
    #: each booster's output: 0 the raw sum, 1 the logistic of ``scale`` times the sum
    link: NDArray[np.int64]
    scale: NDArray[np.float64]
    #: the booster of each tree, the tree's first node and first leaf (one past the end last)
    owner: NDArray[np.int64]
    first: NDArray[np.int64]
    leaf_first: NDArray[np.int64]
    feature: NDArray[np.int64]
    threshold: NDArray[np.float64]
    #: LightGBM's decision type: bit 0 categorical, bit 1 default left, bits 2-3 missing type
    decision: NDArray[np.int64]
    left: NDArray[np.int64]
    right: NDArray[np.int64]
    leaf: NDArray[np.float64]
    #: a categorical node's bitset: words ``cat_words[cat_first[k] : cat_first[k] + cat_len[k]]``
    cat_first: NDArray[np.int64]
    cat_len: NDArray[np.int64]
    cat_words: NDArray[np.int64]
    features: int

    def predict(self, x: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        """Each booster's output for each row of ``x`` (rows by the trained features)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] < self.features:
            raise TreesError(f"x: expected rows of {self.features} features, got {x.shape}")
        raw = _walk(
            x, self.owner, self.first, self.leaf_first, self.feature, self.threshold,
            self.decision, self.left, self.right, self.leaf, self.cat_first, self.cat_len,
            self.cat_words, len(self.names),
        )  # fmt: skip
        out = {}
        for m, name in enumerate(self.names):
            col = raw[:, m]
            out[name] = 1.0 / (1.0 + np.exp(-self.scale[m] * col)) if self.link[m] else col
        return out


def forest(boosters: dict[str, str]) -> Forest:
    """The forest of ``boosters`` (name: LightGBM's model text)."""
    keys = "feature threshold decision left right leaf cat_first cat_len cat_words"
    parts: dict[str, list[list[int] | list[float]]] = {k: [] for k in keys.split()}
    owner: list[int] = []
    first = [0]
    leaf_first = [0]
    link, scale, features, words = [], [], 0, 0
    for m, (name, text) in enumerate(boosters.items()):
        header, trees = _split(name, text)
        kind, factor = _objective(name, header.get("objective", ""))
        link.append(kind)
        scale.append(factor)
        features = max(features, int(header.get("max_feature_idx", "-1")) + 1)
        for tree in trees:
            words += _add_tree(name, tree, parts, words)
            owner.append(m)
            first.append(first[-1] + len(parts["feature"][-1]))
            leaf_first.append(leaf_first[-1] + len(parts["leaf"][-1]))

    def flat(key: str, dtype: type) -> Any:
        chunks: list[Any] = [np.asarray(c, dtype) for c in parts[key]]
        return np.concatenate(chunks) if chunks else np.empty(0, dtype)

    feature_of = flat("feature", np.int64)
    if feature_of.size and int(feature_of.max()) >= features:
        raise TreesError("a split names a feature beyond its booster's max_feature_idx")
    return Forest(
        names=tuple(boosters),
        link=np.asarray(link, np.int64),
        scale=np.asarray(scale, np.float64),
        owner=np.asarray(owner, np.int64),
        first=np.asarray(first, np.int64),
        leaf_first=np.asarray(leaf_first, np.int64),
        feature=feature_of,
        threshold=flat("threshold", np.float64),
        decision=flat("decision", np.int64),
        left=flat("left", np.int64),
        right=flat("right", np.int64),
        leaf=flat("leaf", np.float64),
        cat_first=flat("cat_first", np.int64),
        cat_len=flat("cat_len", np.int64),
        cat_words=flat("cat_words", np.int64),
        features=features,
    )


def _split(name: str, text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header's fields and each tree's fields of a booster's text."""
    body = text.split("end of trees", 1)[0]
    blocks = body.split("\nTree=")
    header = _fields(blocks[0])
    if header.get("num_tree_per_iteration", "1") != "1" or header.get("num_class", "1") != "1":
        raise TreesError(f"{name}: a booster of several classes is not read here")
    if len(blocks) < 2:
        raise TreesError(f"{name}: no trees: not LightGBM's model text")
    return header, [_fields(b) for b in blocks[1:]]


def _fields(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _objective(name: str, objective: str) -> tuple[int, float]:
    kind, *params = objective.split()
    if kind == "binary":
        sigmoid = dict(p.split(":", 1) for p in params if ":" in p).get("sigmoid", "1")
        return 1, float(sigmoid)
    if kind in ("cross_entropy", "xentropy"):
        return 1, 1.0
    if kind in ("regression", "regression_l2", "l2"):
        return 0, 1.0
    raise TreesError(f"{name}: objective {objective!r}: its output is not known here")


def _numbers(tree: dict[str, str], key: str, kind: type) -> list[int] | list[float]:
    value = tree.get(key, "")
    return [kind(v) for v in value.split()] if value else []


def _add_tree(
    name: str, tree: dict[str, str], parts: dict[str, list[list[int] | list[float]]], words: int
) -> int:
    """Adds ``tree`` to ``parts`` (its bitsets after the ``words`` already there); returns how
    many bitset words it adds."""
    if tree.get("is_linear", "0") != "0":
        raise TreesError(f"{name}: linear trees are not read here")
    leaves = _numbers(tree, "leaf_value", float)
    if int(tree.get("num_leaves", "0")) != len(leaves) or not leaves:
        raise TreesError(f"{name}: a tree's leaves do not match its num_leaves")
    feature = _numbers(tree, "split_feature", int)
    threshold = _numbers(tree, "threshold", float)
    decision = _numbers(tree, "decision_type", int)
    left = _numbers(tree, "left_child", int)
    right = _numbers(tree, "right_child", int)
    bounds = _numbers(tree, "cat_boundaries", int)
    bits = _numbers(tree, "cat_threshold", int)
    _check_shape(name, len(leaves), feature, decision, left, right)
    cat_first, cat_len = [], []
    for k, d in enumerate(decision):
        if int(d) & 1:  # categorical: the threshold is the index of its bitset
            c = int(threshold[k])
            if not 0 <= c < len(bounds) - 1 or not 0 <= bounds[c] <= bounds[c + 1] <= len(bits):
                raise TreesError(f"{name}: a categorical split names a bitset it does not have")
            cat_first.append(words + int(bounds[c]))
            cat_len.append(int(bounds[c + 1]) - int(bounds[c]))
        else:
            cat_first.append(0)
            cat_len.append(0)
    parts["feature"].append(feature)
    parts["threshold"].append(threshold)
    parts["decision"].append(decision)
    parts["left"].append(left)
    parts["right"].append(right)
    parts["leaf"].append(leaves)
    parts["cat_first"].append(cat_first)
    parts["cat_len"].append(cat_len)
    parts["cat_words"].append(bits)
    return len(bits)


def _check_shape(
    name: str,
    leaves: int,
    feature: list[int] | list[float],
    decision: list[int] | list[float],
    left: list[int] | list[float],
    right: list[int] | list[float],
) -> None:
    """A tree the compiled walk can trust (it checks no index): as many splits as leaves less
    one, features that exist, and each leaf and each split but the first reached from exactly
    one split before it (so the walk always ends on a leaf)."""
    splits = leaves - 1
    if not len(feature) == len(decision) == len(left) == len(right) == splits:
        raise TreesError(f"{name}: a tree's splits do not match its leaves")
    if any(not 0 <= int(f) < MAX_FEATURES for f in feature):
        raise TreesError(f"{name}: a split names a feature that does not exist")
    seen_leaf, seen_split = [0] * leaves, [0] * max(splits, 1)
    for k in range(splits):
        for child in (int(left[k]), int(right[k])):
            if child >= 0:
                if not k < child < splits:  # a split's children come after it
                    raise TreesError(f"{name}: a tree's splits do not form a tree")
                seen_split[child] += 1
            elif ~child < leaves:
                seen_leaf[~child] += 1
            else:
                raise TreesError(f"{name}: a split leads to a leaf the tree does not have")
    if splits == 0:  # a tree of one leaf: the leaf is its root
        return
    if any(n != 1 for n in seen_leaf) or any(n != 1 for n in seen_split[1:splits]):
        raise TreesError(f"{name}: a tree's splits do not form a tree")


@njit(inline="always")
def _goes_left(
    v: float, d: int, threshold: float, words: NDArray[np.int64], at: int, n: int
) -> bool:
    """LightGBM's decision at a node of decision type ``d``: a category by its bitset
    (``words[at:at + n]``), a number by the threshold and the missing type."""
    if d & 1:  # categorical: NaN and negative go right; else by the bitset
        if np.isnan(v) or v < 0:
            return False
        c = int(v)
        return (c >> 5) < n and (int(words[at + (c >> 5)]) >> (c & 31)) & 1 == 1
    missing = (d >> 2) & 3  # 0 none, 1 zero, 2 NaN
    if np.isnan(v):
        if missing == 2:
            return d & 2 != 0
        v = 0.0
    if missing == 1 and abs(v) <= ZERO:
        return d & 2 != 0
    return bool(v <= threshold)


@njit(parallel=True, cache=True)
def _walk(
    x: NDArray[np.float64], owner: NDArray[np.int64], first: NDArray[np.int64],
    leaf_first: NDArray[np.int64], feature: NDArray[np.int64], threshold: NDArray[np.float64],
    decision: NDArray[np.int64], left: NDArray[np.int64], right: NDArray[np.int64],
    leaf: NDArray[np.float64], cat_first: NDArray[np.int64], cat_len: NDArray[np.int64],
    cat_words: NDArray[np.int64], boosters: int,
) -> NDArray[np.float64]:  # fmt: skip
    # the decision is inlined by numba (a call that passes arrays costs more than the walk)
    n = x.shape[0]
    trees = owner.shape[0]
    out = np.zeros((n, boosters))
    for i in prange(n):
        for t in range(trees):
            base = first[t]
            node = 0 if first[t + 1] > base else -1  # a tree of one leaf has no split
            while node >= 0:
                k = base + node
                v = x[i, feature[k]]
                if _goes_left(v, decision[k], threshold[k], cat_words, cat_first[k], cat_len[k]):
                    node = left[k]
                else:
                    node = right[k]
            out[i, owner[t]] += leaf[leaf_first[t] + ~node]
    return out
