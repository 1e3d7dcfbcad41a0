"""``arrears serve --workers 2``: one port, forked workers, a TCP listener (so accepted
connections get TCP_NODELAY; uvicorn's own supervisor loses it), and a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from arrears.web.serve import listener
from tests.support.servers import free_port


def test_the_listener_is_tcp_so_accepted_connections_are_too() -> None:
    sock = listener("127.0.0.1", free_port())
    try:
        assert (sock.family, sock.type, sock.proto) == (
            socket.AF_INET,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
        )
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        assert accepted.proto == socket.IPPROTO_TCP  # what asyncio checks before NODELAY
        accepted.close()
        client.close()
    finally:
        sock.close()


def test_two_workers_serve_one_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "ARREARS_ENV": "test",
    }
    arrears = [sys.executable, "-m", "arrears"]
    subprocess.run([*arrears, "init"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*arrears, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        assert r.status_code == 200 and "arrears" in r.text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            codes = {c.get("/api/v1/loans").status_code for _ in range(10)}
        assert codes == {401}  # both workers answer the API, and ask for a token
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) is not None
