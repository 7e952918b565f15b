"""Live meetings and their calls, on both conference mounts: what a bridge shows while people are
on the line.

- Conference v2: GET /calls, GET/PATCH /calls/{call_sid}; GET /meetings, GET/PATCH/DELETE
  /meetings/{meeting_sid}. A call has no DELETE: a PATCH of its state hangs it up.
- Conference v1: GET /calls, GET/PUT/DELETE /calls/{id}; GET /meetings, GET/DELETE
  /meetings/{meetingNumber}, GET .../attributes, PUT .../attributes/{name}.

Nobody dials into a sandbox, so meetings start only through `live_meeting_seeding` (`bulkx sandbox
seed --live-meetings N`). An ended call is gone at once; a meeting ends with its last call, or
when deleted, taking its calls with it. The docs give no field of either object: see the
`live meetings` section of assumptions/conference.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_from_objects, load, render, update_object
from bulkx.sandbox.errors import ErrorAnswer, FieldError, not_found
from bulkx.sandbox.filters import JsonType
from bulkx.sandbox.http import Api, Handler, require_object
from bulkx.sandbox.schema import Field, Hooks, Resource, ro, rw, validate_update
from bulkx.sandbox.store import Store
from bulkx.sandbox.world import World

#: The callers of a seeded meeting, by role: its host first.
SEEDED_ROLES = ("host", "participant", "participant")
_READ: frozenset[Any] = frozenset({"list", "get"})


def _fields(
    names: Iterable[str],
    writable: Iterable[str],
    types: Mapping[str, JsonType],
    choices: Mapping[str, tuple[Any, ...]] | None = None,
) -> tuple[Field, ...]:
    """Fields from an assumed name list: the `writable` ones read-write (never null), others
    server-managed."""
    can_write, choices = set(writable), choices or {}
    return tuple(
        Field(
            name,
            types.get(name, "str"),
            access="rw" if name in can_write else "ro",
            nullable=name not in can_write,
            choices=choices.get(name),
        )
        for name in names
    )


@dataclass(frozen=True)
class Live:
    """One API's live objects: its call and meeting resources, and the call field naming the
    meeting."""

    call: Resource
    meeting: Resource
    meeting_field: str

    def calls_of(self, store: Store, owner: str, meeting_sid: str) -> list[dict[str, Any]]:
        value: Any = int(meeting_sid) if self.meeting.sid_kind == "int" else meeting_sid
        column = Store.column(self.meeting_field)
        return store.find(self.call.collection, f"{column}=?", [value], owner=owner)

    def end_call(self, ctx: Ctx, call: Mapping[str, Any]) -> None:
        store = ctx.world.store
        store.delete(self.call.collection, str(call[self.call.sid_field]))
        meeting_sid = str(call[self.meeting_field])
        if assumptions.CONFERENCE_MEETING_ENDS_WITH_LAST_CALL and not self.calls_of(
            store, ctx.owner, meeting_sid
        ):
            store.delete(self.meeting.collection, meeting_sid)

    def end_meeting(self, ctx: Ctx, params: Mapping[str, str], _body: Any) -> None:
        store = ctx.world.store
        with store.transaction():
            meeting = load(ctx, self.meeting, params["sid"])
            sid = str(meeting[self.meeting.sid_field])
            for call in self.calls_of(store, ctx.owner, sid):
                store.delete(self.call.collection, str(call[self.call.sid_field]))
            store.delete(self.meeting.collection, sid)

    def with_participants(self, ctx: Ctx, meeting: dict[str, Any]) -> dict[str, Any]:
        sid = str(meeting[self.meeting.sid_field])
        return {**meeting, "participants": len(self.calls_of(ctx.world.store, ctx.owner, sid))}


# --- Conference v2 --------------------------------------------------------------------------------

V2_CALL = Resource(
    name="conference_v2_call",
    api="conference_v2",
    path="/calls",
    sid_field="call_sid",
    collection="conf2_calls",
    indexed=("meeting_sid",),
    owner="account",
    operations=_READ,  # PATCH is mounted by hand: it may hang the call up
    fields=_fields(
        assumptions.CONFERENCE_V2_CALL_FIELDS,
        assumptions.CONFERENCE_V2_CALL_WRITABLE,
        {"muted": "bool", "on_hold": "bool"},
        {"state": assumptions.CONFERENCE_V2_CALL_STATES},
    ),
)

V2_MEETING = Resource(
    name="conference_v2_meeting",
    api="conference_v2",
    path="/meetings",
    sid_field="meeting_sid",
    collection="conf2_meetings",
    indexed=("meeting_room_sid",),
    owner="account",
    operations=_READ,
    fields=_fields(
        assumptions.CONFERENCE_V2_MEETING_FIELDS,
        assumptions.CONFERENCE_V2_MEETING_WRITABLE,
        {"locked": "bool", "participants": "int", "properties": "object"},
    ),
    hooks=Hooks(render=lambda ctx, meeting: _v2_participants(ctx, meeting)),
)

V2 = Live(V2_CALL, V2_MEETING, "meeting_sid")


def _v2_participants(ctx: Ctx, meeting: dict[str, Any]) -> dict[str, Any]:
    return V2.with_participants(ctx, meeting)


def _patch_v2_call(ctx: Ctx, params: Mapping[str, str], body: Any) -> dict[str, Any]:
    with ctx.world.store.transaction():
        call = update_object(ctx, V2_CALL, params["sid"], require_object(body), replace=False)
        if call["state"] == assumptions.CONFERENCE_V2_CALL_END_STATE:
            V2.end_call(ctx, call)
    return call


def mount_v2(api: Api, world: World) -> None:
    for resource in (V2_CALL, V2_MEETING):
        api.add_resource(world, resource)
    api.add(world, "/calls/{sid}", ["PATCH"], _patch_v2_call)
    api.add(
        world,
        "/meetings/{sid}",
        ["PATCH"],
        lambda c, p, b: update_object(c, V2_MEETING, p["sid"], require_object(b), replace=False),
    )
    api.add(world, "/meetings/{sid}", ["DELETE"], V2.end_meeting)


# --- Conference v1 (camelCase, integer ids, PUT is a partial update) ------------------------------

V1_CALL = Resource(
    name="conference_v1_call",
    api="conference_v1",
    path="/calls",
    sid_field="id",
    collection="conf1_calls",
    indexed=("meetingNumber",),
    owner="account",
    sid_kind="int",
    operations=_READ,
    fields=_fields(
        assumptions.CONFERENCE_V1_CALL_FIELDS,
        assumptions.CONFERENCE_V1_CALL_WRITABLE,
        {
            "id": "int",
            "joined": "int",
            "meetingNumber": "int",
            "muted": "bool",
            "onHold": "bool",
            "role": "int",
        },
    ),
)

V1_MEETING = Resource(
    name="conference_v1_meeting",
    api="conference_v1",
    path="/meetings",
    sid_field="meetingNumber",
    collection="conf1_meetings",
    owner="account",
    sid_kind="int",
    operations=_READ,
    fields=_fields(
        assumptions.CONFERENCE_V1_MEETING_FIELDS,
        (),
        {"attributes": "array", "meetingNumber": "int", "participants": "int", "started": "int"},
    ),
    hooks=Hooks(render=lambda ctx, meeting: _v1_participants(ctx, meeting)),
)

#: A meeting's attribute: lives in its meeting's `attributes`; only `value` changes.
V1_ATTRIBUTE = Resource(
    name="conference_v1_meeting_attribute",
    api="conference_v1",
    path="/meetings/{sid}/attributes",
    sid_field="name",
    collection="conf1_meetings",
    operations=frozenset(),
    fields=(
        ro("description"),
        ro("enumValues", "array"),
        ro("group", "int"),
        ro("name"),
        ro("type", "int"),
        rw("value", nullable=False),
    ),
)

V1 = Live(V1_CALL, V1_MEETING, "meetingNumber")


def _v1_participants(ctx: Ctx, meeting: dict[str, Any]) -> dict[str, Any]:
    return V1.with_participants(ctx, meeting)


def _put_v1_call(ctx: Ctx, params: Mapping[str, str], body: Any) -> dict[str, Any]:
    return update_object(ctx, V1_CALL, params["sid"], require_object(body), replace=False)


def _delete_v1_call(ctx: Ctx, params: Mapping[str, str], _body: Any) -> None:
    with ctx.world.store.transaction():
        V1.end_call(ctx, load(ctx, V1_CALL, params["sid"]))


def _attributes(ctx: Ctx, params: Mapping[str, str], _body: Any) -> dict[str, Any]:
    meeting = load(ctx, V1_MEETING, params["sid"])
    return list_from_objects(ctx, V1_ATTRIBUTE, list(meeting["attributes"]))


def _put_attribute(ctx: Ctx, params: Mapping[str, str], body: Any) -> dict[str, Any]:
    store = ctx.world.store
    with store.transaction():
        meeting = load(ctx, V1_MEETING, params["sid"])
        attributes: list[dict[str, Any]] = list(meeting["attributes"])
        index = next((i for i, a in enumerate(attributes) if a["name"] == params["name"]), None)
        if index is None:
            raise not_found(V1_ATTRIBUTE.name, params["name"])
        updated = validate_update(
            V1_ATTRIBUTE, attributes[index], require_object(body), replace=False
        )
        allowed = updated["enumValues"]
        if allowed and updated["value"] not in allowed:
            raise ErrorAnswer(
                assumptions.CONFERENCE_V1_ATTRIBUTE_VALUE_STATUS,
                assumptions.MESSAGE_BY_STATUS[422],
                [FieldError("value", "must be one of " + ", ".join(map(str, allowed)))],
            )
        attributes[index] = updated
        store.replace(V1_MEETING.collection, params["sid"], {**meeting, "attributes": attributes})
    return render(ctx, V1_ATTRIBUTE, updated)


def mount_v1(api: Api, world: World) -> None:
    routes: tuple[tuple[str, str, Handler], ...] = (
        ("/calls/{sid}", "PUT", _put_v1_call),
        ("/calls/{sid}", "DELETE", _delete_v1_call),
        ("/meetings/{sid}", "DELETE", V1.end_meeting),
        ("/meetings/{sid}/attributes", "GET", _attributes),
        ("/meetings/{sid}/attributes/{name}", "PUT", _put_attribute),
    )
    for resource in (V1_CALL, V1_MEETING):
        api.add_resource(world, resource)
    for path, method, operation in routes:
        api.add(world, path, [method], operation)


RESOURCES_V2 = (V2_CALL, V2_MEETING)
RESOURCES_V1 = (V1_CALL, V1_MEETING)
