"""Operational controls of the sandbox: rate limiting, fault injection, a request log, admin API.

`SandboxControls` is plain ASGI middleware, so it works the same under uvicorn and in-process
under `httpx.ASGITransport` and does not depend on the web framework of the app it wraps.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlencode

import httpx

from bulkx.sandbox import assumptions
from bulkx.sandbox.errors import ApiError, FieldError, bad_request
from bulkx.sandbox.faults import (
    FaultInjector,
    FaultKind,
    FaultSpec,
    FaultSpecError,
    parse_fault_spec,
)
from bulkx.sandbox.ratelimit import TokenBucketLimiter
from bulkx.sandbox.requestlog import REQUEST_LOG_CAPACITY, REQUESTS_PAGE_DEFAULT, RequestLog

__all__ = [
    "ANONYMOUS_KEY",
    "REQUESTS_PAGE_DEFAULT",
    "REQUESTS_PAGE_MAX",
    "REQUEST_LOG_CAPACITY",
    "ASGIApp",
    "ConnectionDropped",
    "Message",
    "Receive",
    "RequestLog",
    "SandboxControls",
    "SandboxTransport",
    "Scope",
    "Send",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The bucket shared by requests that carry no recognisable credential.
ANONYMOUS_KEY: Final = "-"
REQUESTS_PAGE_MAX: Final = 10_000
_MAX_ADMIN_BODY: Final = 64 * 1024
#: Query parameters whose names contain one of these have their values kept out of the log.
_SECRET_QUERY_WORDS: Final = ("token", "password", "secret", "api_key", "apikey", "authorization")
_REDACTED: Final = "REDACTED"


class ConnectionDropped(Exception):
    """Raised by the middleware to make the server drop the connection without a response.

    server.quiet_dropped_connections() recognises it by this class name; keep the two in step.
    """


# --- ASGI helpers -----------------------------------------------------------------------------


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def _send_body(
    send: Send, status: int, body: bytes, extra_headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, error: ApiError) -> None:
    headers = tuple((k.lower().encode(), v.encode()) for k, v in error.headers.items())
    await _send_body(send, error.status, _dumps(error.body()), headers)


async def _drop_connection(send: Send, why: str) -> None:
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


async def _swallow(message: Message) -> None:
    """A `send` that loses the response, for execute_then_reset."""


def _client_is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


def _loggable_query(raw: bytes) -> str:
    if not raw:
        return ""
    text = raw.decode("latin-1")
    decoded = unquote_plus(text).lower()
    if not any(word in decoded for word in _SECRET_QUERY_WORDS):
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    return urlencode(
        [
            (name, _REDACTED if any(w in name.lower() for w in _SECRET_QUERY_WORDS) else value)
            for name, value in pairs
        ]
    )


_RATE_LIMITED_BODY: Final = _dumps(ApiError(429).body())


def _retry_after_text(seconds: float) -> str:
    """Delay-seconds is a whole number (RFC 9110): round up so a client never comes back early."""
    return str(max(0, math.ceil(seconds)))


_OUTAGE_BODY: Final = _dumps(ApiError(503).body())
_UNAUTHORIZED_BODY: Final = _dumps(ApiError(401).body())
_5XX_MESSAGES: Final = {
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
_5XX_BODIES: Final = {
    status: _dumps(ApiError(status, message).body()) for status, message in _5XX_MESSAGES.items()
}
#: Faults that answer in place of the app: (status, fault name in the request log, body).
_ANSWERED_FAULTS: Final = {
    FaultKind.THROTTLE: (429, "throttle", _RATE_LIMITED_BODY),
    FaultKind.OUTAGE: (503, "outage", _OUTAGE_BODY),
    FaultKind.UNAUTHORIZED: (401, "unauthorized", _UNAUTHORIZED_BODY),
}


@dataclass
class _Outcome:
    """What the request log records of a request: the status answered and the fault injected."""

    status: int = 0
    fault: str | None = None


def _forbidden_admin() -> ApiError:
    message = "the sandbox admin API answers loopback clients only"
    return ApiError(403, assumptions.MESSAGE_BY_STATUS[403], [FieldError(None, message)])


def _admin_unauthorized() -> ApiError:
    message = (
        "the sandbox admin API takes 'Authorization: Bearer <token>' with the sandbox's own"
        " token (its --token, --token-file or BULKX_SANDBOX_TOKEN; sandbox-token by default)"
    )
    challenge = {"WWW-Authenticate": 'Bearer realm="bulkx-sandbox-admin"'}
    return ApiError(401, assumptions.MESSAGE_BY_STATUS[401], [FieldError(None, message)], challenge)


# --- the middleware ---------------------------------------------------------------------------

_AdminHandler = Callable[[Scope, Receive], Awaitable[dict[str, Any]]]


class SandboxControls:
    """Rate limit, fault injection and request log in front of `app`, plus an admin API.

    For each request outside `admin_prefix`, in order: rate limit (429 + Retry-After), outage
    (503), unauthorized_after (401), latency, http_5xx, reset (app not called, connection
    dropped), execute_then_reset (app called, response lost, connection dropped), else the app.
    Requests under `admin_prefix` are loopback-only, need the admin credential (`admin_auth`),
    and are never limited, faulted or logged; the prefix's own routes (requests, faults,
    rate_limit) are answered here, the rest by `app`.

    With `faults=None` or `limiter=None` the feature starts off but can be turned on through
    the admin API or `set_faults` / `set_rate_limit`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        credential_of: Callable[[Scope], str | None],
        limiter: TokenBucketLimiter | None,
        faults: FaultInjector | None,
        log: RequestLog,
        admin_prefix: str = "/_sandbox",
        shape_error: Callable[[str, int, bytes], bytes] | None = None,
        admin_auth: Callable[[Scope], bool] | None = None,
    ) -> None:
        """`shape_error(path, status, body)` lets an API that wraps its answers (Mediator)
        wrap the errors answered here too, before its routes are reached. `admin_auth(scope)`
        says whether a request carries the admin credential; without it the admin API
        refuses every request (401)."""
        self.app = app
        self._admin_auth = admin_auth
        self._shape_error = shape_error
        self.limiter = limiter
        self.faults = faults if faults is not None else FaultInjector(FaultSpec(), seed=0)
        self.log = log
        self._credential_of = credential_of
        self._prefix = admin_prefix.rstrip("/")
        self._prefix_slash = self._prefix + "/"
        self._admin_routes: dict[str, dict[str, _AdminHandler]] = {
            "/requests": {"GET": self._get_requests, "DELETE": self._delete_requests},
            "/faults": {
                "GET": self._get_faults,
                "PUT": self._put_faults,
                "DELETE": self._delete_faults,
            },
            "/rate_limit": {
                "GET": self._get_rate_limit,
                "PUT": self._put_rate_limit,
                "DELETE": self._delete_rate_limit,
            },
        }

    # --- programmatic control (the CLI and tests use these; the admin API wraps them) ---

    def set_faults(self, spec: FaultSpec | str, seed: int | None = None) -> None:
        """Activate `spec` (keeping the current seed if none is given); restarts outage clocks."""
        if isinstance(spec, str):
            spec = parse_fault_spec(spec)
        self.faults.replace(spec, self.faults.seed if seed is None else seed)

    def clear_faults(self) -> None:
        self.faults.replace(FaultSpec(), self.faults.seed)

    def set_rate_limit(self, rate: float, burst: int | None = None) -> None:
        """Limit each credential to `rate` requests/s with bursts of `burst`; rate 0 = none."""
        if burst is None:
            burst = self.limiter.burst if self.limiter is not None else max(1, math.ceil(rate))
        if self.limiter is None:
            self.limiter = TokenBucketLimiter(rate, burst)
        else:
            self.limiter.configure(rate, burst)

    def fault_state(self) -> dict[str, Any]:
        return {"spec": self.faults.spec.to_text(), "seed": self.faults.seed}

    def rate_limit_state(self) -> dict[str, Any]:
        if self.limiter is None or self.limiter.unlimited:
            return {"rate": 0, "burst": self.limiter.burst if self.limiter else 1}
        return {"rate": self.limiter.rate, "burst": self.limiter.burst}

    # --- ASGI ---

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == self._prefix or path.startswith(self._prefix_slash):
            await self._admin(scope, receive, send, path[len(self._prefix) :])
            return
        await self._controlled(scope, receive, send)

    async def _controlled(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        started_at = time.time()
        credential = self._credential_of(scope)
        outcome = _Outcome()

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
            await send(message)

        try:
            if await self._rate_limited(scope, send, credential, outcome):
                return
            if await self._faulted(scope, receive, send, credential, outcome):
                return
            await self.app(scope, receive, send_noting_status)
        except ConnectionDropped:
            outcome.status = 0
            raise
        except Exception:
            # The server turns an app failure before any response into a 500.
            if outcome.status == 0:
                outcome.status = 500
            raise
        finally:
            self.log.record(
                method=scope["method"],
                path=scope["path"],
                query=_loggable_query(scope.get("query_string", b"")),
                status=outcome.status,
                credential=credential,
                fault=outcome.fault,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                started_at=started_at,
            )

    async def _rate_limited(
        self, scope: Scope, send: Send, credential: str | None, outcome: _Outcome
    ) -> bool:
        """Answer 429 when the credential's bucket is empty; True when it did."""
        if self.limiter is None:
            return False
        wait = self.limiter.try_acquire(ANONYMOUS_KEY if credential is None else credential)
        if wait <= 0.0:
            return False
        outcome.status, outcome.fault = 429, "rate_limit"
        retry_after = max(assumptions.RETRY_AFTER_MIN_SECONDS, math.ceil(wait))
        header = (b"retry-after", str(retry_after).encode())
        await _send_body(send, 429, self._shaped(scope, 429, _RATE_LIMITED_BODY), (header,))
        return True

    async def _faulted(
        self, scope: Scope, receive: Receive, send: Send, credential: str | None, outcome: _Outcome
    ) -> bool:
        """Inject the fault the injector decides for this request: True when the fault answered
        in place of the app; a reset raises ConnectionDropped; a latency waits, then False."""
        decision = self.faults.decide(credential)
        kind = decision.kind
        answered = _ANSWERED_FAULTS.get(kind)
        if answered is not None:
            outcome.status, outcome.fault, body = answered
            headers: tuple[tuple[bytes, bytes], ...] = ()
            if kind is FaultKind.THROTTLE:
                seconds = self.faults.spec.retry_after_s
                headers = ((b"retry-after", _retry_after_text(seconds).encode()),)
            await _send_body(
                send, outcome.status, self._shaped(scope, outcome.status, body), headers
            )
            return True
        if decision.latency_s > 0.0:
            outcome.fault = "latency"
            await asyncio.sleep(decision.latency_s)
        if kind is FaultKind.HTTP_5XX:
            outcome.status, outcome.fault = decision.status or 500, "http_5xx"
            body = _5XX_BODIES[outcome.status]
            await _send_body(send, outcome.status, self._shaped(scope, outcome.status, body))
            return True
        if kind is FaultKind.RESET:
            outcome.fault = "reset"
            await _drop_connection(send, "fault: reset before processing")
        if kind is FaultKind.EXECUTE_THEN_RESET:
            outcome.fault = "execute_then_reset"
            await self.app(scope, receive, _swallow)
            await _drop_connection(send, "fault: executed, then reset")
        return False

    def _shaped(self, scope: Scope, status: int, body: bytes) -> bytes:
        if self._shape_error is None:
            return body
        return self._shape_error(scope["path"], status, body)

    async def _admin(self, scope: Scope, receive: Receive, send: Send, sub_path: str) -> None:
        if not _client_is_loopback(scope):
            await _send_error(send, _forbidden_admin())
            return
        if self._admin_auth is None or not self._admin_auth(scope):
            await _send_error(send, _admin_unauthorized())
            return
        methods = self._admin_routes.get(sub_path.rstrip("/"))
        if methods is None:
            await self.app(scope, receive, send)
            return
        handler = methods.get(scope["method"])
        if handler is None:
            allow = ", ".join(methods)
            await _send_error(send, ApiError(405, headers={"Allow": allow}))
            return
        try:
            payload = await handler(scope, receive)
        except ApiError as error:
            await _send_error(send, error)
            return
        await _send_body(send, 200, _dumps(payload))

    # --- admin handlers ---

    async def _get_requests(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        since = _int_param(query, "since", 0, 0, None)
        limit = _int_param(query, "limit", REQUESTS_PAGE_DEFAULT, 1, REQUESTS_PAGE_MAX)
        items = self.log.entries(since, limit)
        return {"items": items, "next_since": items[-1]["seq"] if items else since}

    async def _delete_requests(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        cleared = self.log.clear()
        return {"cleared": cleared, "next_since": self.log.last_seq}

    async def _get_faults(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        return self.fault_state()

    async def _put_faults(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await _read_json_object(receive)
        text = body.get("spec", "")
        if not isinstance(text, str):
            raise bad_request("spec must be a string such as 'latency=20ms,http_5xx=0.02'", "spec")
        seed = body.get("seed", self.faults.seed)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise bad_request("seed must be an integer", "seed")
        try:
            spec = parse_fault_spec(text)
        except FaultSpecError as exc:
            raise bad_request(str(exc), "spec") from None
        self.set_faults(spec, seed)
        return self.fault_state()

    async def _delete_faults(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        self.clear_faults()
        return self.fault_state()

    async def _get_rate_limit(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        return self.rate_limit_state()

    async def _put_rate_limit(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await _read_json_object(receive)
        rate = body.get("rate")
        if not _is_number(rate) or not math.isfinite(rate) or rate < 0:
            raise bad_request("rate must be a number of requests per second >= 0", "rate")
        burst = body.get("burst")
        if burst is not None and (not isinstance(burst, int) or isinstance(burst, bool)):
            raise bad_request("burst must be an integer >= 1", "burst")
        if burst is not None and burst < 1:
            raise bad_request("burst must be an integer >= 1", "burst")
        self.set_rate_limit(float(rate), burst)
        return self.rate_limit_state()

    async def _delete_rate_limit(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        if self.limiter is not None:
            self.limiter.configure(0, self.limiter.burst)
        return self.rate_limit_state()


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_param(
    query: dict[str, list[str]], name: str, default: int, low: int, high: int | None
) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise bad_request(f"{name} must be an integer", name) from None
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise bad_request(f"{name} must be {bounds}", name)
    return value


async def _read_json_object(receive: Receive) -> dict[str, Any]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "the client disconnected while sending the body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_ADMIN_BODY:
            raise ApiError(413, "admin request body too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    try:
        data = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        raise bad_request(assumptions.INVALID_JSON_MESSAGE) from None
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object")
    return data


# --- in-process transport ---------------------------------------------------------------------


class SandboxTransport(httpx.AsyncBaseTransport):
    """`httpx.ASGITransport` whose dropped connections surface as over real HTTP.

    A fault that drops the connection raises `ConnectionDropped` inside the app; a client on a
    socket sees `httpx.RemoteProtocolError`, so this transport raises that too, letting the
    same client code and tests run in-process and over uvicorn.
    """

    def __init__(
        self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 123), root_path: str = ""
    ) -> None:
        self._inner = httpx.ASGITransport(app=app, client=client, root_path=root_path)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response", request=request
            ) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()
