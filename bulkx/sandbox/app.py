"""Assemble the sandbox ASGI app: the world, the API mounts, the admin routes, the controls."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from bulkx.defaults import DEFAULT_SANDBOX_DB
from bulkx.sandbox.controls import RequestLog, SandboxControls
from bulkx.sandbox.errors import ApiError, FieldError
from bulkx.sandbox.faults import FaultInjector, parse_fault_spec
from bulkx.sandbox.http import error_response, http_exception, json_response, server_error
from bulkx.sandbox.ratelimit import TokenBucketLimiter
from bulkx.sandbox.resources import conference_v1, conference_v2, core, flexml, mediator
from bulkx.sandbox.schema import Registry
from bulkx.sandbox.world import World

ADMIN_PREFIX = "/_sandbox"
DEFAULT_DB = DEFAULT_SANDBOX_DB

#: Every API the sandbox serves; each module has RESOURCES and build(world) -> Api.
API_MODULES: tuple[Any, ...] = (core, conference_v2, conference_v1, flexml, mediator)


@dataclass(frozen=True)
class SandboxConfig:
    db: Path | str = DEFAULT_DB
    seed: int | None = None
    token: str | None = None
    rate_limit: float = 0.0
    burst: int = 0
    faults: str = ""
    fault_seed: int = 0


def registry() -> Registry:
    reg = Registry()
    for module in API_MODULES:
        reg.add(*module.RESOURCES)
    return reg


def open_world(config: SandboxConfig) -> World:
    return World(config.db, registry(), seed=config.seed, token=config.token)


def _state_route(world: World) -> Route:
    async def state(request: Request) -> Response:
        collection = request.query_params.get("collection")
        if collection:
            if collection not in world.store.counts():
                return error_response(
                    ApiError(404, "Not Found", [FieldError("collection", "no such collection")])
                )
            limit = int(request.query_params.get("limit", "1000"))
            rows = world.store.rows(
                f"SELECT owner, data FROM t_{collection} ORDER BY seq LIMIT ?", (limit,)
            )
            items = [{"owner": owner, **json.loads(data)} for owner, data in rows]
            return json_response({"collection": collection, "items": items})
        return json_response(
            {
                "seed": world.seed,
                "partner_sid": world.partner_sid,
                "inventory_size": world.inventory.size,
                "counts": world.store.counts(),
                "db": world.store.path,
            }
        )

    return Route(f"{ADMIN_PREFIX}/state", state, methods=["GET"])


class SandboxApp:
    """The sandbox as an ASGI app: the API mounts behind rate limiting, faults and a request log."""

    def __init__(self, world: World, inner: Starlette, controls: SandboxControls) -> None:
        self.world = world
        self.inner = inner
        self.controls = controls

    @property
    def prefixes(self) -> list[str]:
        """The API base paths served, e.g. /core/v2."""
        return [r.path for r in self.inner.routes if isinstance(r, Mount)]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.controls(scope, receive, send)


def _shape_error(path: str, status: int, body: bytes) -> bytes:
    """Errors answered before a route is reached still take their API's shape."""
    if path.startswith(mediator.PREFIX + "/"):
        return b'{"body":' + body + b',"status":' + str(status).encode() + b"}"
    return body


def _headers(scope: Any) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def create_app(config: SandboxConfig | None = None, *, world: World | None = None) -> SandboxApp:
    """The sandbox as an ASGI app (serve it with uvicorn, or call it in-process)."""
    config = config or SandboxConfig()
    world = world or open_world(config)
    mounts: list[Any] = [_state_route(world)]
    for module in API_MODULES:
        api = module.build(world)
        mounts.append(Mount(api.prefix, routes=api.routes))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        world.store.close()

    inner = Starlette(
        routes=mounts,
        exception_handlers={HTTPException: http_exception, Exception: server_error},
        lifespan=lifespan,
    )
    limiter = (
        TokenBucketLimiter(config.rate_limit, config.burst or max(1, math.ceil(config.rate_limit)))
        if config.rate_limit > 0
        else None
    )
    faults = FaultInjector(parse_fault_spec(config.faults), seed=config.fault_seed)
    controls = SandboxControls(
        inner,
        credential_of=lambda scope: world.credential_id(_headers(scope)),
        limiter=limiter,
        faults=faults,
        log=RequestLog(),
        admin_prefix=ADMIN_PREFIX,
        shape_error=_shape_error,
    )
    return SandboxApp(world, inner, controls)
