"""Real servers on loopback standing in for providers: an HTTP SMS gateway (JSON in, an id out,
deduplication on the idempotency key, scripted failures) and an SMTP server with STARTTLS or
implicit TLS (aiosmtpd), with a self-signed certificate made for the run; and our own ASGI apps
served by uvicorn."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Gateway:
    """What the stand-in gateway saw: every request, and the messages it accepted once."""

    token: str | None = None
    fail_next: int = 0  # answer 503 to this many requests first
    refuse: set[str] = field(default_factory=set)  # numbers answered with 400
    delay: float = 0.0  # seconds each answer takes (a slow provider)
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency key
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/send"

    def start(self) -> Gateway:
        gw = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway's API
            disable_nagle_algorithm = True  # answers go out at once, not after a delayed ACK

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(size)
                if len(raw) < size:  # the client died mid-request: nothing was offered
                    self.close_connection = True
                    return
                body = json.loads(raw or b"{}")
                key = self.headers.get("Idempotency-Key", "")
                if gw.delay:
                    time.sleep(gw.delay)
                with gw.lock:
                    gw.requests.append({"headers": dict(self.headers), "body": body})
                    if gw.token and self.headers.get("Authorization") != f"Bearer {gw.token}":
                        return self._answer(401, {"error": "bad token"})
                    if gw.fail_next > 0:
                        gw.fail_next -= 1
                        return self._answer(503, {"error": "busy"})
                    to = str(body.get("to") or body.get("mobile") or "")
                    if to in gw.refuse:
                        return self._answer(400, {"error": f"bad number {to}"})
                    if key not in gw.accepted:
                        gw.accepted[key] = {"id": f"gw-{len(gw.accepted) + 1}", **body}
                    return self._answer(
                        200, {"id": gw.accepted[key]["id"], "msgId": gw.accepted[key]["id"]}
                    )

            def _answer(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the SIGKILL test) is expected: say nothing of it."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def self_signed(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """(certificate, key) PEM files for ``host``, valid for a day."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """The stand-in SMTP server's deliveries: one entry per accepted message."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    bounce: set[str] = field(default_factory=set)  # recipients answered with 550
    lock: threading.Lock = field(default_factory=threading.Lock)


class SmtpServer:
    """aiosmtpd on loopback: ``security`` starttls (plain port, STARTTLS required) or tls
    (implicit TLS on connect)."""

    def __init__(self, folder: Path, security: str = "starttls") -> None:
        from aiosmtpd.controller import Controller

        self.cert, self.key = self_signed(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self.box = Mailbox()
        box = self.box

        class Handler:
            async def handle_RCPT(
                self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
            ) -> str:
                if address in box.bounce:
                    return "550 5.1.1 no such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with box.lock:
                    box.messages.append(
                        {
                            "from": envelope.mail_from,
                            "to": list(envelope.rcpt_tos),
                            "data": envelope.original_content or envelope.content,
                            "tls": session.ssl is not None  # after STARTTLS
                            or server.transport.get_extra_info("ssl_object") is not None,
                        }
                    )
                return "250 Message accepted"

        port = free_port()
        if security == "tls":
            self.controller = Controller(
                Handler(), hostname="127.0.0.1", port=port, ssl_context=context
            )
        else:
            self.controller = Controller(
                Handler(),
                hostname="127.0.0.1",
                port=port,
                tls_context=context,
                require_starttls=True,
            )

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def stop(self) -> None:
        self.controller.stop()


@contextmanager
def serve_asgi(api: Any) -> Iterator[str]:
    """An ASGI app served by a real uvicorn on a loopback port for the block; its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
