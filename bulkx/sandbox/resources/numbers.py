"""Core phone numbers: DIDs (rent, update, release), available DIDs, E911, line information,
DID groups, prefixes, LRN prefixes and classifications."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

import phonenumbers

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import field_type_of, list_objects, load, render, renders_as_stored
from bulkx.sandbox.errors import ApiError, FieldError, conflict, invalid, not_found
from bulkx.sandbox.filters import Condition
from bulkx.sandbox.http import Api, require_object
from bulkx.sandbox.inventory import (
    CLASSIFICATION_SID,
    geography_of,
    nanp_formats,
    number_for_sid,
    sid_for_number,
)
from bulkx.sandbox.listing import EncodedItems, envelope, parse_list_query
from bulkx.sandbox.schema import (
    Field,
    Hooks,
    Resource,
    check_value,
    create_only,
    each_object,
    pattern,
    ro,
    rw,
    validate_update,
)
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
        raise ApiError(
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
        raise ApiError(
            assumptions.RENT_TAKEN_STATUS,
            "phonenumber is not available",
            [
                FieldError(
                    "phonenumber", f"{number} was released and is aging; it cannot be rented yet"
                )
            ],
        )
    if held.get("partner_sid") == ctx.principal.partner_sid:
        raise ApiError(
            assumptions.RENT_ALREADY_OWNED_STATUS,
            "phonenumber is already assigned to this partner",
            [
                FieldError(
                    "phonenumber", f"{number} is already on this account", str(held["did_sid"])
                )
            ],
        )
    raise ApiError(
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
    if q.order_field not in (None, "phonenumber"):
        raise ApiError(400, "available DIDs can only be ordered by phonenumber", [
            FieldError("order", "use 'phonenumber asc', 'phonenumber desc' or 'shuffle'")
        ])  # fmt: skip
    inventory = ctx.world.inventory
    found = inventory.browse_numbers(
        q.conditions,
        limit=q.limit + 1,
        offset=q.offset,
        descending=q.descending,
        shuffle=q.shuffle,
        field_type=field_type_of(AVAILABLE_DID),
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
    if cond.field not in AVAILABLE_DID.by_name:
        raise ApiError(
            assumptions.UNKNOWN_FILTER_FIELD_STATUS,
            f"filter: unknown field {cond.field!r}",
            [FieldError("filter", f"available DIDs have no field {cond.field!r}")],
        )
    if cond.op == "nearby" and cond.field != "phonenumber":
        raise ApiError(400, "filter: nearby applies to phonenumber", [
            FieldError("filter", 'write: phonenumber nearby "latlng:40.7,-74.0"')
        ])  # fmt: skip


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


# --- E911 and line information (one record per DID) -----------------------------------------------

_address: dict[str, Field] = {
    "address_1": rw("address_1", max_length=60),
    "address_2": rw("address_2", max_length=60),
    "city": rw("city", max_length=40),
    "country_code": rw("country_code", check=pattern(r"[A-Z]{3}", "must be an ISO alpha-3 code")),
    "state": rw("state", check=pattern(r"[A-Z]{2}", "must be a 2-letter state code")),
    "zip": rw("zip", check=pattern(r"\d{5}(-?\d{4})?", "must be a 5-digit ZIP (or ZIP+4)")),
}

EMERGENCY = Resource(
    name="did_emergency",
    api="core",
    path="/phonenumber/dids/{sid}/emergency",
    sid_field="_did_sid",
    collection="did_emergency",
    scope="phonenumber.emergency",
    operations=frozenset(),
    fields=(
        rw("caller_name", default="", max_length=32),
        rw("enabled", "bool", False, nullable=False),
        rw("locations", "array", [], nullable=False, check=each_object(_address)),
    ),
)

LINE_INFORMATION = Resource(
    name="did_line_information",
    api="core",
    path="/phonenumber/dids/{sid}/line_information",
    sid_field="_did_sid",
    collection="did_line_information",
    scope="phonenumber.line_information",
    operations=frozenset(),
    fields=(
        rw("caller_name", default="", max_length=15),
        rw("class_of_service", default="none", choices=("business", "none", "residential")),
        rw("enabled", "bool", False, nullable=False),
        rw("extended_business_name", default=""),
        rw("extended_first_name", default=""),
        rw("extended_last_name", default=""),
        rw("privacy", default="public", choices=("public", "private")),
        rw(
            "screening",
            default="block_third_number_collect",
            choices=(
                "allow_all",
                "block_collect",
                "block_third_number",
                "block_third_number_collect",
            ),
        ),
    ),
)


def _e911_complete(record: Mapping[str, Any]) -> None:
    """An enabled E911 record must carry a dispatchable address: PSAP routing needs it."""
    if not record.get("enabled"):
        return
    errors: list[FieldError] = []
    locations = record.get("locations") or []
    if not locations:
        errors.append(FieldError("locations", "an enabled emergency record needs a location"))
    for i, loc in enumerate(locations):
        for key in ("address_1", "city", "state", "zip"):
            if not loc.get(key):
                errors.append(FieldError(f"locations[{i}].{key}", "is required when enabled"))
    if errors:
        raise invalid(errors)


def _sub_record(resource: Resource, method: str, verb: str) -> Any:
    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> Any:
        ctx.principal.require_scope(resource.scope, verb)
        store = ctx.world.store
        with store.transaction():
            load(ctx, DID, params["sid"])  # 404 for a DID that is not the caller's
            sid = params["sid"]
            current = store.get(resource.collection, sid) or resource.defaults()
            if method == "GET":
                return resource.public(current)
            if method == "DELETE":
                store.delete(resource.collection, sid)
                return None
            updated = validate_update(
                resource, current, require_object(body), replace=method == "PUT"
            )
            if resource is EMERGENCY:
                _e911_complete(updated)
            if store.get(resource.collection, sid) is None:
                store.insert(resource.collection, sid, ctx.owner, updated)
            else:
                store.replace(resource.collection, sid, updated)
            return resource.public(updated)

    return operation


# --- DID groups, prefixes, classifications --------------------------------------------------------


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

CLASSIFICATIONS = [
    {
        "aging_policy": assumptions.AGING_POLICY_MINUTES,
        "classification_sid": CLASSIFICATION_SID,
        "name": "Default",
    }
]


# --- ported numbers (sandbox seeding) -------------------------------------------------------------


def ported_did(world: World, partner_sid: str, number: str, name: str = "N/A") -> dict[str, Any]:
    """An assigned DID as a completed port-in leaves it: no trunk group, no E911."""
    block = world.inventory.block_of(number)
    if block is not None:
        did = world.inventory.describe(number, block)
    else:
        did = {f.name: f.default_value() for f in DID.fields}
        parsed = phonenumbers.parse("+" + number)
        region = phonenumbers.region_code_for_number(parsed)
        if number.startswith("1") and len(number) == 11:
            local, international = nanp_formats(number)
        else:
            local = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
            international = phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
        where = geography_of(parsed)
        city, _, state = where.rpartition(", ")
        did.update(
            country_code=_alpha3(region),
            in_country_format=local,
            international_format=international,
            locality=(city or where).upper() or None,
            state=state if len(state) == 2 else None,
            price="0.6",
            did_sid=sid_for_number(world.seed, number),
            phonenumber=number,
        )
    did.update(status="assigned", partner_sid=partner_sid, name=name, trunk_group_sid=None)
    return did


_ALPHA3 = {
    "US": "USA",
    "CA": "CAN",
    "GB": "GBR",
    "PR": "PRI",
    "MX": "MEX",
    "DE": "DEU",
    "FR": "FRA",
}


def _alpha3(region: str | None) -> str:
    return _ALPHA3.get(region or "", region or "USA")


def seed_ported(world: World, numbers: list[tuple[str, str]]) -> tuple[int, int]:
    """Put already-ported numbers on the partner's account. Returns (added, already there)."""
    store = world.store
    added = existing = 0
    with store.transaction():
        rows = []
        for number, name in numbers:
            if store.find("dids", "c_phonenumber=?", [number]):
                existing += 1
                continue
            did = ported_did(world, world.partner_sid, number, name or "N/A")
            rows.append((str(did["did_sid"]), world.partner_sid, did))
            added += 1
        store.insert_many("dids", rows)
    return added, existing


# --- routes ---------------------------------------------------------------------------------------


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
    for resource in (EMERGENCY, LINE_INFORMATION):
        verbs = {"GET": "read", "PATCH": "update", "PUT": "update", "DELETE": "update"}
        for method, verb in verbs.items():
            api.add(world, resource.path, [method], _sub_record(resource, method, verb))
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
    for resource in (DID, DID_GROUP, PREFIX, LRN_PREFIX):
        api.add_resource(world, resource)


def _classification(sid: str) -> dict[str, Any]:
    for item in CLASSIFICATIONS:
        if item["classification_sid"] == sid:
            return dict(item)
    raise not_found("classification", sid)


RESOURCES = (DID, EMERGENCY, LINE_INFORMATION, DID_GROUP, PREFIX, LRN_PREFIX)

__all__ = ["DID", "RESOURCES", "check_reference", "check_value", "mount", "seed_ported"]


def seed_rented(world: World, count: int, *, every: int = 1) -> list[str]:
    """Rent `count` inventory numbers straight into the store (every `every`-th number of each
    block, in order): a large account in seconds, for capacity tests and benchmarks."""
    rows: list[tuple[str, str, dict[str, Any]]] = []
    numbers: list[str] = []
    for block in world.inventory.blocks:
        for line in range(0, 10_000, every):
            if len(rows) >= count:
                break
            number = f"{block.prefix}{line:04d}"
            did = world.inventory.describe(number, block)
            did.update(status="assigned", partner_sid=world.partner_sid)
            rows.append((str(did["did_sid"]), world.partner_sid, did))
            numbers.append(number)
    with world.store.transaction():
        for start in range(0, len(rows), 20_000):
            world.store.insert_many("dids", rows[start : start + 20_000])
    return numbers
