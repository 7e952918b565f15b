"""Run the sandbox on a socket: blocking for the CLI, in a thread for tests and the demo."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from bulkx.sandbox.limits import DEFAULT_LIMITS, Limits
from bulkx.sandbox.protocol import protocol_class

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    """True for a loopback address, or `localhost` when every address it resolves to is one.

    Other names (`*.localhost` included) are refused: what they resolve to is up to a resolver.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host.lower() != "localhost":
        return False
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {str(info[4][0]).split("%")[0] for info in found}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _config(
    app: Any, host: str, port: int, *, log_level: str, limits: Limits | None = None
) -> uvicorn.Config:
    limits = limits or getattr(app, "limits", None) or DEFAULT_LIMITS
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        http=protocol_class(limits),
        # Keep-alive avoids reconnect churn in benchmarks; idle connections still close.
        timeout_keep_alive=limits.keep_alive_s,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        limit_concurrency=limits.max_connections,
        backlog=2048,
    )


def serve_forever(app: Any, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until Ctrl-C (the CLI's `bulkx sandbox serve`)."""
    uvicorn.Server(_config(app, host, port, log_level="warning")).run()


class RunningServer:
    """A uvicorn server on its own thread; `url` is its base, e.g. http://127.0.0.1:43123."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, host: str, port: int):
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "error",
    limits: Limits | None = None,
) -> Iterator[RunningServer]:
    """Start `app` on `host:port` (port 0 picks a free one) and stop it on exit; `limits`
    default to the app's own (a SandboxApp's) or DEFAULT_LIMITS."""
    if not is_loopback(host):
        raise ValueError(f"the sandbox only binds loopback addresses, not {host!r}")
    # Binding here (not in uvicorn) makes port 0 race-free: the port is ours before the thread runs.
    sock = _bind(host, port)
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(_config(app, host, port, log_level=log_level, limits=limits))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox did not start on {host}:{port}")
        time.sleep(0.01)
    running = RunningServer(server, thread, host, port)
    try:
        yield running
    finally:
        running.stop()
        sock.close()


def quiet_dropped_connections() -> None:
    """uvicorn logs a traceback when a fault deliberately drops a connection; that is expected."""

    class _DropFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            exc = record.exc_info[1] if record.exc_info else None
            return type(exc).__name__ != "ConnectionDropped"

    logging.getLogger("uvicorn.error").addFilter(_DropFilter())
