"""The compiled forest walks LightGBM's trees as LightGBM does: the same output, to the last
bit, on rows with missing values, zeros, unseen and negative categories, for each objective the
models use; and it refuses what it does not read."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from numpy.typing import NDArray

from arrears.learn.trees import TreesError, forest


def _data(n: int, seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 6))
    x[:, 3] = rng.integers(0, 40, n)  # a category of many values (bitsets of two words)
    x[:, 4] = rng.integers(0, 3, n)
    x[rng.random(n) < 0.15, 0] = np.nan
    x[rng.random(n) < 0.1, 3] = np.nan
    x[rng.random(n) < 0.3, 2] = 0.0
    y = x[:, 1] + np.isin(x[:, 3], [2, 7, 33, 38]) + np.nan_to_num(x[:, 0], nan=0.7) * x[:, 2]
    return x, (y > 1.0).astype(np.float64)


def _rows(n: int, seed: int) -> NDArray[np.float64]:
    """Rows beyond the training data: categories never seen and negative, NaN and zeros."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 6)) * 1.4 - 0.2
    x[:, 3] = rng.integers(-3, 70, n)
    x[:, 4] = rng.integers(-1, 5, n)
    for col, share in ((0, 0.2), (3, 0.2), (2, 0.2), (5, 0.1)):
        x[rng.random(n) < share, col] = np.nan
    x[rng.random(n) < 0.2, 2] = 0.0
    return x


@pytest.mark.parametrize(
    ("objective", "extra"),
    [
        ("binary", {}),
        ("cross_entropy", {}),
        ("regression", {}),
        ("binary", {"zero_as_missing": True}),
        ("binary", {"use_missing": False}),
    ],
)
def test_the_walk_is_lightgbms_own(objective: str, extra: dict[str, object]) -> None:
    x, y = _data(4000, 1)
    target = y * 0.8 if objective == "cross_entropy" else y
    model = lgb.LGBMRegressor(
        objective=objective, n_estimators=40, num_leaves=15, min_child_samples=20,
        verbose=-1, **extra,
    )  # fmt: skip
    model.fit(x, target, categorical_feature=[3, 4])
    booster = model.booster_
    trees = forest({"m": booster.model_to_string()})
    rows = _rows(3000, 2)
    np.testing.assert_allclose(trees.predict(rows)["m"], booster.predict(rows), rtol=0, atol=1e-12)


def test_several_boosters_at_once_and_a_tree_of_one_leaf() -> None:
    x, y = _data(2000, 3)
    split = lgb.LGBMRegressor(objective="binary", n_estimators=10, num_leaves=7, verbose=-1)
    split.fit(x, y, categorical_feature=[3])
    # nothing to split on: every tree is a single leaf
    flat = lgb.LGBMRegressor(objective="regression", n_estimators=3, min_child_samples=10**6)
    flat.fit(x, y)
    boosters = {"split": split.booster_, "flat": flat.booster_}
    trees = forest({k: b.model_to_string() for k, b in boosters.items()})
    rows = _rows(500, 4)
    got = trees.predict(rows)
    for name, booster in boosters.items():
        np.testing.assert_allclose(got[name], booster.predict(rows), rtol=0, atol=1e-12)
    assert np.ptp(got["flat"]) == 0.0


def test_what_it_does_not_read_is_refused_by_name() -> None:
    x, y = _data(1000, 5)
    many = lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(x, (y + (x[:, 1] > 0.5)).astype(int))
    with pytest.raises(TreesError, match="several classes"):
        forest({"classes": many.booster_.model_to_string()})
    linear = lgb.LGBMRegressor(n_estimators=2, linear_tree=True, verbose=-1).fit(
        np.nan_to_num(x), y
    )
    with pytest.raises(TreesError, match="linear"):
        forest({"linear": linear.booster_.model_to_string()})
    poisson = lgb.LGBMRegressor(objective="poisson", n_estimators=2, verbose=-1).fit(x, y)
    with pytest.raises(TreesError, match="poisson"):
        forest({"poisson": poisson.booster_.model_to_string()})
    trees = forest({"ok": lgb.LGBMRegressor(n_estimators=2, verbose=-1).fit(x, y).booster_
                    .model_to_string()})  # fmt: skip
    with pytest.raises(TreesError, match="x: expected rows of 6 features"):
        trees.predict(x[:, :3])


def test_a_damaged_tree_is_refused_before_the_walk_trusts_it() -> None:
    """The compiled walk checks no index: a tree whose children loop, reach leaves it does not
    have or name features that do not exist is refused when read."""
    import re

    x, y = _data(2000, 6)
    text = lgb.LGBMRegressor(n_estimators=2, num_leaves=7, verbose=-1).fit(x, y).booster_
    good = text.model_to_string()
    forest({"ok": good})

    def damaged(key: str, change: str) -> str:
        return re.sub(rf"(Tree=0\n(?:.*\n)*?){key}=[^\n]*", rf"\g<1>{key}={change}", good, count=1)

    for key, change, said in (
        ("left_child", "0 0 0 0 0 0", "do not form a tree"),
        ("left_child", "-40 -2 -3 -4 -5 -6", "leaf the tree does not have"),
        ("split_feature", "0 1 2 3 4 9999", "feature"),
        ("right_child", "1 2", "splits do not match"),
    ):
        with pytest.raises(TreesError, match=said):
            forest({"bad": damaged(key, change)})
