"""What a strategy manager reads in a dry run: which hold an account is under (a death, a
bankruptcy, a lawyer) is need-to-know, so a hold's rule says only that there is one."""

from __future__ import annotations

import pytest

from arrears.web.console.strategy import shown_rule


@pytest.mark.parametrize(
    ("rule", "shown"),
    [
        ("cn.holds.deceased", "cn.holds"),
        ("us-regf.holds.bankruptcy", "us-regf.holds"),
        ("cn.hours.window", "cn.hours.window"),
        ("suppression.paid_today", "suppression.paid_today"),
        ("capacity.early_callback", "capacity.early_callback"),
        ("carry_over.expired", "carry_over.expired"),
    ],
)
def test_a_holds_kind_is_not_shown(rule: str, shown: str) -> None:
    assert shown_rule(rule) == shown


def test_a_strategys_own_suppressions_and_lanes_read_as_its_labels() -> None:
    from arrears.strategy.model import load
    from arrears.web.console.strategy import rule_words

    zh, en = rule_words("zh-CN", load("learned")), rule_words("en", load("learned"))
    assert shown_rule("suppression.promise_active", zh) == "承诺还款中"
    assert shown_rule("suppression.promise_active", en) == "Promise pending"
    assert shown_rule("capacity.late_calls", zh) == "后期外呼"
    assert shown_rule("capacity.tier1", en) == "Agency tier 1"
    assert shown_rule("capacity.nowhere", zh) == "capacity.nowhere"  # no label: the code
    assert shown_rule("cn.holds.deceased", zh) == "cn.holds"  # need-to-know, labels or not
