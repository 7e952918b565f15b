"""The legacy Conference API mount (`/conference/v1`): Basic auth with a `conference` endpoint.

camelCase objects with integer ids; `PUT` is a partial update and there is no `PATCH`.
Subscribers own meeting rooms; a room's meeting keys (its `keychain`) live inside the room.
Access codes are unique across the endpoint's rooms, through the index shared with v2.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx, Principal
from bulkx.sandbox.crud import (
    create_object,
    delete_object,
    list_from_objects,
    load,
    render,
    update_object,
)
from bulkx.sandbox.errors import ErrorAnswer, FieldError, invalid, not_found
from bulkx.sandbox.http import Api, Handler, require_object
from bulkx.sandbox.resources import conference_v1_extras, live_meetings
from bulkx.sandbox.resources.app_views import account_endpoint
from bulkx.sandbox.resources.conference_access_codes import (
    ACCESS_CODE,
    claim_access_codes,
    code_in_use,
    dtmf,
    must_exist,
    release_access_codes,
)
from bulkx.sandbox.schema import (
    CrudVerb,
    Hooks,
    Resource,
    create_only,
    each_object,
    pattern,
    ro,
    rw,
    validate_create,
    validate_update,
)
from bulkx.sandbox.world import World

PREFIX = "/conference/v1"
API = "conference_v1"
#: v1 has no PATCH, and its PUT is partial: `mount_v1` adds it next to the generic routes.
V1_OPERATIONS: frozenset[CrudVerb] = frozenset({"list", "create", "get", "delete"})


def _now_ms() -> int:
    return int(time.time() * 1000)


def without_nulls(obj: dict[str, Any]) -> dict[str, Any]:
    """A v1 answer leaves out its null fields (assumptions.CONFERENCE_V1_OMITS_NULLS)."""
    if not assumptions.CONFERENCE_V1_OMITS_NULLS:
        return obj
    return {key: value for key, value in obj.items() if value is not None}


@dataclass
class SubscriberCtx(Ctx):
    """A request under `/subscribers/{sid}/...`: hooks find the subscriber in `extra()`."""

    subscriber_sid: str = ""

    def extra(self) -> dict[str, Any]:
        return {"subscriberSid": self.subscriber_sid}


# --- subscribers ----------------------------------------------------------------------------------


def _drop_rooms(ctx: Ctx, subscriber: dict[str, Any]) -> None:
    store = ctx.world.store
    rooms = store.find(
        MEETING_ROOM.collection, "c_subscriberSid=?", [subscriber["sid"]], owner=ctx.owner
    )
    if rooms and not assumptions.CONFERENCE_V1_SUBSCRIBER_DELETE_CASCADES:
        raise ErrorAnswer(
            409,
            "the subscriber has meeting rooms",
            [FieldError(None, "delete the rooms first", str(rooms[0]["meetingNumber"]))],
        )
    for room in rooms:
        release_access_codes(ctx, _codes(room))
        store.delete(MEETING_ROOM.collection, str(room["meetingNumber"]))


SUBSCRIBER = Resource(
    name="conference_v1_subscriber",
    api=API,
    path="/subscribers",
    sid_field="sid",
    collection="conf1_subscribers",
    indexed=("name", "email"),
    owner="account",
    operations=V1_OPERATIONS,
    # Assumed field list: assumptions.CONFERENCE_V1_SUBSCRIBER_FIELDS.
    fields=(
        ro("created", "int"),
        rw("email", max_length=255),
        rw("name", default="", nullable=False, max_length=255),
        rw("phoneNumber", check=pattern(r"\+?\d{7,15}", "must be a phone number")),
        ro("sid"),
    ),
    hooks=Hooks(
        before_create=lambda _ctx, obj: obj.update(created=_now_ms()),
        before_delete=_drop_rooms,
        render=lambda _ctx, obj: without_nulls(obj),
    ),
)


def whoami(ctx: Ctx) -> dict[str, Any]:
    """The endpoint's own subscriber, made on first use (sid = the account sid)."""
    store = ctx.world.store
    found = store.get(SUBSCRIBER.collection, ctx.owner, owner=ctx.owner)
    if found is not None:
        return found
    with store.transaction():
        found = store.get(SUBSCRIBER.collection, ctx.owner, owner=ctx.owner)
        if found is not None:
            return found
        endpoint = account_endpoint(ctx.world, ctx.owner)
        me = {
            **SUBSCRIBER.defaults(),
            "created": _now_ms(),
            "name": endpoint["name"],
            "sid": ctx.owner,
        }
        store.insert(SUBSCRIBER.collection, ctx.owner, ctx.owner, me)
        return me


def _subscriber(ctx: Ctx, sid: str) -> dict[str, Any]:
    if sid == ctx.owner and assumptions.CONFERENCE_V1_WHOAMI_SID_IS_ACCOUNT_SID:
        return whoami(ctx)
    return load(ctx, SUBSCRIBER, sid)


# --- DID groups and DIDs --------------------------------------------------------------------------


def _group_dids(ctx: Ctx, group: dict[str, Any]) -> dict[str, Any]:
    """The group with its DIDs; a group without DIDs has no `dids` key
    (assumptions.CONFERENCE_V1_DID_GROUP_DIDS_WHEN_ANY)."""
    dids = ctx.world.store.find(DID.collection, "c_didGroupId=?", [group["id"]], owner=ctx.owner)
    shown = {**group, "dids": [without_nulls(DID.public(d)) for d in dids]}
    if not dids and assumptions.CONFERENCE_V1_DID_GROUP_DIDS_WHEN_ANY:
        del shown["dids"]
    return without_nulls(shown)


def _group_in_use(ctx: Ctx, group: dict[str, Any]) -> None:
    store = ctx.world.store
    for resource, field in ((MEETING_ROOM, "primaryDidGroupId"), (DID, "didGroupId")):
        users = store.find(resource.collection, f"c_{field}=?", [group["id"]], owner=ctx.owner)
        if users:
            sid = str(users[0][resource.sid_field])
            raise ErrorAnswer(
                assumptions.CONFERENCE_V1_DID_GROUP_IN_USE_STATUS,
                "the DID group is in use",
                [FieldError(field, f"{resource.sid_field} {sid} uses this DID group", sid)],
            )


DID_GROUP = Resource(
    name="conference_v1_did_group",
    api=API,
    path="/didGroups",
    sid_field="id",
    collection="conf1_did_groups",
    indexed=("name",),
    owner="account",
    sid_kind="int",
    operations=V1_OPERATIONS,
    fields=(
        rw("attributes", "array", [], nullable=False),
        # Not checked against call flows: assumptions.CONFERENCE_V1_CALL_FLOW_ID_CHECKED.
        rw("callFlowId", "int", required=True, nullable=False),
        # "" as the create sample answers (docs.carrierx.com/conference/conf-v1-api/did-groups/).
        rw("description", default=""),
        ro("dids", "array", []),
        ro("id", "int"),
        rw("name", required=True, nullable=False, max_length=255),
        ro("state", "int", assumptions.CONFERENCE_V1_DID_GROUP_STATE),
        ro("subscriberSid"),
    ),
    hooks=Hooks(
        before_create=lambda ctx, obj: obj.update(subscriberSid=ctx.owner),
        render=_group_dids,
        before_delete=_group_in_use,
    ),
)


def _new_did(ctx: Ctx, did: dict[str, Any]) -> None:
    must_exist(ctx, did, "didGroupId", DID_GROUP, "DID group")
    clash = ctx.world.store.find(
        DID.collection, "c_phoneNumber=?", [did["phoneNumber"]], owner=ctx.owner
    )
    if clash:
        sid = str(clash[0]["id"])
        raise ErrorAnswer(
            assumptions.CONFERENCE_V1_DUPLICATE_DID_STATUS,
            f"phone number {did['phoneNumber']} is on this endpoint already",
            [FieldError("phoneNumber", "is on this endpoint already", sid)],
        )


DID = Resource(
    name="conference_v1_did",
    api=API,
    path="/dids",
    sid_field="id",
    collection="conf1_dids",
    indexed=("phoneNumber", "didGroupId"),
    owner="account",
    sid_kind="int",
    operations=V1_OPERATIONS,
    fields=(
        rw("attributes", "array", [], nullable=False),
        rw(
            "countryCode",
            default=assumptions.CONFERENCE_V1_DEFAULT_COUNTRY_CODE,
            nullable=False,
            check=pattern(r"[A-Z]{2}", "must be an ISO alpha-2 code, e.g. US"),
        ),
        rw("description"),
        rw("didGroupId", "int"),
        ro("id", "int"),
        create_only(
            "phoneNumber",
            required=True,
            nullable=False,
            check=pattern(r"\d{7,15}", "must be digits"),
        ),
        ro("state", "int", assumptions.CONFERENCE_V1_DID_STATE),
    ),
    hooks=Hooks(
        before_create=_new_did,
        before_update=lambda ctx, _old, new: must_exist(
            ctx, new, "didGroupId", DID_GROUP, "DID group"
        ),
        render=lambda _ctx, obj: without_nulls(obj),
    ),
)

# --- meeting keys (inside their room) -------------------------------------------------------------

ROLES = (1, 2, 3)  # host, participant, listener

KEY = Resource(
    name="conference_v1_meeting_key",
    api=API,
    path="/subscribers/{sid}/meetingRooms/{meetingNumber}/keychain",
    sid_field="id",
    collection="conf1_meeting_rooms",
    sid_kind="int",
    operations=frozenset(),
    fields=(
        rw("accessCode", check=dtmf),
        ro("id", "int"),
        # Only in POST/PUT answers of the keychain routes; never stored.
        ro("meetingRoomId", "int"),
        rw("role", "int", required=True, nullable=False, choices=ROLES),
    ),
    hooks=Hooks(render=lambda _ctx, obj: without_nulls(obj)),
)


def _codes(room: Mapping[str, Any]) -> list[str]:
    return [str(key["accessCode"]) for key in room.get("keychain") or []]


def _next_key_id(ctx: Ctx) -> int:
    store = ctx.world.store
    value = int(store.get_meta("conference_v1_meeting_key_id") or 0) + 1
    store.set_meta("conference_v1_meeting_key_id", str(value))
    return value


def _key(
    ctx: Ctx, body: Mapping[str, Any], current: dict[str, Any] | None, room: int
) -> dict[str, Any]:
    """A new meeting key (`current` None) or `current` updated by a partial `body`."""
    if current is None:
        key = validate_create(KEY, body)
        key["id"] = _next_key_id(ctx)
    else:
        key = validate_update(KEY, {**current, "meetingRoomId": room}, body, replace=False)
    key.pop("meetingRoomId", None)
    return dict(sorted(key.items()))


def _settle_keys(ctx: Ctx, room: int, keys: list[dict[str, Any]], previous: list[str]) -> None:
    """Give keys sent without a code a random unused one, then claim every code for the room."""
    used = {str(k["accessCode"]) for k in keys if k.get("accessCode") is not None}
    for key in keys:
        while key.get("accessCode") is None:
            digits = assumptions.CONFERENCE_V1_RANDOM_ACCESS_CODE_DIGITS
            code = "".join(secrets.choice("0123456789") for _ in range(digits))
            if code not in used and not code_in_use(ctx, code):
                key["accessCode"] = code
                used.add(code)
    if assumptions.CONFERENCE_V1_ACCESS_CODES_UNIQUE:
        claim_access_codes(ctx, str(room), _codes({"keychain": keys}), previous, "keychain")


def _keychain_of(ctx: Ctx, room: dict[str, Any], previous: list[dict[str, Any]]) -> None:
    """Rebuild `room["keychain"]` from what was sent: items with an id update that key, items
    without one are new keys, and keys left out are removed."""
    number = int(room["meetingNumber"])
    by_id = {key["id"]: key for key in previous}
    keys, errors = [], []
    for index, item in enumerate(room.get("keychain") or []):
        try:
            if not isinstance(item, dict):
                raise invalid([FieldError(None, "must be an object")])
            if item.get("id") is not None and item["id"] not in by_id:
                raise invalid(
                    [FieldError("id", "no meeting key with this id in the room", str(item["id"]))]
                )
            keys.append(_key(ctx, item, by_id.get(item.get("id")), number))
        except ErrorAnswer as error:  # re-labelled with the key's index
            for e in error.errors:
                name = f"keychain[{index}]" + (f".{e.field}" if e.field else "")
                errors.append(FieldError(name, e.message, e.reference_sid))
    if errors:
        raise invalid(errors)
    _settle_keys(ctx, number, keys, _codes({"keychain": previous}))
    room["keychain"] = keys


# --- meeting rooms --------------------------------------------------------------------------------

_DID_GROUP_REFERENCE = {
    "didGroupId": rw("didGroupId", "int", nullable=False),
    "state": rw("state", "int"),
}


def _check_room(ctx: Ctx, room: dict[str, Any]) -> None:
    must_exist(ctx, room, "primaryDidGroupId", DID_GROUP, "DID group")
    for index, ref in enumerate(room.get("didGroupReferences") or []):
        field = f"didGroupReferences[{index}].didGroupId"
        if "didGroupId" not in ref:
            raise invalid([FieldError(field, "field is required")])
        must_exist(ctx, {field: ref["didGroupId"]}, field, DID_GROUP, "DID group")


def _reference_primary(room: dict[str, Any]) -> None:
    """The room's primary DID group leads its didGroupReferences, as the create sample answers
    (assumptions.CONFERENCE_V1_PRIMARY_GROUP_REFERENCED); a reference without a state gets 0."""
    state = assumptions.CONFERENCE_V1_DID_GROUP_REFERENCE_STATE
    refs = [{"state": state, **ref} for ref in room.get("didGroupReferences") or []]
    primary = room.get("primaryDidGroupId")
    missing = all(ref.get("didGroupId") != primary for ref in refs)
    if assumptions.CONFERENCE_V1_PRIMARY_GROUP_REFERENCED and primary is not None and missing:
        refs.insert(0, {"didGroupId": primary, "state": state})
    room["didGroupReferences"] = [dict(sorted(ref.items())) for ref in refs]


def _create_room(ctx: Ctx, room: dict[str, Any]) -> None:
    room["created"] = _now_ms()
    room["subscriberSid"] = ctx.extra().get("subscriberSid") or whoami(ctx)["sid"]
    _check_room(ctx, room)
    _reference_primary(room)
    _keychain_of(ctx, room, [])


def _update_room(ctx: Ctx, current: dict[str, Any], room: dict[str, Any]) -> None:
    _check_room(ctx, room)
    _reference_primary(room)
    _keychain_of(ctx, room, list(current.get("keychain") or []))


MEETING_ROOM = Resource(
    name="conference_v1_meeting_room",
    api=API,
    path="/meetingRooms",
    sid_field="meetingNumber",
    collection="conf1_meeting_rooms",
    indexed=("subscriberSid", "primaryDidGroupId"),
    owner="account",
    sid_kind="int",
    operations=V1_OPERATIONS,
    fields=(
        rw("attributes", "array", [], nullable=False),
        ro("created", "int"),
        rw("description"),
        rw(
            "didGroupReferences",
            "array",
            [],
            nullable=False,
            check=each_object(_DID_GROUP_REFERENCE),
        ),
        rw("keychain", "array", [], nullable=False),
        ro("meetingNumber", "int"),
        rw("primaryDidGroupId", "int", required=True, nullable=False),
        ro("subscriberSid"),
    ),
    hooks=Hooks(
        before_create=_create_room,
        before_update=_update_room,
        before_delete=lambda ctx, room: release_access_codes(ctx, _codes(room)),
        render=lambda _ctx, obj: without_nulls(obj),
    ),
)

# --- routes under /subscribers/{sid} --------------------------------------------------------------


def _room_of(ctx: Ctx, params: Mapping[str, str]) -> dict[str, Any]:
    """The subscriber's room, or 404 (also for another subscriber's room)."""
    subscriber = _subscriber(ctx, params["sid"])
    room = load(ctx, MEETING_ROOM, params["meetingNumber"])
    if room["subscriberSid"] != subscriber["sid"]:
        raise not_found(MEETING_ROOM.name, params["meetingNumber"])
    return room


def _subscriber_rooms(method: str) -> Handler:
    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> Any:
        number = params.get("meetingNumber")
        if number is None:
            sid = str(_subscriber(ctx, params["sid"])["sid"])
            if method == "GET":
                rooms = ctx.world.store.find(
                    MEETING_ROOM.collection, "c_subscriberSid=?", [sid], owner=ctx.owner
                )
                return list_from_objects(ctx, MEETING_ROOM, rooms)
            scoped = SubscriberCtx(ctx.world, ctx.principal, ctx.query, ctx.base_url, sid)
            return create_object(scoped, MEETING_ROOM, require_object(body))
        room = _room_of(ctx, params)
        if method == "GET":
            return render(ctx, MEETING_ROOM, room)
        if method == "PUT":
            return update_object(ctx, MEETING_ROOM, number, require_object(body), replace=False)
        delete_object(ctx, MEETING_ROOM, number)
        return None

    return operation


def _keychain(method: str) -> Handler:
    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> Any:
        store = ctx.world.store
        with store.transaction():
            room = _room_of(ctx, params)
            number = int(room["meetingNumber"])
            keys: list[dict[str, Any]] = list(room.get("keychain") or [])
            previous = _codes(room)
            key_id = params.get("meetingKeyId")
            if key_id is None and method == "GET":
                return list_from_objects(ctx, KEY, keys)
            if key_id is None:
                key = _key(ctx, require_object(body), None, number)
                keys.append(key)
            else:
                index = next((i for i, k in enumerate(keys) if str(k["id"]) == key_id), None)
                if index is None:
                    raise not_found(KEY.name, key_id)
                if method == "GET":
                    return render(ctx, KEY, keys[index])
                key = keys.pop(index)
                if method == "PUT":
                    key = _key(ctx, require_object(body), key, number)
                    keys.insert(index, key)
            _settle_keys(ctx, number, keys, previous)
            store.replace(MEETING_ROOM.collection, str(number), {**room, "keychain": keys})
            return (
                None if method == "DELETE" else render(ctx, KEY, {**key, "meetingRoomId": number})
            )

    return operation


# --- the mount ------------------------------------------------------------------------------------


def _authenticate(world: World, headers: Mapping[str, str]) -> Principal:
    return world.authenticate_app(headers, ("conference",))


def _v1_ints(resource: Resource, body: Any) -> dict[str, Any]:
    """Integer fields sent as strings of digits are those integers: the DID group create sample
    sends `"callFlowId": "1"` (assumptions.CONFERENCE_V1_DIGIT_STRINGS_ARE_INTS)."""
    obj = dict(require_object(body))
    for spec in resource.fields:
        value = obj.get(spec.name)
        if spec.type == "int" and isinstance(value, str) and value.isdigit():
            obj[spec.name] = int(value)
    return obj


def mount_v1(api: Api, world: World, resource: Resource) -> None:
    """The generic routes, plus v1's PUT: a partial update. POST and PUT read integers sent as
    strings of digits (the generic POST, added after, is never reached)."""
    if "create" in resource.operations:
        api.add(
            world,
            resource.path,
            ["POST"],
            lambda c, _p, b: create_object(c, resource, _v1_ints(resource, b)),
        )
    api.add_resource(world, resource)
    api.add(
        world,
        resource.path + "/{sid}",
        ["PUT"],
        lambda c, p, b: update_object(c, resource, p["sid"], _v1_ints(resource, b), replace=False),
    )


def build(world: World) -> Api:
    api = Api(API, PREFIX, _authenticate)
    api.add(
        world, "/subscribers/whoami", ["GET"], lambda c, _p, _b: render(c, SUBSCRIBER, whoami(c))
    )
    rooms = "/subscribers/{sid}/meetingRooms"
    keychain = rooms + "/{meetingNumber}/keychain"
    for method in ("GET", "POST"):
        api.add(world, rooms, [method], _subscriber_rooms(method))
        api.add(world, keychain, [method], _keychain(method))
    for method in ("GET", "PUT", "DELETE"):
        api.add(world, rooms + "/{meetingNumber}", [method], _subscriber_rooms(method))
        api.add(world, keychain + "/{meetingKeyId}", [method], _keychain(method))
    # Call flows, logout and media files (the rest of the quick reference).
    conference_v1_extras.mount(api, world, _subscriber)
    for resource in (SUBSCRIBER, MEETING_ROOM, DID_GROUP, DID):
        mount_v1(api, world, resource)
    live_meetings.mount_v1(api, world)
    return api


RESOURCES = (
    ACCESS_CODE,
    SUBSCRIBER,
    MEETING_ROOM,
    DID_GROUP,
    DID,
    *live_meetings.RESOURCES_V1,
    *conference_v1_extras.RESOURCES,
)
