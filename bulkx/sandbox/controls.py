"""The sandbox's operational controls: rate limiting, fault injection and the request log, as
plain ASGI middleware in front of the app.

`SandboxControls` works the same under uvicorn and in-process under `httpx.ASGITransport`, and does
not depend on the web framework of the app it wraps. The admin API it answers under `/_sandbox` is
in `admin_api`, the ASGI basics in `asgi`, the request log in `requestlog` and the in-process
transport in `transport`; their names are re-exported here, where other code and tests import them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bulkx.sandbox import assumptions
from bulkx.sandbox.admin_api import REQUESTS_PAGE_MAX, AdminApi
from bulkx.sandbox.asgi import (
    ASGIApp,
    ConnectionDropped,
    Message,
    Receive,
    Scope,
    Send,
    drop_connection,
    dumps,
    send_body,
    swallow,
)
from bulkx.sandbox.errors import ErrorAnswer
from bulkx.sandbox.faults import FaultInjector, FaultKind, FaultSpec, parse_fault_spec
from bulkx.sandbox.ratelimit import TokenBucketLimiter
from bulkx.sandbox.requestlog import (
    REQUEST_LOG_CAPACITY,
    REQUESTS_PAGE_DEFAULT,
    RequestLog,
    loggable_query,
)
from bulkx.sandbox.transport import SandboxTransport

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

#: The bucket shared by requests that carry no recognisable credential.
ANONYMOUS_KEY: Final = "-"


_RATE_LIMITED_BODY: Final = dumps(ErrorAnswer(429).body())


def _retry_after_text(seconds: float) -> str:
    """Delay-seconds is a whole number (RFC 9110): round up so a client never comes back early."""
    return str(max(0, math.ceil(seconds)))


_OUTAGE_BODY: Final = dumps(ErrorAnswer(503).body())
_UNAUTHORIZED_BODY: Final = dumps(ErrorAnswer(401).body())
_5XX_MESSAGES: Final = {
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
_5XX_BODIES: Final = {
    status: dumps(ErrorAnswer(status, message).body()) for status, message in _5XX_MESSAGES.items()
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


# --- the middleware ---------------------------------------------------------------------------


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
        self._shape_error = shape_error
        self.limiter = limiter
        self.faults = faults if faults is not None else FaultInjector(FaultSpec(), seed=0)
        self.log = log
        self._credential_of = credential_of
        self._prefix = admin_prefix.rstrip("/")
        self._prefix_slash = self._prefix + "/"
        self._admin = AdminApi(self, admin_auth)

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
            await self._admin.answer(scope, receive, send, path[len(self._prefix) :])
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
                query=loggable_query(scope.get("query_string", b"")),
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
        await send_body(send, 429, self._shaped(scope, 429, _RATE_LIMITED_BODY), (header,))
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
            await send_body(
                send, outcome.status, self._shaped(scope, outcome.status, body), headers
            )
            return True
        if decision.latency_s > 0.0:
            outcome.fault = "latency"
            await asyncio.sleep(decision.latency_s)
        if kind is FaultKind.HTTP_5XX:
            outcome.status, outcome.fault = decision.status or 500, "http_5xx"
            body = _5XX_BODIES[outcome.status]
            await send_body(send, outcome.status, self._shaped(scope, outcome.status, body))
            return True
        if kind is FaultKind.RESET:
            outcome.fault = "reset"
            await drop_connection(send, "fault: reset before processing")
        if kind is FaultKind.EXECUTE_THEN_RESET:
            outcome.fault = "execute_then_reset"
            await self.app(scope, receive, swallow)
            await drop_connection(send, "fault: executed, then reset")
        return False

    def _shaped(self, scope: Scope, status: int, body: bytes) -> bytes:
        if self._shape_error is None:
            return body
        return self._shape_error(scope["path"], status, body)
