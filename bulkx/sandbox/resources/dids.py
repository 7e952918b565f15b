"""Core DIDs: the numbers on an account, and the ones available to rent.

Renting a DID (a given number from the inventory, or the first available), updating it and
releasing it into aging; browsing the inventory of available DIDs (computed, never stored; its
total is null, too many to count). Also the check that a sid names an existing Core object of
the caller's, which the other Core resources share.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import (
    create_object,
    field_type_of,
    list_objects,
    render,
    renders_as_stored,
)
from bulkx.sandbox.errors import ErrorAnswer, FieldError, conflict, invalid, not_found
from bulkx.sandbox.filters import Condition
from bulkx.sandbox.http import EmptyBody, require_object
from bulkx.sandbox.inventory import CLASSIFICATION_SID, number_for_sid
from bulkx.sandbox.listing import EncodedItems, envelope, parse_list_query
from bulkx.sandbox.schema import Hooks, Resource, create_only, pattern, ro, rw
from bulkx.sandbox.world import World

# --- references between Core objects --------------------------------------------------------------


def check_reference(ctx: Ctx, obj: Mapping[str, Any], field: str, collection: str) -> None:
    sid = obj.get(field)
    if sid is not None and ctx.world.store.get(collection, str(sid), owner=ctx.owner) is None:
        raise invalid(
            [FieldError(field, f"no {collection[:-1].replace('_', ' ')} with this sid", str(sid))]
        )


def _did_references(ctx: Ctx, obj: dict[str, Any], *_: Any) -> None:
    target = obj if not _ else _[0]
    check_reference(ctx, target, "trunk_group_sid", "trunk_groups")
    check_reference(ctx, target, "did_group_sid", "did_groups")


# --- DIDs -----------------------------------------------------------------------------------------


def _rent(ctx: Ctx, obj: dict[str, Any]) -> None:
    world = ctx.world
    number = obj.get("phonenumber")
    if number is None:
        number = _first_available(world)
        if number is None:
            raise conflict("no numbers are available to rent", "phonenumber")
    number = str(number)
    _claim(ctx, number)
    block = world.inventory.block_of(number)
    if block is None:
        raise ErrorAnswer(
            assumptions.RENT_NOT_IN_INVENTORY_STATUS,
            "phonenumber is not available",
            [FieldError("phonenumber", f"{number} is not in the inventory of available numbers")],
        )
    base = world.inventory.describe(number, block)
    spec = DID.by_name
    for name, value in base.items():
        if spec[name].access not in ("rw", "hidden"):
            obj[name] = value
    obj["status"] = "assigned"
    obj["partner_sid"] = ctx.principal.partner_sid
    _did_references(ctx, obj)


def _claim(ctx: Ctx, number: str) -> None:
    """Refuse a number that is not free; clear an aging record whose time is up."""
    store = ctx.world.store
    rows = store.find("dids", "c_phonenumber=?", [number])
    if not rows:
        return
    held = rows[0]
    if held.get("status") == "aging":
        if float(held.get("_aging_until", 0)) <= time.time():
            store.delete("dids", str(held["did_sid"]))
            return
        raise ErrorAnswer(
            assumptions.RENT_TAKEN_STATUS,
            "phonenumber is not available",
            [
                FieldError(
                    "phonenumber", f"{number} was released and is aging; it cannot be rented yet"
                )
            ],
        )
    if held.get("partner_sid") == ctx.principal.partner_sid:
        raise ErrorAnswer(
            assumptions.RENT_ALREADY_OWNED_STATUS,
            "phonenumber is already assigned to this partner",
            [
                FieldError(
                    "phonenumber", f"{number} is already on this account", str(held["did_sid"])
                )
            ],
        )
    raise ErrorAnswer(
        assumptions.RENT_TAKEN_STATUS,
        "phonenumber is not available",
        [FieldError("phonenumber", f"{number} is not available")],
    )


def _first_available(world: World) -> str | None:
    # "{} rents the first available number", which the docs show to be a random one.
    rng = random.Random()
    blocks = list(world.inventory.blocks)
    rng.shuffle(blocks)
    for block in blocks:
        taken = world._taken_numbers(block.first, block.end)
        if len(taken) >= 10_000:
            continue
        start = rng.randrange(10_000)
        for step in range(10_000):
            number = f"{block.prefix}{(start + step) % 10_000:04d}"
            if number not in taken:
                return number
    return None


def _release(ctx: Ctx, did: dict[str, Any]) -> None:
    store = ctx.world.store
    sid = str(did["did_sid"])
    did.update(
        status="aging",
        trunk_group_sid=None,
        did_group_sid=None,
        _aging_until=time.time() + assumptions.AGING_POLICY_MINUTES * 60,
    )
    store.replace("dids", sid, did, owner="")
    store.delete("did_emergency", sid)
    store.delete("did_line_information", sid)
    store.delete("did_messaging", sid)  # a number rented again starts disabled


DID = Resource(
    name="did",
    api="core",
    path="/phonenumber/dids",
    sid_field="did_sid",
    collection="dids",
    indexed=("phonenumber", "status", "trunk_group_sid", "did_group_sid", "state"),
    scope="phonenumber",
    # The list is served by `list_dids`, which also takes the trunk_group_sid query argument.
    operations=frozenset({"get", "create", "update", "delete"}),
    query_args=("trunk_group_sid", "with_related", "include_external"),
    fields=(
        ro("active_capabilities", "int", 4),
        rw("attributes", "object", {}, nullable=False),
        rw("callback_url"),
        ro("campaign_sid"),
        ro("capabilities", "int", 31),
        ro("classification_sid", default=CLASSIFICATION_SID),
        ro("country_code", default="USA"),
        rw("did_group_sid"),
        ro("did_sid"),
        ro("in_country_format"),
        ro("international_format"),
        ro("lata"),
        ro("locality"),
        ro("lrn_sid"),
        rw("name", default="N/A", nullable=False, max_length=255),
        ro("ocn"),
        ro("partner_sid"),
        create_only("phonenumber", check=pattern(r"\d{7,15}", "must be E.164 digits without '+'")),
        rw("porting_pin"),
        ro("price"),
        ro("state"),
        ro("status", default="assigned"),
        rw("string_key_1"),
        rw("string_key_2"),
        rw("transformations", "array", [], nullable=False),
        rw("trunk_group_sid"),
    ),
    hooks=Hooks(before_create=_rent, before_update=_did_references, delete=_release),
)


def rent_did(ctx: Ctx, body: Any) -> dict[str, Any]:
    """POST /phonenumber/dids: `{}` rents the first available number; no body at all is refused
    (https://docs.carrierx.com/voice/core-api/phone-numbers/did/rent: "No fields are required to
    rent a DID, an empty object can be passed"): a rent is billed, never implied."""
    if isinstance(body, EmptyBody):
        raise ErrorAnswer(
            assumptions.RENT_EMPTY_BODY_STATUS,
            assumptions.INVALID_JSON_MESSAGE,
            [FieldError(None, "the body is empty: send {} to rent the first available number")],
        )
    return create_object(ctx, DID, require_object(body))


def list_dids(ctx: Ctx) -> dict[str, Any]:
    """`trunk_group_sid` is also a query argument of Get DIDs; it narrows like a filter does."""
    tg = ctx.query.get("trunk_group_sid")
    if tg:
        return list_objects(ctx, DID, scope_where="c_trunk_group_sid = ?", scope_params=[tg])
    return list_objects(ctx, DID)


# --- available DIDs -------------------------------------------------------------------------------

AVAILABLE_DID = Resource(
    name="available_did",
    api="core",
    path="/phonenumber/available_dids",
    sid_field="did_sid",
    collection="dids",
    scope="phonenumber",
    operations=frozenset(),
    fields=DID.fields,
)


def browse_available(ctx: Ctx) -> dict[str, Any]:
    ctx.principal.require_scope("phonenumber", "read")
    q = parse_list_query(ctx.query, cursors=False)
    for cond in q.conditions:
        _check_available_field(cond)
    if q.order_field is not None and (
        q.order_field not in AVAILABLE_DID.by_name
        or q.order_field in assumptions.AVAILABLE_DID_UNORDERABLE
    ):
        raise ErrorAnswer(
            400,
            f"available DIDs cannot be ordered by {q.order_field!r}",
            [
                FieldError(
                    "order",
                    "order by a field of the available DID other than did_sid,"
                    " e.g. 'state asc', 'phonenumber desc', or 'shuffle'",
                )
            ],
        )
    inventory = ctx.world.inventory
    typed = field_type_of(AVAILABLE_DID)

    def field_type(cond: Condition) -> Any:
        return "str" if cond.field in assumptions.AVAILABLE_DID_AREA_FILTERS else typed(cond)

    found = inventory.browse_numbers(
        q.conditions,
        limit=q.limit + 1,
        offset=q.offset,
        descending=q.descending,
        shuffle=q.shuffle,
        field_type=field_type,
        order_by=q.order_field,
    )
    has_more = len(found) > q.limit
    found = found[: q.limit]
    items: list[dict[str, Any]] | EncodedItems
    if renders_as_stored(ctx, AVAILABLE_DID):
        items = EncodedItems(inventory.describe_json(number, block) for number, block in found)
    else:
        items = [render(ctx, AVAILABLE_DID, inventory.describe(n, b)) for n, b in found]
    # total is null for available DIDs: the inventory is too large to count per request.
    return envelope(
        items, q=q, total=None, has_more=has_more, base_url=ctx.base_url, query=ctx.query
    )


def _check_available_field(cond: Condition) -> None:
    known = cond.field in AVAILABLE_DID.by_name
    if not known and cond.field not in assumptions.AVAILABLE_DID_AREA_FILTERS:
        raise ErrorAnswer(
            assumptions.UNKNOWN_FILTER_FIELD_STATUS,
            f"filter: unknown field {cond.field!r}",
            [FieldError("filter", f"available DIDs have no field {cond.field!r}")],
        )
    if cond.op == "nearby" and cond.field != "phonenumber":
        raise ErrorAnswer(
            400,
            "filter: nearby applies to phonenumber",
            [FieldError("filter", 'write: phonenumber nearby "latlng:40.7,-74.0"')],
        )


def get_available(ctx: Ctx, sid: str) -> dict[str, Any]:
    ctx.principal.require_scope("phonenumber", "read")
    world = ctx.world
    number = number_for_sid(world.seed, sid)
    if (
        number is None
        or not world.inventory.contains(number)
        or world._taken_numbers(number, number + "\x00")
    ):
        raise not_found("available DID", sid)
    return render(ctx, AVAILABLE_DID, world.inventory.describe(number))
