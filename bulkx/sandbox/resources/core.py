"""The Core API mount (`/core/v2`): Bearer tokens, or Basic with the partner's login."""

from __future__ import annotations

from collections.abc import Mapping

from bulkx.sandbox.context import Principal
from bulkx.sandbox.http import Api
from bulkx.sandbox.resources import (
    accounts,
    batch,
    content,
    effective_acl,
    invoices,
    lookups,
    messaging,
    numbers,
    oauth,
    oauth_tokens,
    phone_extras,
    rates,
    records,
    routing,
    storage,
)
from bulkx.sandbox.world import World

PREFIX = "/core/v2"
RESOURCES = (
    *numbers.RESOURCES,
    *routing.RESOURCES,
    *batch.RESOURCES,
    *accounts.RESOURCES,
    *oauth_tokens.RESOURCES,
    *phone_extras.RESOURCES,
    *content.RESOURCES,
    *storage.RESOURCES,
    *lookups.RESOURCES,
    *messaging.RESOURCES,
    *records.RESOURCES,
    *invoices.RESOURCES,
)


def _authenticate(world: World, headers: Mapping[str, str]) -> Principal:
    return world.authenticate_core(headers)


def build(world: World) -> Api:
    api = Api("core", PREFIX, _authenticate)
    oauth.mount(api, world)
    numbers.mount(api, world)
    routing.mount(api, world)
    batch.mount(api, world)
    for extra in (accounts, oauth_tokens, phone_extras, effective_acl, content, storage):
        extra.mount(api, world)
    for records_and_messaging in (lookups, rates, messaging, records, invoices):
        records_and_messaging.mount(api, world)
    return api
