"""The Core API mount (`/core/v2`): Bearer tokens, or Basic with the partner's login."""

from __future__ import annotations

from collections.abc import Mapping

from bulkx.sandbox.context import Principal
from bulkx.sandbox.http import Api
from bulkx.sandbox.resources import batch, numbers, oauth, routing
from bulkx.sandbox.world import World

PREFIX = "/core/v2"
RESOURCES = (*numbers.RESOURCES, *routing.RESOURCES, *batch.RESOURCES)


def _authenticate(world: World, headers: Mapping[str, str]) -> Principal:
    return world.authenticate_core(headers)


def build(world: World) -> Api:
    api = Api("core", PREFIX, _authenticate)
    oauth.mount(api, world)
    numbers.mount(api, world)
    routing.mount(api, world)
    batch.mount(api, world)
    return api
