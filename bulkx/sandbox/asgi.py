"""Plain ASGI for the sandbox's middleware and admin API: the callable types, sending a JSON
answer or an error, and dropping a connection the way a socket would see it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bulkx.sandbox.errors import ErrorAnswer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConnectionDropped(Exception):
    """Raised by the middleware to make the server drop the connection without a response.

    server.quiet_dropped_connections() recognises it by this class name; keep the two in step.
    """


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def send_body(
    send: Send, status: int, body: bytes, extra_headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: ErrorAnswer) -> None:
    headers = tuple((k.lower().encode(), v.encode()) for k, v in error.headers.items())
    await send_body(send, error.status, dumps(error.body()), headers)


async def drop_connection(send: Send, why: str) -> None:
    # uvicorn answers 500 for an app that fails before starting its response, but closes the
    # socket when one has started. A promised body byte that never comes makes every HTTP/1.x
    # client see a truncated message (httpx: RemoteProtocolError), never a complete answer.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1")],
        }
    )
    raise ConnectionDropped(why)


async def swallow(message: Message) -> None:
    """A `send` that loses the response, for execute_then_reset."""


def client_is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False
