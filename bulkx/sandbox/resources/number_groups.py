"""Core objects that group numbers: DID groups (DIDs named together; deleting one detaches its
DIDs), and prefixes and LRN prefixes (numbers by their leading digits, routed to a trunk
group; a prefix is unique per partner).
"""

from __future__ import annotations

from typing import Any

from bulkx.sandbox.context import Ctx
from bulkx.sandbox.errors import conflict
from bulkx.sandbox.resources.dids import check_reference
from bulkx.sandbox.schema import Field, Hooks, Resource, create_only, pattern, ro, rw


def _detach_dids(field: str) -> Any:
    def hook(ctx: Ctx, obj: dict[str, Any]) -> None:
        store = ctx.world.store
        sid_field = "did_group_sid" if field == "did_group_sid" else field
        for did in store.find("dids", f"c_{field}=?", [obj[sid_field]], owner=ctx.owner):
            did[field] = None
            store.replace("dids", str(did["did_sid"]), did)

    return hook


DID_GROUP = Resource(
    name="did_group",
    api="core",
    path="/phonenumber/did_groups",
    sid_field="did_group_sid",
    collection="did_groups",
    indexed=("name",),
    scope="phonenumber",
    fields=(
        rw("callback_url"),
        ro("did_group_sid"),
        rw("name", default="N/A", nullable=False, max_length=255),
        ro("partner_sid"),
    ),
    hooks=Hooks(before_delete=_detach_dids("did_group_sid")),
)


def _prefix_fields(sid_field: str) -> tuple[Field, ...]:
    return (
        rw("attributes", "object", {}, nullable=False),
        rw("callback_url"),
        ro("lrn_sid"),
        rw("name", default="N/A", nullable=False),
        ro("partner_sid"),
        create_only("prefix", required=True, check=pattern(r"\d{1,15}", "must be digits")),
        ro(sid_field),
        rw("source_trunk_group_sid"),
        rw("string_key_1"),
        rw("string_key_2"),
        rw("transformations", "array", [], nullable=False),
        rw("trunk_group_sid"),
    )


def _unique_prefix(collection: str) -> Any:
    def hook(ctx: Ctx, obj: dict[str, Any], *rest: Any) -> None:
        target = rest[0] if rest else obj
        check_reference(ctx, target, "trunk_group_sid", "trunk_groups")
        check_reference(ctx, target, "source_trunk_group_sid", "trunk_groups")
        if rest:
            return
        clash = ctx.world.store.find(collection, "c_prefix=?", [obj["prefix"]], owner=ctx.owner)
        if clash:
            sid_field = "prefix_sid" if collection == "prefixes" else "lrn_prefix_sid"
            raise conflict(f"prefix {obj['prefix']} exists already", "prefix", clash[0][sid_field])

    return hook


PREFIX = Resource(
    name="prefix",
    api="core",
    path="/phonenumber/prefixes",
    sid_field="prefix_sid",
    collection="prefixes",
    indexed=("prefix",),
    scope="phonenumber",
    fields=_prefix_fields("prefix_sid"),
    hooks=Hooks(before_create=_unique_prefix("prefixes"), before_update=_unique_prefix("prefixes")),
)

LRN_PREFIX = Resource(
    name="lrn_prefix",
    api="core",
    path="/phonenumber/lrn_prefixes",
    sid_field="lrn_prefix_sid",
    collection="lrn_prefixes",
    indexed=("prefix",),
    scope="phonenumber",
    fields=_prefix_fields("lrn_prefix_sid"),
    hooks=Hooks(
        before_create=_unique_prefix("lrn_prefixes"), before_update=_unique_prefix("lrn_prefixes")
    ),
)
