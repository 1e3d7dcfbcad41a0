"""The models, trained from the decision log with its outcomes
(:func:`arrears.service.queries.decisions.decisions_with_outcomes`), and the scorer the cycle
asks for the model attributes (docs/LEARNING.md, "Models").

* ``p_pay_7d`` and ``p_pay_30d``: the chance the account pays what it owed in full within 7 and
  30 days of the decision, under the policy that logged it (LightGBM classifiers, calibrated by
  isotonic regression on a held-out fifth).
* ``uplift_<channel>``: what a treatment today adds to recovery over doing nothing, net of its
  cost and complaint risk, in minor units. A T-learner: one LightGBM model per treatment
  (doing nothing among them) of the share of the arrears paid within 30 days
  (:data:`REWARD_DAYS`: a contact is worth what it adds to what would be paid anyway, not how
  much sooner it comes; a borrower who forgot pays within days with or without a second
  reminder), fitted on the
  decisions that took it; the uplift is the difference to doing nothing times the arrears, less
  the treatment's cost and its extra complaints (the rate after it over the rate after doing
  nothing, per decision) times what a complaint costs.

The features are the strategy attributes the decision was taken on (the log's ``x_`` columns,
:data:`arrears.cycle.plan.DECIDED_ON`) and the stage. Everything a model needs is kept in one
JSON file (the boosters as LightGBM's own text), read back by :func:`load`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sklearn.isotonic import IsotonicRegression

from arrears.cycle.plan import DECIDED_ON
from arrears.learn.simulator import COMPLAINT_COST, COST
from arrears.learn.trees import Forest, TreesError, forest
from arrears.strategy.attributes import MODEL_SCORES, SCORED_CHANNELS

#: features that are categories (codes from the training data's own values)
CATEGORICAL = ("stage", "last_contact_result", "delinquency_reason", "last_disposition", "product")
FEATURES = ("stage", *DECIDED_ON)
#: small trees: the book is scored every day, and there is little to learn per treatment
PARAMS: dict[str, Any] = {
    "n_estimators": 120,
    "learning_rate": 0.06,
    "num_leaves": 15,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.9,
    "n_jobs": 2,
    "verbose": -1,
}
#: a treatment needs this many decisions to be learned
MIN_ROWS = 200
#: each model learns from at most this many decisions (a random sample beyond): 1M accounts
#: over 90 days log tens of millions, and a sample of two million says as much to these trees
MAX_ROWS = 2_000_000
#: the days of payments a decision's reward counts (from its own day)
REWARD_DAYS = 30
#: complaint rates are kept by contacts in the 7 days before: 0, 1, 2, 3, 4 or more
BUCKETS = 5
FORMAT = "arrears-model/1"


class ModelError(ValueError):
    """A model file that cannot be used, or logs a model cannot be learned from."""


@dataclass
class Model:
    vocab: dict[str, list[str]]
    #: LightGBM's text of each booster, by name (p_pay_7d, p_pay_30d, share_<treatment>)
    boosters: dict[str, str]
    #: the isotonic calibration of each propensity: (x thresholds, y values)
    calibration: dict[str, tuple[list[float], list[float]]]
    #: complaints per decision after each treatment (all decisions)
    complaint_rate: dict[str, float]
    trained_on: dict[str, Any] = field(default_factory=dict)
    #: ... and by contacts in the 7 days before (0, 1, 2, 3, 4 or more): annoyance grows with
    #: them
    complaint_by_contacts: dict[str, list[float]] = field(default_factory=dict)
    #: the hurdle a contact's uplift must clear over doing nothing (minor units), chosen on
    #: held-out decisions by off-policy evaluation (:mod:`arrears.learn.tune`): estimates are
    #: noisy, and the best of several noisy estimates is too high
    margin: float = 0.0
    _forests: dict[tuple[str, ...], Forest] = field(default_factory=dict, repr=False)

    @property
    def treatments(self) -> list[str]:
        return sorted(k.removeprefix("share_") for k in self.boosters if k.startswith("share_"))

    def forest(self, names: tuple[str, ...]) -> Forest:
        """The boosters ``names`` as one compiled forest (:mod:`arrears.learn.trees`), kept."""
        if names not in self._forests:
            self._forests[names] = forest({k: self.boosters[k] for k in names})
        return self._forests[names]

    def matrix(self, features: pa.Table, prefix: str = "") -> NDArray[np.float64]:
        """The feature matrix of ``features`` (attribute columns, or the log's ``x_`` ones
        with ``prefix="x_"``; the stage is ``stage`` in both)."""
        cols = []
        for name in FEATURES:
            col = features[name if name == "stage" else prefix + name]
            if name in CATEGORICAL:
                known = self.vocab.get(name, [])
                codes = pc.index_in(pc.cast(col, pa.string()), pa.array(known, pa.string()))
                cols.append(pc.fill_null(pc.cast(codes, pa.float64()), np.nan).to_numpy())
            else:
                cols.append(
                    pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
                )
        return np.column_stack(cols) if cols else np.empty((features.num_rows, 0))

    def predict(self, names: Collection[str], x: NDArray[np.float64]) -> dict[str, Any]:
        """Each booster of ``names``'s output for the rows of ``x``, calibrated when it is."""
        raw = self.forest(tuple(sorted(set(names)))).predict(x)
        out = {}
        for name, got in raw.items():
            if name in self.calibration:
                xs, ys = self.calibration[name]
                got = np.interp(got, xs, ys)
            out[name] = np.clip(got, 0.0, 1.0)
        return out

    def score(
        self,
        features: pa.Table,
        prefix: str = "",
        *,
        margin: float | None = None,
        wanted: Collection[str] | None = None,
    ) -> dict[str, NDArray[np.float64]]:
        """The model attributes of each row of ``features`` (``MODEL_SCORES``, or those of
        them ``wanted``: what the strategy reads); each uplift net of the model's margin (or
        ``margin``)."""
        hurdle = self.margin if margin is None else margin
        want = set(MODEL_SCORES if wanted is None else wanted)
        pays = [k for k in ("p_pay_7d", "p_pay_30d") if k in want and k in self.boosters]
        channels = [
            c
            for c in SCORED_CHANNELS
            if f"uplift_{c}" in want and c in self.treatments and "none" in self.treatments
        ]
        names = pays + [f"share_{c}" for c in ("none", *channels)] if channels else pays
        if not names:
            return {}
        x = self.matrix(features, prefix)
        got = self.predict(names, x)
        out: dict[str, NDArray[np.float64]] = {k: got[k] for k in pays}
        if not channels:
            return out
        due = pc.fill_null(pc.cast(features[prefix + "total_due"], pa.float64()), 0.0)
        owed = np.maximum(due.to_numpy(zero_copy_only=False), 0.0)
        base = got["share_none"]
        recent = pc.fill_null(pc.cast(features[prefix + "contacts_last_7d"], pa.float64()), 0.0)
        bucket = np.clip(recent.to_numpy(zero_copy_only=False), 0, BUCKETS - 1).astype(np.int64)
        for channel in channels:
            gain = (got[f"share_{channel}"] - base) * owed
            extra = self.complaints(channel, bucket) - self.complaints("none", bucket)
            cost = COST.get(channel, 0) + extra * COMPLAINT_COST + hurdle
            out[f"uplift_{channel}"] = gain - cost
        return out

    def expected(self, features: pa.Table, prefix: str = "") -> dict[str, NDArray[np.float64]]:
        """Each learned treatment's expected reward for each row (what the account pays of its
        arrears within :data:`REWARD_DAYS`, less the treatment's cost and its complaints): the
        reward model of the doubly robust estimate (:mod:`arrears.learn.tune`)."""
        x = self.matrix(features, prefix)
        due = pc.fill_null(pc.cast(features[prefix + "total_due"], pa.float64()), 0.0)
        owed = np.maximum(due.to_numpy(zero_copy_only=False), 0.0)
        recent = pc.fill_null(pc.cast(features[prefix + "contacts_last_7d"], pa.float64()), 0.0)
        bucket = np.clip(recent.to_numpy(zero_copy_only=False), 0, BUCKETS - 1).astype(np.int64)
        got = self.predict([f"share_{k}" for k in self.treatments], x)
        return {
            k: got[f"share_{k}"] * owed
            - COST.get(k, 0)
            - self.complaints(k, bucket) * COMPLAINT_COST
            for k in self.treatments
        }

    def complaints(self, treatment: str, bucket: NDArray[np.int64]) -> NDArray[np.float64]:
        """Complaints per decision after ``treatment``, by each row's contacts bucket."""
        rates = self.complaint_by_contacts.get(treatment)
        if rates is None:
            return np.full(bucket.shape, self.complaint_rate.get(treatment, 0.0))
        return np.asarray(rates, dtype=np.float64)[bucket]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "format": FORMAT,
            "features": list(FEATURES),
            "vocab": self.vocab,
            "boosters": self.boosters,
            "calibration": self.calibration,
            "complaint_rate": self.complaint_rate,
            "complaint_by_contacts": self.complaint_by_contacts,
            "margin": self.margin,
            "trained_on": self.trained_on,
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(body), encoding="utf-8")
        tmp.replace(path)  # never half a model


class _File(BaseModel):
    """What a model file must hold (the fields :meth:`Model.save` writes)."""

    model_config = ConfigDict(extra="ignore")

    vocab: dict[str, list[str]]
    boosters: dict[str, str]
    calibration: dict[str, tuple[list[float], list[float]]]
    complaint_rate: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]]
    complaint_by_contacts: dict[
        str,
        Annotated[
            list[Annotated[float, Field(ge=0.0, le=1.0)]],
            Field(min_length=BUCKETS, max_length=BUCKETS),
        ],
    ] = {}
    margin: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0
    trained_on: dict[str, Any] = {}


def load(path: Path) -> Model:
    """The model in ``path``; every problem is a :class:`ModelError` naming the file and the
    field (each booster is read and its trees checked here: a damaged one is found at start,
    not on the first day planned; nothing is computed, so a process that forks workers after
    loading has started no threads)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(
            f"{path}: no such model file (`arrears learn train --out {path}` makes one)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ModelError(f"{path}: format: expected {FORMAT!r}, not an arrears model file")
    if body.get("features") != list(FEATURES):
        raise ModelError(f"{path}: features: the model was trained on other attributes; retrain")
    try:
        got = _File.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ModelError(f"{path}: {field}: {err['msg']}") from None
    for name, (xs, ys) in got.calibration.items():
        if len(xs) != len(ys) or not xs:
            raise ModelError(f"{path}: calibration.{name}: expected two lists of one length")
    model = Model(
        vocab=got.vocab,
        boosters=got.boosters,
        calibration=dict(got.calibration),
        complaint_rate=got.complaint_rate,
        trained_on=got.trained_on,
        complaint_by_contacts=got.complaint_by_contacts,
        margin=got.margin,
    )
    _check_boosters(path, model.boosters)
    return model


def _check_boosters(path: Path, boosters: dict[str, str]) -> None:
    """Each booster read and its trees checked (:func:`arrears.learn.trees.forest`)."""
    for name, text in boosters.items():
        try:
            trees = forest({name: text})
            if trees.features > len(FEATURES):
                raise TreesError(f"{trees.features} features, the models have {len(FEATURES)}")
        except (TreesError, ValueError, IndexError, KeyError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            why = f"{path}: boosters.{name}: not a LightGBM model we can read: {msg}"
            raise ModelError(why) from None


def made(log: pa.Table) -> pa.Table:
    """The decisions that took a treatment and carried it out: a compliant option taken, and
    not cut by its queue's capacity (a cut call was never made: its outcome is not a call's)."""
    taken = log.filter(pc.is_valid(log["taken"]))
    if "status" in taken.column_names:
        taken = taken.filter(pc.not_equal(pc.fill_null(taken["status"], ""), "cut"))
    return taken


def attach(app: Any) -> None:
    """Load the model the settings name (``ARREARS_MODEL_FILE``) as ``app``'s scorer: what the
    cycle and the console's dry runs score the choices with. Raises :class:`ModelError`."""
    if app.settings.model_file is not None:
        app.scorer = load(app.settings.model_file)


def complete(log: pa.Table, days: int) -> NDArray[np.bool_]:
    """Which decisions' ``days``-day window the log has seen to its end (the log's last day
    at least ``days - 1`` days after theirs): a window cut by the end of the log would count
    payments still to come as not made. A log shorter than that (a short demo run) keeps
    every decision, as does a log without its days."""
    if "business_date" not in log.column_names:
        return np.ones(log.num_rows, bool)
    when = pc.cast(log["business_date"], pa.date32())
    last = pc.max(when).as_py()
    if last is None:
        return np.zeros(log.num_rows, bool)
    cut = pa.scalar(last - timedelta(days=days - 1), pa.date32())
    out = np.asarray(pc.less_equal(when, cut).to_numpy(zero_copy_only=False), dtype=bool)
    return out if out.sum() >= MIN_ROWS else np.ones(log.num_rows, bool)


def _vocab(log: pa.Table) -> dict[str, list[str]]:
    out = {}
    for name in CATEGORICAL:
        col = log[name if name == "stage" else f"x_{name}"]
        out[name] = sorted(str(v) for v in pc.unique(col).to_pylist() if v is not None)
    return out


def _fit(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    cats: list[int],
    objective: str,
    seed: int,
    weight: NDArray[np.float64] | None = None,
) -> lgb.Booster:
    if x.shape[0] > MAX_ROWS:
        pick = np.random.default_rng(seed).choice(x.shape[0], MAX_ROWS, replace=False)
        x, y = x[pick], y[pick]
        weight = None if weight is None else weight[pick]
    model = lgb.LGBMRegressor(objective=objective, random_state=seed, **PARAMS)
    model.fit(x, y, sample_weight=weight, categorical_feature=cats)
    return model.booster_


def _choices(taken: pa.Table) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Which decisions had a real choice (two or more compliant options: the treatment was the
    policy's or the exploration's, not the gate's), and each one's inverse-propensity weight
    (at most 20). A log without candidates (an analyst's) counts every decision, weighted 1."""
    n = taken.num_rows
    if "n_ok" not in taken.column_names or "propensity" not in taken.column_names:
        return np.ones(n, bool), np.ones(n)
    n_ok = pc.fill_null(pc.cast(taken["n_ok"], pa.int64()), 0).to_numpy(zero_copy_only=False)
    p = pc.fill_null(pc.cast(taken["propensity"], pa.float64()), 1.0).to_numpy()
    return n_ok >= 2, 1.0 / np.clip(p, 0.05, 1.0)


def _by_bucket(complaints: NDArray[np.float64], bucket: NDArray[np.int64]) -> list[float]:
    """Complaints per decision by bucket, shrunk toward the treatment's overall rate (a bucket
    with few decisions says little on its own: 50 decisions' worth of the overall rate)."""
    overall = float(complaints.mean()) if complaints.size else 0.0
    out = []
    for b in range(BUCKETS):
        mine = complaints[bucket == b]
        out.append(float((mine.sum() + 50 * overall) / (mine.size + 50)))
    return out


def train(log: pa.Table, *, seed: int = 7) -> Model:
    """The models from a decision log with outcomes. Only decisions that took a treatment
    (compliant ones) are learned from."""
    taken = made(log)
    if taken.num_rows < MIN_ROWS:
        raise ModelError(f"the log has {taken.num_rows} decisions taken; at least {MIN_ROWS}")
    model = Model(vocab=_vocab(taken), boosters={}, calibration={}, complaint_rate={})
    x = model.matrix(taken, prefix="x_")
    cats = [k for k, name in enumerate(FEATURES) if name in CATEGORICAL]
    owed = np.maximum(
        pc.fill_null(pc.cast(taken["x_total_due"], pa.float64()), 0.0).to_numpy(), 0.0
    )
    rng = np.random.default_rng(seed)
    hold = rng.random(taken.num_rows) < 0.2
    for days in (7, 30):
        paid = pc.cast(taken[f"paid_{days}d"], pa.float64()).to_numpy()
        y = ((owed > 0) & (paid >= owed)).astype(np.float64)
        name = f"p_pay_{days}d"
        seen = complete(taken, days)
        booster = _fit(x[~hold & seen], y[~hold & seen], cats, "binary", seed)
        model.boosters[name] = booster.model_to_string()
        raw = np.asarray(booster.predict(x[hold & seen]), dtype=np.float64)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            raw, y[hold & seen]
        )
        model.calibration[name] = (
            [float(v) for v in iso.X_thresholds_],
            [float(v) for v in iso.y_thresholds_],
        )
    paid = pc.cast(taken[f"paid_{REWARD_DAYS}d"], pa.float64()).to_numpy()
    share = np.where(owed > 0, np.minimum(paid, owed) / np.maximum(owed, 1.0), 0.0)
    complaints = pc.cast(taken["complaints_7d"], pa.float64()).to_numpy()
    treatment = np.array(taken["taken"].to_pylist(), dtype=object)
    recent = np.clip(
        pc.fill_null(pc.cast(taken["x_contacts_last_7d"], pa.float64()), 0.0).to_numpy(),
        0,
        BUCKETS - 1,
    ).astype(np.int64)
    counts = {}
    # the treatment models learn from decisions that had a choice, weighted by the inverse of
    # the probability of what was taken: each model then sees the same population of
    # decisions, not those its treatment happened to be given to (when only doing nothing was
    # compliant, say under a promise, doing nothing was the gate's, not a choice)
    chose, weight = _choices(taken)
    chose &= complete(taken, REWARD_DAYS)
    for k in sorted(set(treatment.tolist())):
        rows = treatment == k
        counts[k] = int(rows.sum())
        model.complaint_rate[k] = float(complaints[rows].mean())
        model.complaint_by_contacts[k] = _by_bucket(complaints[rows], recent[rows])
        if k != "none" and k not in SCORED_CHANNELS:
            continue
        rows = rows & chose
        if rows.sum() < MIN_ROWS:
            continue
        booster = _fit(x[rows], share[rows], cats, "cross_entropy", seed, weight[rows])
        model.boosters[f"share_{k}"] = booster.model_to_string()
    model.trained_on = {"decisions": int(taken.num_rows), "by_treatment": counts}
    return model
