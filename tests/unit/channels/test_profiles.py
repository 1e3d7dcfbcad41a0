"""Provider profiles: a file names each channel's adapter; mistakes are named with the field;
secrets come from the environment; what the file does not name goes to the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.channels.email_smtp import SmtpEmail
from arrears.channels.outbox import Outbox
from arrears.channels.profiles import ProfileError, build, read
from arrears.channels.sms_http import HttpSms
from arrears.channels.voice import HttpDialer


def test_no_file_puts_every_channel_on_the_outbox(tmp_path: Path) -> None:
    channels = build(read(None), tmp_path)
    assert set(channels) == {"sms", "email", "push", "letter", "robocall"}
    assert all(isinstance(c, Outbox) for c in channels.values())
    # no files unless asked: the messages (names, numbers) stay sealed in the store
    assert all(c.folder is None for c in channels.values())  # type: ignore[attr-defined]
    with_files = build(read(None), tmp_path, files=True)
    assert all(c.folder == tmp_path for c in with_files.values())  # type: ignore[attr-defined]


def test_the_profile_says_which_outbox_writes_files(tmp_path: Path) -> None:
    f = tmp_path / "providers.yaml"
    f.write_text("sms:\n  kind: outbox\n  files: true\n", encoding="utf-8")
    channels = build(read(f), tmp_path)
    assert channels["sms"].folder == tmp_path  # type: ignore[attr-defined]
    assert channels["email"].folder is None  # type: ignore[attr-defined]


def test_a_file_chooses_the_real_adapters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "providers.yaml"
    f.write_text(
        "sms:\n  kind: http\n  url: http://127.0.0.1:9/send\n  token_env: T_SMS\n"
        "  mapping: {to: mobile}\n"
        "email:\n  kind: smtp\n  host: 127.0.0.1\n  port: 2525\n  security: tls\n"
        "robocall:\n  kind: http\n  url: http://127.0.0.1:9/calls\n"
        "  callback_url: http://127.0.0.1:8000/api/v1/webhooks/dialer\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("T_SMS", "tok")
    channels = build(read(f), tmp_path)
    sms, mail = channels["sms"], channels["email"]
    assert isinstance(sms, HttpSms) and sms.config.token == "tok"
    assert sms.mapping["to"] == "mobile" and sms.mapping["text"] == "text"
    assert isinstance(mail, SmtpEmail) and mail.config.security == "tls"
    assert isinstance(channels["push"], Outbox)
    dialer = channels["robocall"]
    assert isinstance(dialer, HttpDialer) and dialer.config.callback_url.endswith("/dialer")
    sms.close()
    dialer.close()


def test_mistakes_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "providers.yaml"
    bad = "email:\n  kind: smtp\n  host: h\n  port: 99999\n  colour: red\n"
    f.write_text(bad, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        read(f)
    message = str(info.value)
    assert "providers.yaml" in message and "port" in message and "colour" in message
    f.write_text("sms:\n  kind: http\n  url: http://x\n  token_env: NOT_SET_X\n", encoding="utf-8")
    monkeypatch.delenv("NOT_SET_X", raising=False)
    with pytest.raises(ProfileError, match="sms.token_env: the environment variable NOT_SET_X"):
        build(read(f), tmp_path)
