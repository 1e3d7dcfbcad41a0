"""One stage table: the default strategy's collection stages are the domain's stage bands (the
statement's ``stage``), band for band, so the cycle, the statement and the CLI's order agree."""

from __future__ import annotations

from arrears.domain.delinquency import DEFAULT_STAGES
from arrears.strategy.model import load


def test_the_default_strategy_stages_are_the_domain_stage_table() -> None:
    strategy = load("default")
    collection = [b for b in DEFAULT_STAGES.bands if b.name != "current"]
    assert [(s.name, s.low, s.high) for s in strategy.stages] == [
        (b.name, b.low, b.high) for b in collection
    ]
    for dpd in range(-10, 400):
        by_domain = DEFAULT_STAGES.classify(dpd)
        assert strategy.stage_of(dpd) == (None if by_domain == "current" else by_domain)
