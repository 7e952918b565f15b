"""The Conference v2 API mount (`/conference/v2`): HTTP Basic with a conference_v2 endpoint's login.

- The account is the endpoint's, made on its first authenticated request (with the four call flows).
- Meeting rooms and DID groups are plain CRUD per account; access codes are unique per account.
- DIDs are a view of the Core DIDs routed to the endpoint (through a trunk group with a trunk whose
  endpoint_sid is the endpoint); only their v2 settings are stored here.

The access-code and reference helpers, shared with the v1 mount, are in `conference_access_codes`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx, Principal
from bulkx.sandbox.crud import load, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError
from bulkx.sandbox.http import Api
from bulkx.sandbox.resources import live_meetings
from bulkx.sandbox.resources.app_views import account_endpoint, sync_did_view, view_update
from bulkx.sandbox.resources.conference_access_codes import (
    ACCESS_CODE,
    claim_access_codes,
    dtmf,
    must_exist,
    release_access_codes,
)
from bulkx.sandbox.resources.routing import ENDPOINT
from bulkx.sandbox.schema import Hooks, Resource, each_object, hidden, ro, rw
from bulkx.sandbox.world import World, now_iso

PREFIX = "/conference/v2"
API = "conference_v2"
DEFAULT_NAME = assumptions.CONFERENCE_DEFAULT_NAME

# --- call flows (seeded per account) and the account ----------------------------------------------

CALL_FLOW = Resource(
    name="conference_v2_call_flow",
    api=API,
    path="/call_flows",
    sid_field="call_flow_sid",
    collection="conf2_call_flows",
    indexed=("name",),
    owner="account",
    operations=frozenset({"list", "get"}),
    # The documented fields: assumptions.CONFERENCE_V2_CALL_FLOW_FIELDS.
    fields=tuple(
        ro(name, "object" if name == "properties" else "str")
        for name in assumptions.CONFERENCE_V2_CALL_FLOW_FIELDS
    ),
    # A flow stored by an older sandbox (with its account_sid, no properties) reads as documented.
    hooks=Hooks(
        render=lambda _ctx, out: {
            "call_flow_sid": out["call_flow_sid"],
            "name": out["name"],
            "properties": out.get("properties")
            or dict(assumptions.CONFERENCE_V2_CALL_FLOW_PROPERTIES),
        }
    ),
)


def call_flow_sid(account_sid: str, name: str) -> str:
    """Stable per account and flow name."""
    return str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-sandbox/{API}/{account_sid}/call_flows/{name}")
    )


def _update_account(ctx: Ctx, current: dict[str, Any], updated: dict[str, Any]) -> None:
    must_exist(ctx, updated, "call_flow_sid", CALL_FLOW, "call flow")
    password = updated.pop("password", None)
    if password is not None and assumptions.CONFERENCE_V2_ACCOUNT_PASSWORD_CHANGES_ENDPOINT:
        store = ctx.world.store
        endpoint = account_endpoint(ctx.world, ctx.owner)
        properties = {**endpoint["properties"], "password": password}
        store.replace(
            ENDPOINT.collection,
            str(endpoint["endpoint_sid"]),
            {**endpoint, "properties": properties},
        )


ACCOUNT = Resource(
    name="conference_v2_account",
    api=API,
    path="/accounts",
    sid_field="account_sid",
    collection="conf2_accounts",
    owner="account",
    operations=frozenset({"list", "get", "update"}),
    fields=(
        ro("account_sid"),
        rw("call_flow_sid"),
        ro("date_created"),
        ro("login"),
        rw("name", default=DEFAULT_NAME, nullable=False, max_length=255),
        hidden("password", nullable=False, check=lambda v: None if v else "must not be empty"),
        rw("properties", "object", {}, nullable=False),
    ),
    hooks=Hooks(before_update=_update_account),
)


def ensure_account(world: World, principal: Principal) -> None:
    """Make the account (and its call flows) on the endpoint's first authenticated request."""
    store, sid = world.store, principal.account_sid
    if sid is None or store.get(ACCOUNT.collection, sid) is not None:
        return
    with store.transaction():
        if store.get(ACCOUNT.collection, sid) is not None:
            return
        endpoint = account_endpoint(world, sid)
        for name in assumptions.CONFERENCE_V2_CALL_FLOWS:
            flow: dict[str, Any] = {
                "call_flow_sid": call_flow_sid(sid, name),
                "name": name,
                "properties": dict(assumptions.CONFERENCE_V2_CALL_FLOW_PROPERTIES),
            }
            store.insert(CALL_FLOW.collection, flow["call_flow_sid"], sid, flow)
        account = {
            "account_sid": sid,
            "call_flow_sid": call_flow_sid(
                sid, assumptions.CONFERENCE_V2_ACCOUNT_DEFAULT_CALL_FLOW
            ),
            "date_created": now_iso(),
            "login": endpoint["properties"]["login"],
            "name": endpoint["name"]
            if assumptions.CONFERENCE_V2_ACCOUNT_NAME_FROM_ENDPOINT
            else DEFAULT_NAME,
            "properties": {},
            "_endpoint_sid": endpoint["endpoint_sid"],
        }
        store.insert(ACCOUNT.collection, sid, sid, account)


# --- DID groups -----------------------------------------------------------------------------------


def _detach_group(ctx: Ctx, group: dict[str, Any]) -> None:
    store = ctx.world.store
    sid = group["did_group_sid"]
    for resource in (MEETING_ROOM, DID):
        users = store.find(resource.collection, "c_did_group_sid=?", [sid], owner=ctx.owner)
        if users and not assumptions.CONFERENCE_V2_DID_GROUP_DELETE_DETACHES:
            raise ErrorAnswer(
                409,
                "the DID group is in use",
                [FieldError("did_group_sid", "used", str(users[0][resource.sid_field]))],
            )
        for obj in users:
            store.replace(
                resource.collection, str(obj[resource.sid_field]), {**obj, "did_group_sid": None}
            )


DID_GROUP = Resource(
    name="conference_v2_did_group",
    api=API,
    path="/did_groups",
    sid_field="did_group_sid",
    collection="conf2_did_groups",
    indexed=("name",),
    owner="account",
    fields=(
        ro("account_sid"),
        rw("call_flow_sid"),
        ro("did_group_sid"),
        rw("name", default=DEFAULT_NAME, nullable=False, max_length=255),
        rw("properties", "object", {}, nullable=False),
    ),
    hooks=Hooks(
        before_create=lambda ctx, obj: must_exist(
            ctx, obj, "call_flow_sid", CALL_FLOW, "call flow"
        ),
        before_update=lambda ctx, _old, new: must_exist(
            ctx, new, "call_flow_sid", CALL_FLOW, "call flow"
        ),
        before_delete=_detach_group,
    ),
)

# --- meeting rooms --------------------------------------------------------------------------------

ROLES = ("host", "participant", "listener")
_ACCESS_CODE_ITEM = {
    "access_code": rw("access_code", nullable=False, check=dtmf),
    "role": rw("role", nullable=False, choices=ROLES),
}
_each_access_code = each_object(_ACCESS_CODE_ITEM)


def _check_access_codes(value: Any) -> str | None:
    problem = _each_access_code(value)
    for index, item in enumerate(value if problem is None else ()):
        missing = [key for key in _ACCESS_CODE_ITEM if key not in item]
        if missing:
            return f"item {index}: {' and '.join(missing)} required"
    return problem


def _codes(room: Mapping[str, Any]) -> list[str]:
    return [str(item["access_code"]) for item in room.get("access_codes") or []]


def _save_room(ctx: Ctx, room: dict[str, Any], previous: list[str]) -> None:
    must_exist(ctx, room, "did_group_sid", DID_GROUP, "DID group")
    claim_access_codes(ctx, str(room["meeting_room_sid"]), _codes(room), previous, "access_codes")


MEETING_ROOM = Resource(
    name="conference_v2_meeting_room",
    api=API,
    path="/meeting_rooms",
    sid_field="meeting_room_sid",
    collection="conf2_meeting_rooms",
    indexed=("name", "did_group_sid"),
    owner="account",
    fields=(
        rw("access_codes", "array", [], nullable=False, check=_check_access_codes),
        ro("account_sid"),
        rw("did_group_sid"),
        ro("meeting_room_sid"),
        rw("name", default=DEFAULT_NAME, nullable=False, max_length=255),
        rw("properties", "object", {}, nullable=False),
    ),
    hooks=Hooks(
        before_create=lambda ctx, room: _save_room(ctx, room, []),
        before_update=lambda ctx, old, new: _save_room(ctx, new, _codes(old)),
        before_delete=lambda ctx, room: release_access_codes(ctx, _codes(room)),
    ),
)

# --- DIDs: a view of the Core DIDs routed to the endpoint -----------------------------------------


def sync_dids(ctx: Ctx) -> None:
    """Bring the account's DID view up to date with Core routing."""
    sync_did_view(ctx, DID, ACCOUNT)


def _did_references(ctx: Ctx, _current: dict[str, Any], did: dict[str, Any]) -> None:
    must_exist(ctx, did, "did_group_sid", DID_GROUP, "DID group")
    must_exist(ctx, did, "call_flow_sid", CALL_FLOW, "call flow")


DID = Resource(
    name="conference_v2_did",
    api=API,
    path="/dids",
    sid_field="did_sid",
    collection="conf2_dids",
    indexed=("phonenumber", "did_group_sid"),
    owner="account",
    # PATCH/PUT are mounted by hand: they sync the view first.
    operations=frozenset({"list", "get"}),
    fields=(
        ro("account_sid"),
        rw("call_flow_sid"),
        ro("country_code"),
        rw("did_group_sid"),
        ro("did_sid"),
        ro("in_country_format"),
        ro("international_format"),
        ro("phonenumber"),
        rw("properties", "object", {}, nullable=False),
    ),
    hooks=Hooks(before_read=sync_dids, before_update=_did_references),
)


# --- the mount ------------------------------------------------------------------------------------


def _authenticate(world: World, headers: Mapping[str, str]) -> Principal:
    principal = world.authenticate_app(headers, ("conference_v2",))
    ensure_account(world, principal)
    return principal


def build(world: World) -> Api:
    api = Api(API, PREFIX, _authenticate)
    api.add(
        world,
        "/accounts/whoami",
        ["GET"],
        lambda c, _p, _b: render(c, ACCOUNT, load(c, ACCOUNT, c.owner)),
    )
    api.add(world, "/dids/{sid}", ["PATCH"], view_update(DID, ACCOUNT, replace=False))
    api.add(world, "/dids/{sid}", ["PUT"], view_update(DID, ACCOUNT, replace=True))
    for resource in (ACCOUNT, CALL_FLOW, DID_GROUP, MEETING_ROOM, DID):
        api.add_resource(world, resource)
    live_meetings.mount_v2(api, world)
    return api


RESOURCES = (
    ACCESS_CODE,
    ACCOUNT,
    CALL_FLOW,
    DID_GROUP,
    MEETING_ROOM,
    DID,
    *live_meetings.RESOURCES_V2,
)
