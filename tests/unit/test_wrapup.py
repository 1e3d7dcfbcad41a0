"""A wrap-up's promise is taken from the borrower: on an answered call, with a disposition
(if any) that is a right-party one and does not stop collection."""

from __future__ import annotations

import pytest


def test_a_promise_is_taken_only_on_an_answered_call_from_the_borrower() -> None:
    from arrears.service.conduct.dispositions import Wrap
    from arrears.service.errors import Invalid
    from arrears.web.console.wrapup import promise_fits

    promise_fits("conversation", Wrap())
    promise_fits("connected", Wrap("promise"))
    for result, wrap in [
        ("no_answer", Wrap()),
        ("conversation", Wrap("wrong_party")),
        ("conversation", Wrap("third_party")),
        ("conversation", Wrap("deceased")),
        ("conversation", Wrap("dispute")),
    ]:
        with pytest.raises(Invalid, match="promise_amount: a promise is taken from the borrower"):
            promise_fits(result, wrap)
