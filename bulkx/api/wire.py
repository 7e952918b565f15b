"""The I/O under `CarrierX`: one request out, one whole answer back, nothing else.

Real HTTP goes straight to an aiohttp session: building an `httpx.Request`, having
httpx-aiohttp turn it into an aiohttp request and its answer back into an `httpx.Response`
cost 0.12 ms of CPU a request, a quarter of bulkx's whole cost per operation (issue 18, bench
row 5). Any httpx async transport still plugs in (`HttpxWire`): the sandbox's in-process
transport, and the fault-injecting ones of the tests.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
import yarl

__all__ = ["AiohttpWire", "Answer", "HttpxWire", "Wire", "with_query"]


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole HTTP answer: status, reason phrase, headers (case-insensitive) and body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class Wire(Protocol):
    """Sends one request and reads its whole answer. Raises the transport's own errors
    (aiohttp's or httpx's); the client maps them onto `bulkx.errors`."""

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer: ...

    async def aclose(self) -> None: ...


def with_query(url: str, params: Mapping[str, Any] | None) -> str:
    """`url` with `params` added to its query, encoded as httpx encodes them (a list value
    repeats its name, True is `true`, None is empty)."""
    if not params:
        return url
    query = str(httpx.QueryParams(params))
    return f"{url}{'&' if '?' in url else '?'}{query}"


class AiohttpWire:
    """Real HTTP: one aiohttp connection pool (opened on the first request, inside the loop)."""

    def __init__(self, *, limits: httpx.Limits, timeout: httpx.Timeout) -> None:
        self._limits = limits
        self._timeout = aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )
        self._session: aiohttp.ClientSession | None = None

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        session = self._session or self._open(url)
        # encoded=True: the URL is built from encoded parts already; yarl need not requote it.
        async with session.request(
            method,
            yarl.URL(url, encoded=True),
            headers=headers,
            data=body,
            allow_redirects=False,  # a redirect could carry the credentials elsewhere
            timeout=self._timeout,
        ) as response:
            content = await response.read()
            return Answer(response.status, response.reason or "", response.headers, content)

    def _open(self, url: str) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry or 0,
            ssl=_tls_context() if url.startswith("https:") else True,
        )
        self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _tls_context() -> ssl.SSLContext:
    # httpx's: the certifi bundle, or SSL_CERT_FILE / SSL_CERT_DIR when set (as before).
    return httpx.create_ssl_context(verify=True, trust_env=True)


class HttpxWire:
    """Any httpx async transport, e.g. the sandbox's in-process `SandboxTransport(app)`."""

    def __init__(self, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout) -> None:
        self.transport = transport
        self._extensions = {"timeout": timeout.as_dict()}

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        request = httpx.Request(
            method, url, headers=headers, content=body, extensions=self._extensions
        )
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return Answer(
            response.status_code, response.reason_phrase, response.headers, response.content
        )

    async def aclose(self) -> None:
        await self.transport.aclose()
