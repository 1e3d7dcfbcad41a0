"""Serving with several processes on one port.

uvicorn's own ``--workers`` binds the listening socket without ``IPPROTO_TCP``; the connections
it accepts inherit that, asyncio then does not switch Nagle's algorithm off on them, and every
keep-alive response waits ~40 ms for the client's delayed ACK (uvicorn issue 3149, Linux). So
the socket is bound here, as TCP, and each worker process (forked) serves it.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import socket
from types import FrameType


def listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(
        "arrears.web.app:from_env", factory=True, log_level="warning", proxy_headers=False
    )  # X-Forwarded-For: web/portal/limits.py
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(host: str, port: int, workers: int) -> None:
    """Serve ``arrears.web.app:from_env`` from ``workers`` forked processes until signalled."""
    sock = listener(host, port)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(sock,), daemon=False) for _ in range(workers)]
    for p in procs:
        p.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for p in procs:
            p.join()
    finally:
        sock.close()
