"""The sandbox answers only requests addressed to a loopback name: a Host header check.

Binding 127.0.0.1 keeps other machines out, but not a web page: a page on evil.example can make
its name resolve to 127.0.0.1 (DNS rebinding) and then call the sandbox from the browser as its
own origin. The browser still sends `Host: evil.example:8765`, so refusing every Host that is
not a loopback address or `localhost` closes that door, for the API and the admin API alike.
`*.localhost` names are refused too: whether they reach this machine is up to a resolver.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from bulkx.sandbox.errors import ErrorAnswer, FieldError

Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The status of a refused Host: the request reached a server that will not answer for it.
MISDIRECTED: Final = 421
LOOPBACK_NAMES: Final = frozenset({"localhost"})


def split_host(value: str) -> tuple[str, str] | None:
    """`[::1]:8765` -> ("::1", "8765"), `localhost` -> ("localhost", ""); None if malformed."""
    value = value.strip()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
    else:
        host, _, port = value.partition(":")
        if ":" in port:
            return None
    if port and not port.isdigit():
        return None
    return host, port


def host_is_loopback(value: str) -> bool:
    """True for a Host header naming 127.0.0.0/8, ::1 or localhost, with or without a port."""
    parts = split_host(value)
    if parts is None or not parts[0]:
        return False
    host = parts[0].lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return bytes(value).decode("latin-1")
    return None


async def refuse_host(send: Send, host: str | None) -> None:
    shown = "no Host header" if host is None else f"Host {host[:100]!r}"
    why = (
        f"{shown}: the sandbox answers only requests addressed to 127.0.0.1, [::1] or localhost"
        " (with the port), so that a web page cannot reach it through DNS rebinding"
    )
    error = ErrorAnswer(MISDIRECTED, "misdirected request", [FieldError(None, why)])
    body = json.dumps(error.body(), separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": MISDIRECTED, "headers": headers})
    await send({"type": "http.response.body", "body": body})
