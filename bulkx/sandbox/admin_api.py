"""The sandbox admin API under `/_sandbox` (loopback only, admin credential): the request log
(`/requests`), fault injection (`/faults`) and the rate limit (`/rate_limit`), as JSON.

It drives the controls of `controls.SandboxControls`, which hands it every request under its
admin prefix; other admin paths fall through to the app.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeGuard
from urllib.parse import parse_qs

from bulkx.sandbox import assumptions
from bulkx.sandbox.asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    client_is_loopback,
    dumps,
    send_body,
    send_error,
)
from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request
from bulkx.sandbox.faults import FaultInjector, FaultSpec, FaultSpecError, parse_fault_spec
from bulkx.sandbox.ratelimit import TokenBucketLimiter
from bulkx.sandbox.requestlog import REQUESTS_PAGE_DEFAULT, RequestLog

REQUESTS_PAGE_MAX: Final = 10_000
_MAX_ADMIN_BODY: Final = 64 * 1024

_AdminHandler = Callable[[Scope, Receive], Awaitable[dict[str, Any]]]


class Controls(Protocol):
    """What the admin API reads and changes: `controls.SandboxControls`."""

    app: ASGIApp
    log: RequestLog
    faults: FaultInjector
    limiter: TokenBucketLimiter | None

    def set_faults(self, spec: FaultSpec | str, seed: int | None = None) -> None: ...
    def clear_faults(self) -> None: ...
    def set_rate_limit(self, rate: float, burst: int | None = None) -> None: ...
    def fault_state(self) -> dict[str, Any]: ...
    def rate_limit_state(self) -> dict[str, Any]: ...


def _forbidden_admin() -> ErrorAnswer:
    message = "the sandbox admin API answers loopback clients only"
    return ErrorAnswer(403, assumptions.MESSAGE_BY_STATUS[403], [FieldError(None, message)])


def _admin_unauthorized() -> ErrorAnswer:
    message = (
        "the sandbox admin API takes 'Authorization: Bearer <token>' with the sandbox's own"
        " token (its --token, --token-file or BULKX_SANDBOX_TOKEN; sandbox-token by default)"
    )
    challenge = {"WWW-Authenticate": 'Bearer realm="bulkx-sandbox-admin"'}
    return ErrorAnswer(
        401, assumptions.MESSAGE_BY_STATUS[401], [FieldError(None, message)], challenge
    )


class AdminApi:
    """The admin routes of `controls`; `auth(scope)` says whether a request carries the admin
    credential (without it every request is refused, 401)."""

    def __init__(self, controls: Controls, auth: Callable[[Scope], bool] | None) -> None:
        self._controls = controls
        self._auth = auth
        self._routes: dict[str, dict[str, _AdminHandler]] = {
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

    async def answer(self, scope: Scope, receive: Receive, send: Send, sub_path: str) -> None:
        """Answer a request under the admin prefix; `sub_path` is what follows the prefix."""
        if not client_is_loopback(scope):
            await send_error(send, _forbidden_admin())
            return
        if self._auth is None or not self._auth(scope):
            await send_error(send, _admin_unauthorized())
            return
        methods = self._routes.get(sub_path.rstrip("/"))
        if methods is None:
            await self._controls.app(scope, receive, send)
            return
        handler = methods.get(scope["method"])
        if handler is None:
            allow = ", ".join(methods)
            await send_error(send, ErrorAnswer(405, headers={"Allow": allow}))
            return
        try:
            payload = await handler(scope, receive)
        except ErrorAnswer as error:
            await send_error(send, error)
            return
        await send_body(send, 200, dumps(payload))

    # --- handlers ---

    async def _get_requests(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        since = _int_param(query, "since", 0, 0, None)
        limit = _int_param(query, "limit", REQUESTS_PAGE_DEFAULT, 1, REQUESTS_PAGE_MAX)
        items = self._controls.log.entries(since, limit)
        return {"items": items, "next_since": items[-1]["seq"] if items else since}

    async def _delete_requests(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        cleared = self._controls.log.clear()
        return {"cleared": cleared, "next_since": self._controls.log.last_seq}

    async def _get_faults(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        return self._controls.fault_state()

    async def _put_faults(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await _read_json_object(receive)
        text = body.get("spec", "")
        if not isinstance(text, str):
            raise bad_request("spec must be a string such as 'latency=20ms,http_5xx=0.02'", "spec")
        seed = body.get("seed", self._controls.faults.seed)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise bad_request("seed must be an integer", "seed")
        try:
            spec = parse_fault_spec(text)
        except FaultSpecError as exc:
            raise bad_request(str(exc), "spec") from None
        self._controls.set_faults(spec, seed)
        return self._controls.fault_state()

    async def _delete_faults(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        self._controls.clear_faults()
        return self._controls.fault_state()

    async def _get_rate_limit(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        return self._controls.rate_limit_state()

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
        self._controls.set_rate_limit(float(rate), burst)
        return self._controls.rate_limit_state()

    async def _delete_rate_limit(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        if self._controls.limiter is not None:
            self._controls.limiter.configure(0, self._controls.limiter.burst)
        return self._controls.rate_limit_state()


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
            raise ErrorAnswer(400, "the client disconnected while sending the body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_ADMIN_BODY:
            raise ErrorAnswer(413, "admin request body too large")
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
