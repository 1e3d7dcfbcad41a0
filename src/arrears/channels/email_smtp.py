"""Email over SMTP: plain text and HTML parts, attachments (the statement PDF), STARTTLS or
implicit TLS, and a Message-ID made from the plan action's id, so a repeat of the same message
carries the same id and a relay or mailbox that deduplicates drops it.

SMTP answers map to outcomes: 2xx taken; 4xx (and a dropped connection or a timeout) may
succeed later; 5xx never will (a refused recipient is recorded as a bounce).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from arrears.channels.base import Message, Receipt, SendFailed
from arrears.channels.ratelimit import TokenBucket


@dataclass
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none (loopback and tests only)
    username: str | None = None
    password: str | None = None
    sender: str = "collections@example.com"
    sender_name: str = "Collections"
    domain: str = "example.com"  # the right-hand side of Message-IDs
    rate_per_second: float = 20.0
    timeout_seconds: float = 20.0
    cafile: str | None = None  # a CA bundle to trust (a private relay's certificate)
    name: str = "smtp"


def message_id(key: str, domain: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


class SmtpEmail:
    """One SMTP connection per thread, opened on first use and reopened when dropped."""

    def __init__(self, config: SmtpConfig) -> None:
        if config.security not in ("starttls", "tls", "none"):
            got = config.security
            raise ValueError(f"smtp security: expected starttls, tls or none, got {got!r}")
        self.config = config
        self.name = config.name
        self.limiter = TokenBucket(config.rate_per_second)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[smtplib.SMTP] = set()

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.cafile)

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        smtp: smtplib.SMTP
        if c.security == "tls":
            smtp = smtplib.SMTP_SSL(
                c.host, c.port, timeout=c.timeout_seconds, context=self._context()
            )
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_seconds)
            smtp.ehlo()
            if c.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
        if c.username:
            smtp.login(c.username, c.password or "")
        return smtp

    def build(self, m: Message) -> EmailMessage:
        c = self.config
        msg = EmailMessage()
        msg["From"] = formataddr((c.sender_name, c.sender))
        msg["To"] = m.destination
        msg["Subject"] = m.subject or ""
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id(m.idempotency_key, c.domain)
        msg["X-Idempotency-Key"] = m.idempotency_key
        msg.set_content(m.body)
        if m.html:
            msg.add_alternative(m.html, subtype="html")
        for a in m.attachments:
            main, _, sub = a.content_type.partition("/")
            msg.add_attachment(
                a.data, maintype=main, subtype=sub or "octet-stream", filename=a.filename
            )
        return msg

    def send(self, message: Message) -> Receipt:
        self.limiter.acquire()
        msg = self.build(message)
        for attempt in (1, 2):  # a pooled connection may have been closed by the server
            smtp = getattr(self._local, "smtp", None)
            try:
                if smtp is None:
                    smtp = self._local.smtp = self._connect()
                    with self._lock:
                        self._open.add(smtp)
                refused = smtp.send_message(msg)
            except smtplib.SMTPRecipientsRefused as exc:
                raise SendFailed(f"recipient refused: {exc.recipients}", retry=False) from exc
            except smtplib.SMTPResponseException as exc:
                self._drop()
                said = exc.smtp_error
                text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
                code = exc.smtp_code
                raise SendFailed(f"SMTP {code}: {text}", retry=code < 500) from exc
            except (smtplib.SMTPServerDisconnected, ConnectionError, OSError) as exc:
                self._drop()
                if attempt == 1 and smtp is not None:
                    continue
                raise SendFailed(f"SMTP server unreachable: {exc}", retry=True) from exc
            if refused:
                raise SendFailed(f"recipient refused: {refused}", retry=False)
            return Receipt(self.name, msg["Message-ID"], "sent")
        raise SendFailed("SMTP server unreachable", retry=True)  # pragma: no cover

    def _drop(self) -> None:
        """Forget this thread's connection and close it."""
        smtp = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if smtp is not None:
            with self._lock:
                self._open.discard(smtp)
            smtp.close()

    def close(self) -> None:
        """QUIT every thread's connection (a dispatcher sends from several threads)."""
        self._local.smtp = None
        with self._lock:
            conns, self._open = list(self._open), set()
        for smtp in conns:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            smtp.close()
