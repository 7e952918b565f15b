"""Core effective ACLs: the access control lists that apply to a partner's calls or messages,
layer by layer from the most top-level object (partner, then trunk group, then trunk)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_from_objects
from bulkx.sandbox.errors import bad_request, not_found
from bulkx.sandbox.http import Api
from bulkx.sandbox.resources.accounts import visible_partner
from bulkx.sandbox.schema import Resource, ro
from bulkx.sandbox.world import World

Traffic = Literal["calls", "sms"]

DIRECTIONS = ("any", "inbound", "outbound", "undirected")

LAYER = Resource(
    name="effective_acl_layer",
    api="core",
    path="/accesscontrol/effective_acl",
    sid_field="_layer",
    collection="trunk_groups",
    operations=frozenset(),
    fields=(ro("effective_acls", "array", []), ro("layer", "int")),
)


def _applies(acl: Any, direction: str | None, traffic: Traffic) -> bool:
    if not isinstance(acl, dict):
        return False
    if direction not in (None, "any") and acl.get("direction") not in (direction, "any"):
        return False
    if not assumptions.EFFECTIVE_ACL_ONLY_ACTING:
        return True
    kind = "voice" if traffic == "calls" else "sms"
    return any(acl.get(f"{kind}_action_{outcome}") is not None for outcome in ("true", "false"))


def _trunk_layers(ctx: Ctx, partner_sid: str) -> tuple[list[Any], list[Any]]:
    """The ACLs of the trunk group and trunk the query names (a trunk implies its group)."""
    store = ctx.world.store
    group_sid, trunk_sid = ctx.query.get("trunk_group_sid"), ctx.query.get("trunk_sid")
    if group_sid:
        group = store.get("trunk_groups", group_sid, owner=partner_sid)
        if group is None:
            raise not_found("trunk group", group_sid)
        groups = [group]
    elif trunk_sid:
        groups = store.find("trunk_groups", owner=partner_sid)
    else:
        return [], []
    if not trunk_sid:
        return list(groups[0].get("acls") or []), []
    for group in groups:
        for trunk in group.get("trunks") or []:
            if trunk.get("trunk_sid") == trunk_sid:
                return list(group.get("acls") or []), list(trunk.get("acls") or [])
    raise not_found("trunk", trunk_sid)


def effective_acls(ctx: Ctx, traffic: Traffic) -> dict[str, Any]:
    ctx.principal.require_scope("accesscontrol", "read")
    direction = ctx.query.get("direction") or None
    if direction is not None and direction not in DIRECTIONS:
        raise bad_request("direction must be one of " + ", ".join(DIRECTIONS), "direction")
    partner = visible_partner(ctx, ctx.query.get("partner_sid") or ctx.principal.partner_sid)
    sources: list[list[Any]] = [
        list(partner.get("parent_assigned_acls") or []),
        list(partner.get("acls") or []),
    ]
    if traffic == "calls":
        sources.extend(_trunk_layers(ctx, str(partner["partner_sid"])))
    layers = []
    for number, acls in enumerate(sources, start=1):
        kept = [acl for acl in acls if _applies(acl, direction, traffic)]
        if kept:
            layers.append({"effective_acls": kept, "layer": number})
    return list_from_objects(ctx, LAYER, layers)


def _operation(traffic: Traffic) -> Any:
    def operation(ctx: Ctx, _params: Mapping[str, str], _body: Any) -> dict[str, Any]:
        return effective_acls(ctx, traffic)

    return operation


def mount(api: Api, world: World) -> None:
    api.add(world, "/accesscontrol/effective_acl/calls", ["GET"], _operation("calls"))
    api.add(world, "/accesscontrol/effective_acl/sms", ["GET"], _operation("sms"))


RESOURCES: tuple[Resource, ...] = ()
