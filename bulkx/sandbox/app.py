"""Assemble the sandbox ASGI app: the world, the API mounts, the admin routes, the controls."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from bulkx.sandbox.errors import ApiError, FieldError
from bulkx.sandbox.http import error_response, http_exception, json_response, server_error
from bulkx.sandbox.resources import core
from bulkx.sandbox.schema import Registry
from bulkx.sandbox.world import World

ADMIN_PREFIX = "/_sandbox"
DEFAULT_DB = Path(".bulkx") / "sandbox.db"

#: Every API the sandbox serves; each module has RESOURCES and build(world) -> Api.
API_MODULES: tuple[Any, ...] = (core,)


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
            import json

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


def create_app(config: SandboxConfig | None = None, *, world: World | None = None) -> Any:
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

    app = Starlette(
        routes=mounts,
        exception_handlers={HTTPException: http_exception, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.world = world
    return app
