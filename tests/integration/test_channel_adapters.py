"""The real adapters against real servers on loopback: the SMS gateway and push adapters against
an HTTP server, the email adapter against an SMTP server over STARTTLS and over implicit TLS;
and the local outbox profile."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest

from arrears.channels.base import Attachment, Message, SendFailed
from arrears.channels.email_smtp import SmtpConfig, SmtpEmail, message_id
from arrears.channels.outbox import Outbox
from arrears.channels.push_http import HttpPush, HttpPushConfig
from arrears.channels.ratelimit import TokenBucket
from arrears.channels.sms_http import HttpSms, HttpSmsConfig
from tests.support.servers import Gateway, SmtpServer


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(token="s3cret").start()
    yield gw
    gw.stop()


def _sms(key: str = "2026-11-23|L1|early_sms_d1", to: str = "13812345678") -> Message:
    return Message(key, "sms", to, "【示例】您的借款已逾期3天，验证码K7Q2-M9XD。回复TD退订")


def test_an_sms_reaches_the_gateway_in_its_own_shape(gateway: Gateway) -> None:
    config = HttpSmsConfig(
        url=gateway.url,
        token="s3cret",
        mapping={"to": "mobile", "text": "content", "reference": "outId", "id": "msgId"},
        extra={"sign": "示例"},
    )
    sms = HttpSms(config)
    try:
        receipt = sms.send(_sms())
    finally:
        sms.close()
    [req] = gateway.requests
    assert req["body"] == {
        "sign": "示例",
        "mobile": "13812345678",
        "content": _sms().body,
        "outId": "2026-11-23|L1|early_sms_d1",
    }
    assert req["headers"]["Authorization"] == "Bearer s3cret"
    assert req["headers"]["Idempotency-Key"] == "2026-11-23|L1|early_sms_d1"
    assert (receipt.provider, receipt.provider_ref, receipt.status) == (
        "sms-http",
        "gw-1",
        "queued",
    )


def test_a_repeat_carries_the_same_key_and_the_gateway_keeps_one(gateway: Gateway) -> None:
    sms = HttpSms(HttpSmsConfig(url=gateway.url, token="s3cret"))
    first, again = sms.send(_sms()), sms.send(_sms())
    sms.close()
    assert len(gateway.requests) == 2 and len(gateway.accepted) == 1
    assert first.provider_ref == again.provider_ref


def test_gateway_failures_say_whether_to_try_again(gateway: Gateway) -> None:
    sms = HttpSms(HttpSmsConfig(url=gateway.url, token="s3cret"))
    gateway.fail_next = 1
    with pytest.raises(SendFailed) as busy:
        sms.send(_sms())
    assert busy.value.retry and "503" in busy.value.reason
    assert sms.send(_sms()).provider_ref == "gw-1"  # the retry goes through
    gateway.refuse.add("10000000000")
    with pytest.raises(SendFailed) as bad:
        sms.send(_sms("k2", to="10000000000"))
    assert not bad.value.retry and "400" in bad.value.reason
    wrong = HttpSms(HttpSmsConfig(url=gateway.url, token="wrong"))
    with pytest.raises(SendFailed) as denied:
        wrong.send(_sms("k3"))
    assert not denied.value.retry and "401" in denied.value.reason
    sms.close()
    wrong.close()


def test_an_unreachable_gateway_is_worth_another_try() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sms = HttpSms(HttpSmsConfig(url=f"http://127.0.0.1:{port}/send", timeout_seconds=2))
    with pytest.raises(SendFailed) as info:
        sms.send(_sms())
    assert info.value.retry and "unreachable" in info.value.reason
    sms.close()


def test_the_rate_limit_spaces_sends() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    bucket = TokenBucket(10, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        bucket.acquire()
    # two at once, then one every 0.1 s: 4 more sends take 0.4 s
    assert now[0] == pytest.approx(0.4)
    assert len(waits) == 4


def _email(key: str = "2026-11-23|L1|statement_d20", to: str = "zhang@example.com") -> Message:
    return Message(
        key,
        "email",
        to,
        "尊敬的张三：您的借款已逾期20天。验证码K7Q2-M9XD。",
        subject="示例消费金融：借款L1账单",
        html="<p>尊敬的张三：您的借款已逾期20天。</p>",
        attachments=(Attachment("statement.pdf", "application/pdf", b"%PDF-1.7 test"),),
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_email_goes_out_over_tls_with_both_parts_and_the_statement(
    tmp_path: Path, security: str
) -> None:
    server = SmtpServer(tmp_path, security).start()
    mailer = SmtpEmail(
        SmtpConfig(
            host="127.0.0.1",
            port=server.port,
            security=security,
            cafile=str(server.cert),
            sender="collections@demo.example",
            domain="demo.example",
        )
    )
    try:
        receipt = mailer.send(_email())
        mailer.send(_email("another-key"))  # the same connection, reused
    finally:
        mailer.close()
        server.stop()
    assert len(server.box.messages) == 2
    got = server.box.messages[0]
    assert got["tls"] and got["to"] == ["zhang@example.com"]
    msg = email.message_from_bytes(got["data"], policy=policy.default)
    assert msg["Subject"] == "示例消费金融：借款L1账单"
    assert msg["Message-ID"] == message_id("2026-11-23|L1|statement_d20", "demo.example")
    assert receipt.provider_ref == msg["Message-ID"]
    body = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert body is not None and "逾期20天" in body.get_content()
    assert html is not None and "<p>" in html.get_content()
    [pdf] = list(msg.iter_attachments())
    assert pdf.get_filename() == "statement.pdf" and pdf.get_content() == b"%PDF-1.7 test"


def test_a_refused_recipient_is_a_bounce_not_a_retry(tmp_path: Path) -> None:
    server = SmtpServer(tmp_path).start()
    server.box.bounce.add("gone@example.com")
    mailer = SmtpEmail(SmtpConfig(host="127.0.0.1", port=server.port, cafile=str(server.cert)))
    try:
        with pytest.raises(SendFailed) as info:
            mailer.send(_email(to="gone@example.com"))
        assert not info.value.retry and "refused" in info.value.reason
        assert mailer.send(_email("k2")).status == "sent"  # the connection still works
    finally:
        mailer.close()
        server.stop()
    assert len(server.box.messages) == 1


def test_a_server_that_is_not_there_is_worth_another_try(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailer = SmtpEmail(SmtpConfig(host="127.0.0.1", port=port, timeout_seconds=2))
    with pytest.raises(SendFailed) as info:
        mailer.send(_email())
    assert info.value.retry
    mailer.close()


def test_a_push_goes_to_the_push_service_in_the_common_shape(gateway: Gateway) -> None:
    push = HttpPush(HttpPushConfig(url=gateway.url, token="s3cret"))
    try:
        m = Message(
            "2026-11-23|L1|early_push_d2",
            "push",
            "device-abc",
            "您的借款已逾期2天",
            subject="逾期提醒",
            metadata={"loan": "L1"},
        )
        receipt = push.send(m)
        push.send(m)
    finally:
        push.close()
    body = gateway.requests[0]["body"]
    assert body == {
        "message": {
            "token": "device-abc",
            "notification": {"title": "逾期提醒", "body": "您的借款已逾期2天"},
            "data": {"idempotency_key": "2026-11-23|L1|early_push_d2", "loan": "L1"},
        }
    }
    assert len(gateway.accepted) == 1 and receipt.provider == "push-http"


def test_the_local_outbox_keeps_each_message_once_and_readable(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    sms = Message(
        "2026-11-23|L1|early_sms_d1",
        "sms",
        "13812345678",
        "您好，验证码K7Q2-M9XD",
        metadata={"day": "2026-11-23"},
    )
    first, again = box.send(sms), box.send(sms)
    assert first == again
    [json_file] = (tmp_path / "outbox" / "sms" / "2026-11-23").glob("*.json")
    assert json_file.with_suffix(".txt").read_text(encoding="utf-8") == sms.body
    letter = Message(
        "2026-11-23|L2|collection_letter_d25",
        "letter",
        "上海市示例路1号",
        "催收函",
        html="<h1>催收函</h1>",
        metadata={"day": "2026-11-23"},
    )
    box.send(letter)
    [html] = (tmp_path / "outbox" / "letter" / "2026-11-23").glob("*.html")
    assert html.read_text(encoding="utf-8") == "<h1>催收函</h1>"
    mail = _email()
    box.send(Message(**{**mail.__dict__, "metadata": {"day": "2026-11-23"}}))
    [eml] = (tmp_path / "outbox" / "email" / "2026-11-23").glob("*.eml")
    parsed = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "示例消费金融：借款L1账单"
    [pdf] = (tmp_path / "outbox" / "email" / "2026-11-23").glob("*statement.pdf")
    assert pdf.read_bytes() == b"%PDF-1.7 test"
    assert not list((tmp_path / "outbox").rglob(".*.tmp"))
