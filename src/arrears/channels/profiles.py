"""Provider profiles: which adapter each channel uses, from a YAML file
(``ARREARS_PROVIDERS_FILE``); a channel the file does not name uses the local outbox.

```yaml
sms:
  kind: http                       # http | outbox
  url: https://sms.example.com/send
  token_env: SMS_TOKEN             # secrets come from the environment, never from the file
  mapping: {to: mobile, text: content, reference: outId, id: msgId}
  extra: {sign: 示例}
  rate_per_second: 100
  receipt: {id: msgId, status: stat}   # the gateway's delivery receipts, as it names them
email:
  kind: smtp                       # smtp | outbox
  host: smtp.example.com
  port: 587
  security: starttls               # starttls | tls | none
  username: collections
  password_env: SMTP_PASSWORD
  sender: collections@example.com
push:
  kind: http
  url: https://push.example.com/v1/messages:send
  token_env: PUSH_TOKEN
robocall:
  kind: http
  url: https://dialer.example.com/v1/calls
  callback_url: https://collections.example.com/api/v1/webhooks/dialer
  token_env: DIALER_TOKEN
agent_dialer:                      # click-to-call: the collector's phone first, then the borrower's
  kind: http
  url: https://dialer.example.com/v1/bridges
  callback_url: https://collections.example.com/api/v1/webhooks/dialer
  token_env: DIALER_TOKEN
asr:                               # speech recognition of call recordings
  kind: http
  submit_url: https://asr.example.com/v1/jobs
  poll_url: https://asr.example.com/v1/jobs       # GET <poll_url>/<job_id>; or callback_url
  callback_url: https://collections.example.com/api/v1/webhooks/asr
  audio: base64                    # base64 (inline) | url (the dialer's recording URL)
  token_env: ASR_TOKEN
```

Without ``agent_dialer`` the console cannot dial (calls are made outside and their outcome
recorded); without ``asr`` recordings are kept but not written down or scored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arrears.channels.base import Channel
from arrears.channels.email_smtp import SmtpConfig, SmtpEmail
from arrears.channels.outbox import Outbox
from arrears.channels.push_http import HttpPush, HttpPushConfig
from arrears.channels.sms_http import HttpSms, HttpSmsConfig
from arrears.channels.telephony import AgentDialerConfig, AsrConfig, HttpAgentDialer, HttpAsr
from arrears.channels.voice import DialerConfig, HttpDialer
from arrears.parsing import load_yaml

#: the channels that send through a provider (agent calls and visits go to worklists)
PROVIDER_CHANNELS = ("sms", "email", "push", "letter", "robocall")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutboxProfile(_Strict):
    kind: Literal["outbox"]
    #: write each message as files under ARREARS_OUTBOX_DIR (names and numbers in clear: the
    #: demo's choice); None: as ARREARS_OUTBOX_FILES says (off by default)
    files: bool | None = None


class HttpSmsProfile(_Strict):
    kind: Literal["http"]
    url: str
    token_env: str | None = None
    auth_header: str = "Authorization"
    mapping: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    rate_per_second: float = Field(50.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    #: the gateway's names for a delivery receipt's fields (arrears serve reads them)
    receipt: dict[str, str] = Field(default_factory=dict)


class SmtpProfile(_Strict):
    kind: Literal["smtp"]
    host: str
    port: int = Field(587, gt=0, lt=65536)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    sender: str = "collections@example.com"
    sender_name: str = "Collections"
    domain: str = "example.com"
    cafile: str | None = None
    rate_per_second: float = Field(20.0, gt=0)


class HttpPushProfile(_Strict):
    kind: Literal["http"]
    url: str
    token_env: str | None = None
    rate_per_second: float = Field(200.0, gt=0)


class HttpDialerProfile(_Strict):
    kind: Literal["http"]
    url: str  # the originate endpoint
    callback_url: str  # where the dialer posts status events (arrears serve's /webhooks/dialer)
    token_env: str | None = None
    caller_id: str | None = None
    rate_per_second: float = Field(10.0, gt=0)


class AgentDialerProfile(_Strict):
    kind: Literal["http"]
    url: str  # the bridge endpoint
    callback_url: str  # arrears serve's /api/v1/webhooks/dialer
    token_env: str | None = None
    caller_id: str | None = None
    timeout_seconds: float = Field(10.0, gt=0)


class AsrProfile(_Strict):
    kind: Literal["http"]
    submit_url: str
    poll_url: str | None = None
    callback_url: str | None = None
    audio: Literal["url", "base64"] = "base64"
    token_env: str | None = None
    timeout_seconds: float = Field(30.0, gt=0)


def _outbox() -> OutboxProfile:
    return OutboxProfile(kind="outbox")


class Profiles(_Strict):
    sms: OutboxProfile | HttpSmsProfile = Field(default_factory=_outbox, discriminator="kind")
    email: OutboxProfile | SmtpProfile = Field(default_factory=_outbox, discriminator="kind")
    push: OutboxProfile | HttpPushProfile = Field(default_factory=_outbox, discriminator="kind")
    letter: OutboxProfile = Field(default_factory=_outbox)
    robocall: OutboxProfile | HttpDialerProfile = Field(
        default_factory=_outbox, discriminator="kind"
    )
    agent_dialer: AgentDialerProfile | None = None
    asr: AsrProfile | None = None


class ProfileError(ValueError):
    pass


def read(path: Path | None) -> Profiles:
    """The profiles of ``path`` (every channel on the outbox when None)."""
    if path is None:
        return Profiles()
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path)) or {}
    except (OSError, yaml.YAMLError, ValueError) as exc:  # ValueError: ParseLimit
        raise ProfileError(f"{path}: {exc}") from exc
    try:
        return Profiles.model_validate(data)
    except ValidationError as exc:
        kinds = {"outbox", "http", "smtp"}  # the union's tags: not part of a field's name
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p not in kinds)}: {e['msg']}"
            for e in exc.errors()
        )
        raise ProfileError(f"{path}: {problems}") from exc


def _secret(name: str | None, where: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise ProfileError(f"{where}: the environment variable {name} is not set")
    return value


def build(profiles: Profiles, outbox_dir: Path, files: bool = False) -> dict[str, Channel]:
    """An adapter for each provider channel; an outbox channel writes files only when its
    profile (or, when it does not say, ``files``) asks for them."""
    boxes = {True: Outbox(outbox_dir), False: Outbox(None)}
    out: dict[str, Channel] = {}
    for channel in PROVIDER_CHANNELS:
        p = getattr(profiles, channel)
        if isinstance(p, OutboxProfile):
            out[channel] = boxes[files if p.files is None else p.files]
        elif isinstance(p, HttpSmsProfile):
            out[channel] = HttpSms(
                HttpSmsConfig(
                    url=p.url,
                    token=_secret(p.token_env, "sms.token_env"),
                    auth_header=p.auth_header,
                    mapping=p.mapping,
                    extra=p.extra,
                    rate_per_second=p.rate_per_second,
                    timeout_seconds=p.timeout_seconds,
                )
            )
        elif isinstance(p, SmtpProfile):
            out[channel] = SmtpEmail(
                SmtpConfig(
                    host=p.host,
                    port=p.port,
                    security=p.security,
                    username=p.username,
                    password=_secret(p.password_env, "email.password_env"),
                    sender=p.sender,
                    sender_name=p.sender_name,
                    domain=p.domain,
                    cafile=p.cafile,
                    rate_per_second=p.rate_per_second,
                )
            )
        elif isinstance(p, HttpDialerProfile):
            out[channel] = HttpDialer(
                DialerConfig(
                    url=p.url,
                    callback_url=p.callback_url,
                    token=_secret(p.token_env, "robocall.token_env"),
                    caller_id=p.caller_id,
                    rate_per_second=p.rate_per_second,
                )
            )
        elif isinstance(p, HttpPushProfile):
            out[channel] = HttpPush(
                HttpPushConfig(
                    url=p.url,
                    token=_secret(p.token_env, "push.token_env"),
                    rate_per_second=p.rate_per_second,
                )
            )
    return out


def agent_dialer(profiles: Profiles) -> HttpAgentDialer | None:
    """The click-to-call dialer of ``profiles`` (None: none is configured)."""
    p = profiles.agent_dialer
    if p is None:
        return None
    return HttpAgentDialer(
        AgentDialerConfig(
            url=p.url,
            callback_url=p.callback_url,
            token=_secret(p.token_env, "agent_dialer.token_env"),
            caller_id=p.caller_id,
            timeout_seconds=p.timeout_seconds,
        )
    )


def asr(profiles: Profiles) -> HttpAsr | None:
    """The speech-recognition provider of ``profiles`` (None: none is configured)."""
    p = profiles.asr
    if p is None:
        return None
    if p.poll_url is None and p.callback_url is None:
        raise ProfileError("asr: name a poll_url or a callback_url (how results come back)")
    return HttpAsr(
        AsrConfig(
            submit_url=p.submit_url,
            poll_url=p.poll_url,
            callback_url=p.callback_url,
            audio=p.audio,
            token=_secret(p.token_env, "asr.token_env"),
            timeout_seconds=p.timeout_seconds,
        )
    )
