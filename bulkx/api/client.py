"""`CarrierX`: the async client for the Core and app APIs.

Each API has a route (base URL, default headers) and a wire that does I/O only (`wire`:
aiohttp's pool for real HTTP, which scales far better than httpx's default at high concurrency;
any httpx transport, such as the sandbox's in-process one, in tests). This module adds the
CarrierX policy on top: authentication, Mediator's response wrapper, mapping every
failure onto `bulkx.errors`, retries (`retry.RetryPolicy`) and pagination (`paging`).

Credentials never reach an exception, a log record or a repr: Core's token lives only in the
Core route's default headers (kept out of its repr), app passwords only in `BasicCredentials`,
and every message taken from a server answer is scrubbed of both before it is raised.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import json as jsonlib
import logging
import math
import re
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import httpx

import bulkx
from bulkx.api.auth import REDACTED, BasicCredentials, Secret
from bulkx.api.filters import Filter
from bulkx.api.paging import MAX_PAGE_SIZE, envelope_items, iter_envelopes, same_origin
from bulkx.api.retry import IDEMPOTENT_METHODS, RetryPolicy
from bulkx.api.target import API_NAMES, Target
from bulkx.api.wire import AiohttpWire, Answer, HttpxWire, Wire, with_query
from bulkx.errors import (
    ApiError,
    AuthError,
    ConfigError,
    FieldProblem,
    NotFound,
    OutcomeUnknown,
    ServerError,
    TransportError,
    Unreachable,
    error_for_status,
)

__all__ = ["APP_ENDPOINT_TYPES", "DEFAULT_TIMEOUT", "CarrierX", "parse_retry_after"]

log = logging.getLogger("bulkx.api")

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
#: The Core endpoint `type` whose credentials open each app API.
APP_ENDPOINT_TYPES: Final = {
    "conference_v2": "conference_v2",
    "conference": "conference",
    "flexml": "flexml",
    "mediator": "mediator",
}
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_SID: Final = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_SECRET_PARAM_WORDS: Final = ("token", "password", "secret", "key", "auth")

# Failures that happen before a single request byte leaves: nothing can have been executed.
_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP-date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _reached_server(exc: BaseException) -> bool:
    """Whether a transport failure may have happened after the request was sent.

    An httpx transport wrapping aiohttp may map its errors coarsely (httpx-aiohttp makes a read
    timeout and a server disconnect both `httpx.ConnectTimeout`), so the aiohttp cause decides
    when there is one.
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return False
        if isinstance(
            cause,
            aiohttp.ServerDisconnectedError
            | aiohttp.SocketTimeoutError
            | aiohttp.ClientPayloadError
            | aiohttp.ClientOSError,
        ):
            return True
        cause = cause.__cause__
    # Anything unrecognised is treated as possibly executed: the safe assumption for a POST.
    return not isinstance(exc, _NOT_SENT)


def _never_connected(exc: BaseException) -> bool:
    """Whether the connection itself failed: a name that does not resolve, or a refusal."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError):
            return True
        cause = cause.__cause__
    return isinstance(exc, httpx.ConnectError)


def _display_url(text: str) -> str:
    """The URL for messages: no userinfo, and secret-looking query values replaced."""
    url = httpx.URL(text).copy_with(username=None, password=None)
    if not url.query:
        return str(url)
    params = [
        (name, "REDACTED" if any(w in name.lower() for w in _SECRET_PARAM_WORDS) else value)
        for name, value in url.params.multi_items()
    ]
    return str(url.copy_with(params=params))


@dataclass(frozen=True, slots=True)
class _Route:
    """One API's base URL, default headers and pool (wire), ready for the hot path.

    Requests go to the wire as method, URL, headers and bytes rather than through
    `httpx.AsyncClient.send`: its URL merging, cookie jar and auth/redirect layers cost a
    third of bulkx's CPU per operation (bench row 1) and do nothing for us, as CarrierX
    authenticates by header and a redirect is never followed (it could carry the credentials
    elsewhere)."""

    base: str
    headers: dict[str, str] = field(repr=False)  # Core's carries the token
    wire: Wire

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):  # a pagination link, checked by the caller
            return path
        return f"{self.base}/{path.lstrip('/')}"


#: Secrets shorter than this are not searched for in error texts (see `_scrub`).
MIN_SCRUBBED_LENGTH = 6


class CarrierX:
    """An async client for one CarrierX target (use `async with`, or call `aclose()`).

    transport: None for real HTTP (one aiohttp-backed pool per API), or any httpx async
        transport, e.g. the sandbox's in-process `SandboxTransport(app)`; it is closed with
        the client.
    retry: the retry policy (default `RetryPolicy()`); tests pass one with a recording sleep.
    page_concurrency: pages fetched at once by `iter_pages` / `list_all` when `total` is known.
    """

    def __init__(
        self,
        target: Target,
        token: Secret,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        # As many as `--concurrency 64` keeps in flight (bench row 2; with 32 the pool, not
        # the window, set the pace); connections open only as requests need them.
        max_connections: int = 64,
        limits: httpx.Limits | None = None,
        retry: RetryPolicy | None = None,
        page_concurrency: int = 4,
    ) -> None:
        if not isinstance(token, Secret):
            raise TypeError("token must be a bulkx.api.Secret (so it is never printed)")
        self.target = target
        self._token = token
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._shared_wire = HttpxWire(transport, self._timeout) if transport is not None else None
        self._limits = limits or httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.retry = retry if retry is not None else RetryPolicy()
        self.page_concurrency = max(1, page_concurrency)
        self._routes: dict[str, _Route] = {}
        self._credentials: dict[tuple[str, str | None], BasicCredentials] = {}
        self._credentials_lock = asyncio.Lock()
        self._secrets: set[str] = {token.reveal()}
        self._closed = False

    def __repr__(self) -> str:
        return f"CarrierX(target={self.target.label!r})"

    def with_retry(self, retry: RetryPolicy) -> CarrierX:
        """The same client (connections, credentials) with another retry policy: the executor
        retries writes itself, so that its pacing sees every 429."""
        sibling = copy.copy(self)
        sibling.retry = retry
        return sibling

    async def __aenter__(self) -> CarrierX:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        routes, self._routes = list(self._routes.values()), {}
        for route in routes:
            if route.wire is not self._shared_wire:  # its own pool, not the caller's
                await route.wire.aclose()
        if self._shared_wire is not None:
            await self._shared_wire.aclose()

    # --- plumbing ---

    def _route(self, api: str) -> _Route:
        route = self._routes.get(api)
        if route is not None:
            return route
        if self._closed:
            raise RuntimeError("this CarrierX client is closed")
        if api not in API_NAMES:
            raise ValueError(f"unknown API {api!r}; one of {', '.join(API_NAMES)}")
        headers = {"Accept": "application/json", "User-Agent": f"bulkx/{bulkx.__version__}"}
        if api == "core":
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        route = _Route(
            base=self.target.base(api).rstrip("/"),
            headers=headers,
            # Every API shares a caller's transport (closed once, by aclose); real HTTP gets
            # one aiohttp pool per API.
            wire=self._shared_wire or AiohttpWire(limits=self._limits, timeout=self._timeout),
        )
        self._routes[api] = route
        return route

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            # A secret of a few characters would match ordinary words; real tokens are long.
            if len(secret) >= MIN_SCRUBBED_LENGTH and secret in text:
                text = text.replace(secret, REDACTED)
        return text

    # --- requests ---

    async def request(
        self,
        api: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        endpoint: str | None = None,
        content: bytes | None = None,
    ) -> Any:
        """Send one request (retried as `self.retry` allows) and return the parsed JSON.

        `path` is relative to the API's base (`/phonenumber/dids`). For app APIs, `endpoint`
        (sid or name) chooses whose credentials to use; without it the one endpoint of the
        API's type is used. Mediator's `{"body", "status"}` wrapper is removed. Returns None
        for an empty answer (204). `content`: a raw body sent instead of JSON (a storage
        upload's bytes). Raises a `bulkx.errors.ApiError` subclass on failure.
        """
        method = method.upper()
        route = self._route(api)
        headers = route.headers
        if api != "core":
            authorization = (await self.credentials_for(api, endpoint)).header()
            headers = {**headers, "Authorization": authorization}
        body = content
        if content is not None:
            headers = {**headers, "Content-Type": "application/octet-stream"}
        elif json is not None or method in _BODY_METHODS:
            # CarrierX requires a body on POST/PUT/PATCH, `{}` when there is none. Encoded as
            # httpx encodes JSON.
            encoded = jsonlib.dumps(
                {} if json is None else json,
                ensure_ascii=False,
                separators=(",", ":"),
                allow_nan=False,
            )
            body = encoded.encode()
            headers = {**headers, "Content-Type": "application/json"}
        url = with_query(route.url(path), params)

        async def attempt() -> Any:
            return await self._send(api, route.wire, method, url, headers, body)

        try:
            return await self.retry.call(method, attempt)
        except AuthError:
            # The endpoint's password may have been rotated: look it up again next time.
            self._credentials.pop((api, endpoint), None)
            raise

    async def _send(
        self,
        api: str,
        wire: Wire,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Any:
        try:
            response = await wire.send(method, url, headers, body)
        except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_failure(exc, method, _display_url(url)) from exc
        status = response.status
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d", method, _display_url(url), status)
        if 200 <= status < 300:
            if status == 204 or not response.body:
                return None
            try:
                data = jsonlib.loads(response.body)
            except ValueError:
                cls = OutcomeUnknown if method not in IDEMPOTENT_METHODS else TransportError
                raise cls(
                    "the response body is not valid JSON (truncated?)",
                    status,
                    method,
                    _display_url(url),
                ) from None
            return self._unwrap(api, data)
        raise self._error_for(api, response, method, _display_url(url))

    def _unwrap(self, api: str, data: Any) -> Any:
        if api == "mediator" and isinstance(data, dict) and data.keys() == {"body", "status"}:
            return data["body"]
        return data

    def _error_for(self, api: str, response: Answer, method: str, url: str) -> ApiError:
        try:
            body = self._unwrap(api, jsonlib.loads(response.body))
        except ValueError:
            body = None
        message = response.reason or f"HTTP {response.status}"
        problems: list[FieldProblem] = []
        if isinstance(body, dict):
            if isinstance(body.get("message"), str) and body["message"]:
                message = body["message"]
            for item in body.get("errors") or ():
                if not isinstance(item, dict):
                    continue
                field = item.get("field")
                sid = item.get("reference_sid")
                problems.append(
                    FieldProblem(
                        field=self._scrub(str(field)) if field is not None else None,
                        message=self._scrub(str(item.get("message", ""))),
                        reference_sid=str(sid) if sid is not None else None,
                    )
                )
        cls = error_for_status(response.status)
        if cls is ServerError and response.status != 503 and method not in IDEMPOTENT_METHODS:
            # A 500 after a POST says nothing about whether it ran: look before resending.
            cls = OutcomeUnknown
        return cls(
            message=self._scrub(message),
            status=response.status,
            method=method,
            url=url,
            errors=problems,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )

    def _transport_failure(self, exc: BaseException, method: str, url: str) -> TransportError:
        detail = self._scrub(str(exc)) or type(exc).__name__
        if _reached_server(exc) and method not in IDEMPOTENT_METHODS:
            return OutcomeUnknown(
                f"no response after the request was sent ({detail}); it may have been "
                "executed: look the object up before sending it again",
                None,
                method,
                url,
            )
        if _never_connected(exc):
            return Unreachable(f"cannot connect ({detail})", None, method, url)
        return TransportError(f"no response ({detail})", None, method, url)

    async def get(self, api: str, path: str, **kwargs: Any) -> Any:
        return await self.request(api, "GET", path, **kwargs)

    async def post(self, api: str, path: str, **kwargs: Any) -> Any:
        return await self.request(api, "POST", path, **kwargs)

    async def patch(self, api: str, path: str, **kwargs: Any) -> Any:
        return await self.request(api, "PATCH", path, **kwargs)

    async def put(self, api: str, path: str, **kwargs: Any) -> Any:
        return await self.request(api, "PUT", path, **kwargs)

    async def delete(self, api: str, path: str, **kwargs: Any) -> Any:
        return await self.request(api, "DELETE", path, **kwargs)

    # --- collections ---

    async def iter_pages(
        self,
        api: str,
        path: str,
        *,
        filter: Filter | str | None = None,
        params: Mapping[str, Any] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        endpoint: str | None = None,
        require: Sequence[str] = (),
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The items of every page, in order (wrap in `contextlib.aclosing` to stop early).

        Every item is an object, and holds a value for each field of `require` (say the kind's
        sid and key fields): a malformed answer is an ApiError, not a KeyError later."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        query = {k: v for k, v in (params or {}).items() if k not in ("limit", "offset")}
        if filter:
            query["filter"] = str(filter)
        base = self.target.base(api)

        async def fetch_offset(offset: int) -> Any:
            page_params = {**query, "limit": page_size, "offset": offset}
            return await self.request(api, "GET", path, params=page_params, endpoint=endpoint)

        async def fetch_url(url: str) -> Any:
            if not same_origin(url, base):
                # The credentials go wherever the link points; only follow it on our origin.
                raise ApiError(f"pagination.next leaves {base}: {_display_url(url)}")
            return await self.request(api, "GET", url, endpoint=endpoint)

        where = f"GET {base}{path}"
        envelopes = iter_envelopes(
            fetch_offset,
            fetch_url,
            page_size=page_size,
            concurrency=self.page_concurrency,
            where=where,
        )
        async with aclosing(envelopes) as pages:
            async for envelope in pages:
                yield envelope_items(envelope, where, require=require)

    async def list_all(
        self,
        api: str,
        path: str,
        *,
        filter: Filter | str | None = None,
        params: Mapping[str, Any] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        endpoint: str | None = None,
        require: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Every object of a collection (all pages); `require` as for `iter_pages`."""
        items: list[dict[str, Any]] = []
        pages = self.iter_pages(
            api,
            path,
            filter=filter,
            params=params,
            page_size=page_size,
            endpoint=endpoint,
            require=require,
        )
        async with aclosing(pages) as stream:
            async for page in stream:
                items.extend(page)
        return items

    # --- app API credentials ---

    async def credentials_for(self, api: str, endpoint: str | None = None) -> BasicCredentials:
        """The Basic credentials of an app endpoint (by sid or name), from Core, cached."""
        if api not in APP_ENDPOINT_TYPES:
            raise ValueError(f"{api!r} is not an app API; one of {', '.join(APP_ENDPOINT_TYPES)}")
        key = (api, endpoint)
        cached = self._credentials.get(key)
        if cached is not None:
            return cached
        async with self._credentials_lock:
            cached = self._credentials.get(key)
            if cached is not None:
                return cached
            found = await self._find_endpoint(APP_ENDPOINT_TYPES[api], endpoint)
            props = found.get("properties") or {}
            login, password = props.get("login"), props.get("password")
            name = found.get("name") or found.get("endpoint_sid")
            if not isinstance(login, str) or not isinstance(password, str) or not password:
                raise ConfigError(f"endpoint {name!r} has no login/password in its properties")
            self._secrets.add(password)
            credentials = BasicCredentials(login, Secret(password))
            self._credentials[key] = credentials
            return credentials

    async def _find_endpoint(self, kind: str, endpoint: str | None) -> dict[str, Any]:
        if endpoint is not None and _SID.match(endpoint):
            found = await self.get("core", f"/endpoints/{endpoint}")
            if not isinstance(found, dict):
                raise ApiError(f"unexpected answer for endpoint {endpoint}")
            matches = [found]
        else:
            wanted = Filter.eq("type", kind)
            if endpoint is not None:
                wanted &= Filter.eq("name", endpoint)
            matches = await self.list_all("core", "/endpoints", filter=wanted)
        what = f"{kind} endpoint" + (f" {endpoint!r}" if endpoint else "")
        if not matches:
            raise NotFound(f"no {what} on this account", 404, "GET", "/endpoints")
        if len(matches) > 1:
            raise ConfigError(
                f"{len(matches)} {what}s on this account",
                hint="choose one by endpoint sid (names are not unique)",
            )
        found = matches[0]
        if found.get("type") != kind:
            raise ConfigError(
                f"endpoint {endpoint!r} is of type {found.get('type')!r}, not {kind!r}",
                hint=f"the {kind} API only accepts credentials of a {kind} endpoint",
            )
        return found
