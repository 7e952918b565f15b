"""Core phone numbers: every route of DIDs, available DIDs, E911, line information, DID groups,
prefixes, LRN prefixes and classifications (the one classification is defined here).

The objects live in a module per concept: `dids` (DIDs rented, updated, released, and the available
ones), `did_records` (E911 and line information), `number_groups` (DID groups, prefixes, LRN
prefixes); `seeded_dids` puts numbers straight into a world. Their public names are importable
from here too.
"""

from __future__ import annotations

from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.errors import not_found
from bulkx.sandbox.http import Api
from bulkx.sandbox.inventory import CLASSIFICATION_SID
from bulkx.sandbox.listing import envelope, parse_list_query
from bulkx.sandbox.resources import did_messaging
from bulkx.sandbox.resources.did_records import EMERGENCY, LINE_INFORMATION, sub_record
from bulkx.sandbox.resources.dids import (
    AVAILABLE_DID,
    DID,
    browse_available,
    check_reference,
    get_available,
    list_dids,
    rent_did,
)
from bulkx.sandbox.resources.number_groups import DID_GROUP, LRN_PREFIX, PREFIX
from bulkx.sandbox.resources.seeded_dids import ported_did, seed_ported, seed_rented
from bulkx.sandbox.schema import check_value
from bulkx.sandbox.world import World

CLASSIFICATIONS = [
    {
        "aging_policy": assumptions.AGING_POLICY_MINUTES,
        "classification_sid": CLASSIFICATION_SID,
        "name": "Default",
    }
]


def mount(api: Api, world: World) -> None:
    api.add(world, "/phonenumber/available_dids", ["GET"], lambda c, _p, _b: browse_available(c))
    api.add(world, "/dids/inventory", ["GET"], lambda c, _p, _b: browse_available(c))
    api.add(
        world,
        "/phonenumber/available_dids/{sid}",
        ["GET"],
        lambda c, p, _b: get_available(c, p["sid"]),
    )
    api.add(world, "/phonenumber/dids", ["GET"], lambda c, _p, _b: list_dids(c))
    # Before DID's generic routes: renting refuses an empty body (dids.rent_did).
    api.add(world, "/phonenumber/dids", ["POST"], lambda c, _p, b: rent_did(c, b))
    for resource in (EMERGENCY, LINE_INFORMATION):
        verbs = {"GET": "read", "PATCH": "update", "PUT": "update", "DELETE": "update"}
        for method, verb in verbs.items():
            api.add(world, resource.path, [method], sub_record(resource, method, verb))
    api.add(
        world,
        "/phonenumber/classifications",
        ["GET"],
        lambda c, _p, _b: envelope(
            CLASSIFICATIONS,
            q=parse_list_query(c.query),
            total=1,
            has_more=False,
            base_url=c.base_url,
            query=c.query,
        ),
    )
    api.add(
        world,
        "/phonenumber/classifications/{sid}",
        ["GET"],
        lambda c, p, _b: _classification(p["sid"]),
    )
    did_messaging.mount(api, world)
    for resource in (DID, DID_GROUP, PREFIX, LRN_PREFIX):
        api.add_resource(world, resource)


def _classification(sid: str) -> dict[str, Any]:
    for item in CLASSIFICATIONS:
        if item["classification_sid"] == sid:
            return dict(item)
    raise not_found("classification", sid)


RESOURCES = (
    DID,
    EMERGENCY,
    LINE_INFORMATION,
    *did_messaging.RESOURCES,
    DID_GROUP,
    PREFIX,
    LRN_PREFIX,
)

__all__ = [
    "AVAILABLE_DID",
    "CLASSIFICATIONS",
    "DID",
    "DID_GROUP",
    "EMERGENCY",
    "LINE_INFORMATION",
    "LRN_PREFIX",
    "PREFIX",
    "RESOURCES",
    "browse_available",
    "check_reference",
    "check_value",
    "get_available",
    "list_dids",
    "mount",
    "ported_did",
    "seed_ported",
    "seed_rented",
]
