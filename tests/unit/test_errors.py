"""Refusals are told apart by their type, never by their text: the API's status and ``field``
come from the exception, whatever its message says; the console's and the portal's headline,
in the reader's language, and the command line's label, from its kind."""

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
    StoreNotReady,
)
from arrears.web.api.deps import service_call
from arrears.web.refusals import HEADLINES, flash_to, headline, refusal


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


KINDS = (Invalid, NotFound, Conflict, Forbidden, LimitExceeded, StoreNotReady)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_pages_head_a_refusal_by_its_kind_in_the_readers_language(lang: str) -> None:
    said = [headline(kind("not found: the words do not decide"), lang) for kind in KINDS]
    assert len(set(said)) == len(KINDS)  # each kind its own headline
    assert said[0] != headline(NotFound("x"), lang)  # the words above did not decide it
    if lang == "zh-CN":
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in said)
    shown = refusal(Conflict("posted already", field="payment_id"), lang)
    assert shown.startswith(headline(Conflict("x"), lang)) and shown.endswith("posted already")


def test_an_unknown_language_reads_english_and_a_plain_refusal_has_a_headline() -> None:
    assert headline(Forbidden("x"), "fr") == dict(HEADLINES)[Forbidden]  # the msgid: English
    assert headline(ServiceError("x"), "en") == dict(HEADLINES)[ServiceError]
    assert headline(ServiceError("x"), "zh-CN") == "无法办理"


def test_a_flash_address_quotes_the_message_and_signs_it() -> None:
    from urllib.parse import parse_qs, urlsplit

    from arrears.web.refusals import flash_shown

    url = flash_to("/approvals", Invalid("amount: 5 & more #1?"), "en", "csrf-token-1")
    assert url.startswith("/approvals?flash=") and "#" not in url
    query = parse_qs(urlsplit(url).query)
    said, signature = query["flash"][0], query["fs"][0]
    assert said == "Not accepted: amount: 5 & more #1?"
    assert flash_shown(said, signature, "csrf-token-1") == said
    # another session's key, words changed, no signature: nothing shown
    assert flash_shown(said, signature, "csrf-token-2") is None
    assert flash_shown(said + "!", signature, "csrf-token-1") is None
    assert flash_shown(said, None, "csrf-token-1") is None
    assert flash_shown(said, signature, "") is None


@pytest.mark.parametrize(
    ("exc", "label"),
    [
        (Invalid("bad"), "error: bad"),
        (NotFound("gone"), "error: not found: gone"),
        (Conflict("posted already"), "error: conflict: posted already"),
        (Forbidden("role"), "error: not allowed: role"),
        (LimitExceeded("too far"), "error: over the policy's limit: too far"),
        (StoreNotReady("run arrears init"), "error: store not ready: run arrears init"),
    ],
)
def test_the_command_line_labels_a_refusal_by_kind_and_exits_1(
    exc: ServiceError, label: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from arrears.cli.common import _errors

    with pytest.raises(typer.Exit) as raised, _errors():
        raise exc
    assert raised.value.exit_code == 1
    assert " ".join(capsys.readouterr().err.split()) == label
