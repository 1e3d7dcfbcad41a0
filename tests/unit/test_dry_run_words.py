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
