"""Assemble the sandbox ASGI app: the world, the API mounts, the admin routes, the controls."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from bulkx.defaults import DEFAULT_SANDBOX_DB
from bulkx.sandbox import assumptions
from bulkx.sandbox.controls import RequestLog, SandboxControls
from bulkx.sandbox.faults import FaultInjector, parse_fault_spec
from bulkx.sandbox.guard import host_is_loopback, host_of, refuse_host
from bulkx.sandbox.http import http_exception, server_error
from bulkx.sandbox.limits import DEFAULT_LIMITS, Limits
from bulkx.sandbox.ratelimit import TokenBucketLimiter
from bulkx.sandbox.resources import conference_v1, conference_v2, core, flexml, mediator
from bulkx.sandbox.schema import Registry
from bulkx.sandbox.state import state_route
from bulkx.sandbox.world import World

ADMIN_PREFIX = "/_sandbox"
DEFAULT_DB = DEFAULT_SANDBOX_DB

#: Every API the sandbox serves; each module has RESOURCES and build(world) -> Api.
API_MODULES: tuple[Any, ...] = (core, conference_v2, conference_v1, flexml, mediator)


@dataclass(frozen=True)
class SandboxConfig:
    db: Path | str = DEFAULT_DB
    seed: int | None = None
    #: The only token the sandbox accepts on Core and on its admin API (default: the default
    #: token, with the default partner's password). See World.
    token: str | None = None
    #: With `token`, still accept the default token and password too.
    keep_default_credentials: bool = False
    rate_limit: float = 0.0
    burst: int = 0
    faults: str = ""
    fault_seed: int = 0
    limits: Limits = DEFAULT_LIMITS


def registry() -> Registry:
    reg = Registry()
    for module in API_MODULES:
        reg.add(*module.RESOURCES)
    return reg


def open_world(config: SandboxConfig) -> World:
    world = World(
        config.db,
        registry(),
        seed=config.seed,
        token=config.token,
        keep_default_credentials=config.keep_default_credentials,
    )
    world.limits = config.limits
    return world


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

    @property
    def limits(self) -> Limits:
        """What one client may take (serve_in_thread reads the server-side ones from here)."""
        return self.world.limits

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = host_of(scope)
            if host is None or not host_is_loopback(host):
                await refuse_host(send, host)
                return
        await self.controls(scope, receive, send)


def _shape_error(path: str, status: int, body: bytes) -> bytes:
    """Errors answered before a route is reached still take their API's shape (Mediator's
    errors are unwrapped unless assumptions.MEDIATOR_WRAPS_ERRORS)."""
    if assumptions.MEDIATOR_WRAPS_ERRORS and path.startswith(mediator.PREFIX + "/"):
        return b'{"body":' + body + b',"status":' + str(status).encode() + b"}"
    return body


def _headers(scope: Any) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def create_app(config: SandboxConfig | None = None, *, world: World | None = None) -> SandboxApp:
    """The sandbox as an ASGI app (serve it with uvicorn, or call it in-process)."""
    config = config or SandboxConfig()
    world = world or open_world(config)
    mounts: list[Any] = [state_route(world, ADMIN_PREFIX)]
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
        admin_auth=lambda scope: world.credentials.admin_ok(_headers(scope)),
        limiter=limiter,
        faults=faults,
        log=RequestLog(),
        admin_prefix=ADMIN_PREFIX,
        shape_error=_shape_error,
    )
    return SandboxApp(world, inner, controls)
