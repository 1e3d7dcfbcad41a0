"""What the cycle asks a scorer for: each stage's accounts are scored for what that stage's
steps read, and no more; the rest of the book is left unscored (null)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from arrears.cycle.run import decision_inputs
from arrears.strategy.model import load


class _Asked:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], frozenset[str]]] = []

    def score(self, features: pa.Table, *, wanted: Collection[str] | None = None) -> dict[str, Any]:
        names = frozenset(wanted or ())
        self.calls.append((features["loan_id"].to_pylist(), names))
        return {k: np.full(features.num_rows, 1.0) for k in names}


def test_each_stage_is_scored_for_what_its_steps_read() -> None:
    learned = load("learned")
    by_stage = learned.model_scores_by_stage
    assert by_stage["early"] == {"uplift_sms", "uplift_robocall", "uplift_agent_call"}
    assert by_stage["mid"] == {"uplift_sms", "uplift_letter", "uplift_agent_call", "uplift_visit"}
    assert "pre_due" not in by_stage and "legal" not in by_stage
    assert learned.model_scores == frozenset().union(*by_stage.values())
    assert load("default").model_scores == frozenset()

    stages = ["pre_due", "early", "mid", "late", "legal", "early"]
    features = pa.table({"loan_id": [f"L{i}" for i in range(len(stages))], "stage": stages})
    asked = _Asked()
    got = decision_inputs(features, learned, date(2026, 12, 1), asked)
    seen = {tuple(loans): names for loans, names in asked.calls}
    assert seen[("L1", "L5")] == by_stage["early"]
    assert seen[("L2", "L3")] == by_stage["mid"]
    assert len(asked.calls) == 2  # mid and late read the same: asked once
    assert got["uplift_robocall"].to_pylist() == [None, 1.0, None, None, None, 1.0]
    assert got["uplift_visit"].to_pylist() == [None, None, 1.0, 1.0, None, None]
    assert got["p_pay_7d"].null_count == len(stages)
