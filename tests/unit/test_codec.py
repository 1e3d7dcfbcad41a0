"""LOAN.json parsing names the field at fault."""

import json
from pathlib import Path
from typing import Any

import pytest

from arrears.domain.codec import FieldError, loan_from_dict

EXAMPLE = json.loads((Path(__file__).parents[2] / "examples" / "loan.json").read_text())


def _with(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(EXAMPLE))
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"principal": 12.5}, "principal"),
        ({"principal": 0}, "principal"),
        ({"annual_rate": "eighteen"}, "annual_rate"),
        ({"method": "balloon"}, "method"),
        ({"first_due_date": "2026-13-01"}, "first_due_date"),
        ({"currency": "yuan"}, "currency"),
        ({"policy__penalty_base": "all"}, "policy.penalty_base"),
        ({"policy__allocation": "newest_first"}, "policy.allocation"),
        ({"policy__grace_days": -1}, "policy.grace_days"),
        ({"policy__penalty_daily_rate": "0.0005"}, "policy.penalty_daily_rate"),
        ({"policy__colour": "red"}, "policy.colour"),
        ({"payments": [{"id": "P1", "date": "2026-02-30", "amount": 1}]}, "payments[0].date"),
        ({"payments": [{"id": "P1", "date": "2026-02-03", "amount": -1}]}, "payments[0].amount"),
        ({"method": "explicit"}, "instalments"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as info:
        loan_from_dict(_with(**changes))
    assert info.value.field == field


def test_explicit_schedule_must_sum_to_the_principal() -> None:
    data = _with(method="explicit")
    data["instalments"] = [{"due_date": "2026-01-15", "principal": 100, "interest": 1}]
    with pytest.raises(FieldError, match="sum to 100"):
        loan_from_dict(data)


def test_explicit_schedule_is_taken_as_given() -> None:
    data = _with(method="explicit", principal=300)
    data["instalments"] = [
        {"due_date": "2026-02-15", "principal": 200, "interest": 5, "fee": 1},
        {"due_date": "2026-01-15", "principal": 100, "interest": 5},
    ]
    loan = loan_from_dict(data)
    assert [i.due_date.isoformat() for i in loan.instalments] == ["2026-01-15", "2026-02-15"]
    assert loan.instalments[1].fee == 1
