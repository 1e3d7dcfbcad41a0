"""Refusals are told apart by their type, never by their text: the API's status and ``field``
come from the exception, whatever its message says."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from arrears.service.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LimitExceeded,
    NotFound,
    ServiceError,
)
from arrears.web.api.deps import service_call


def _refuse(exc: ServiceError) -> None:
    raise exc


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (NotFound("no such thing here", field="loan_id"), 404),
        (Invalid("is not in the store (but this is bad input)", field="amount"), 422),
        (Conflict("posted already", field="payment_id"), 422),
        (Forbidden("a collector cannot approve", field="role"), 422),
        (LimitExceeded("more than 30 days out", field="parts[0].due_on"), 422),
    ],
)
def test_the_api_maps_refusals_by_type(exc: ServiceError, status: int) -> None:
    with pytest.raises(HTTPException) as raised:
        service_call(lambda: _refuse(exc))
    assert raised.value.status_code == status
    assert raised.value.detail == str(exc)
    assert (raised.value.headers or {}).get("X-Field") == exc.field


def test_a_refusal_without_a_field_names_none() -> None:
    with pytest.raises(HTTPException) as raised:
        service_call(lambda: _refuse(Invalid("loan_id: the text names one, the error does not")))
    assert raised.value.status_code == 422
    assert raised.value.headers is None


def test_every_kind_is_a_service_error() -> None:
    for kind in (Invalid, NotFound, Conflict, Forbidden, LimitExceeded):
        assert issubclass(kind, ServiceError)
        assert kind("m", field="f").field == "f"
