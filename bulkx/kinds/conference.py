"""Conference kinds: v2 (`/conference/v2`) and the legacy v1 (`/conference/v1`, camelCase).

Each is reached with the named conference endpoint's credentials (the `endpoint` field), and a
room's access codes are plan columns (`host_code`, `participant_code`, `listener_code`), unique
across the endpoint's rooms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkx.kinds.model import (
    ALL_OPERATIONS,
    UPDATE_ONLY,
    Confirmation,
    Creation,
    Kind,
    PlanField,
    ensure_field,
)

F = PlanField

ROLES = ("host", "participant", "listener")
CODE_FIELDS = tuple(f"{role}_code" for role in ROLES)


def _endpoint(api_type: str) -> PlanField:
    return F(
        "endpoint",
        api=None,
        required=True,
        reference="endpoint",
        doc=f"the {api_type} endpoint whose account holds it",
    )


def _code_fields() -> tuple[PlanField, ...]:
    return tuple(F(name, "digits") for name in CODE_FIELDS)


def _codes_from(values: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """(role, code) pairs the plan gives, or None when it names no code column at all."""
    if not any(name in values for name in CODE_FIELDS):
        return None
    return [
        (role, str(values[f"{role}_code"]))
        for role in ROLES
        if values.get(f"{role}_code") not in (None, "")
    ]


def _first_code_per_role(pairs: list[tuple[Any, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role, code in pairs:
        out.setdefault(f"{role}_code", code)
    return {name: out.get(name) for name in CODE_FIELDS}


# --- Conference v2 ---------------------------------------------------------------------------


def _room_to_api(values: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {k: values[k] for k in ("name",) if k in values}
    if "did_group" in values:
        body["did_group_sid"] = values["did_group"]
    codes = _codes_from(values)
    if codes is not None:
        body["access_codes"] = [{"access_code": code, "role": role} for role, code in codes]
    return body


def _room_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    pairs = [(c.get("role"), c.get("access_code")) for c in obj.get("access_codes") or []]
    return {
        "name": obj.get("name"),
        "did_group": obj.get("did_group_sid"),
        **_first_code_per_role(pairs),
    }


CONFERENCE_V2_CALL_FLOW = Kind(
    name="conference_v2.call_flow",
    api="conference_v2",
    path="/call_flows",
    sid_field="call_flow_sid",
    key="name",
    operations=frozenset(),
    creation=Creation(
        missing_hint="every account has the call flows secured, open, direct_host and "
        "direct_participant; name one of those"
    ),
    doc="A call flow of a conference_v2 account (read only: each account has its own).",
    fields=(_endpoint("conference_v2"), F("name", required=True)),
)

CONFERENCE_V2_ACCOUNT = Kind(
    name="conference_v2.account",
    api="conference_v2",
    path="/accounts",
    sid_field="account_sid",
    key="endpoint",
    singleton=True,
    operations=UPDATE_ONLY,
    doc="The account of a conference_v2 endpoint: its name and default call flow.",
    fields=(
        _endpoint("conference_v2"),
        F("name", max_length=255),
        F("call_flow", api="call_flow_sid", reference="conference_v2.call_flow"),
    ),
)

CONFERENCE_V2_DID_GROUP = Kind(
    name="conference_v2.did_group",
    api="conference_v2",
    path="/did_groups",
    sid_field="did_group_sid",
    key="name",
    operations=ALL_OPERATIONS,
    doc="A DID group of a conference_v2 endpoint.",
    fields=(_endpoint("conference_v2"), F("name", required=True), ensure_field()),
)

CONFERENCE_V2_MEETING_ROOM = Kind(
    name="conference_v2.meeting_room",
    api="conference_v2",
    path="/meeting_rooms",
    sid_field="meeting_room_sid",
    key="name",
    unique_across=CODE_FIELDS,
    operations=ALL_OPERATIONS,
    doc="A meeting room with its access codes (unique across the endpoint's rooms).",
    to_api_hook=_room_to_api,
    from_api_hook=_room_from_api,
    fields=(
        _endpoint("conference_v2"),
        F("name", required=True),
        ensure_field(),
        F("did_group", api="did_group_sid", reference="conference_v2.did_group"),
        *_code_fields(),
    ),
)

CONFERENCE_V2_DID = Kind(
    name="conference_v2.did",
    api="conference_v2",
    path="/dids",
    sid_field="did_sid",
    key="phonenumber",
    singleton=True,
    creation=Creation(same_sid_as="did"),
    operations=UPDATE_ONLY,
    doc="A Core DID routed to a conference_v2 endpoint: its DID group.",
    fields=(
        _endpoint("conference_v2"),
        F("phonenumber", "e164", required=True),
        F("did_group", api="did_group_sid", reference="conference_v2.did_group"),
    ),
)

CONFERENCE_V2_CALL = Kind(
    name="conference_v2.call",
    api="conference_v2",
    path="/calls",
    sid_field="call_sid",
    key="call_sid",
    operations=frozenset({"update", "delete"}),
    # Changing a live call (muting it, hanging it up) acts on a meeting under way.
    confirmation=Confirmation("calls", updates=True),
    # The API has no DELETE for a call: a PATCH of its state hangs it up.
    release_body={"state": "disconnected"},
    creation=Creation(
        missing_hint="a call exists only while its caller is on the line: this one has ended"
        " (`bulkx export conference_v2.call --endpoint NAME` lists the live ones)"
    ),
    doc="A live call in a meeting of a conference_v2 endpoint (`bulkx export` lists them): mute"
    " or hold it, or hang it up with ensure: absent. Any change needs --allow-calls (hanging up,"
    " like every delete, also --allow-release).",
    fields=(
        _endpoint("conference_v2"),
        F("call_sid", required=True, doc="the live call's sid"),
        F(
            "ensure",
            "enum",
            api=None,
            choices=("present", "absent"),
            default="present",
            doc="absent: hang the call up (needs --allow-calls and --allow-release)",
        ),
        F(
            "meeting_room",
            api="meeting_room_sid",
            reference="conference_v2.meeting_room",
            create_only=True,
            doc="the room whose meeting the call is in (shown, not changed)",
        ),
        F(
            "caller",
            "e164",
            api="number_src",
            create_only=True,
            doc="the caller's number (shown, not changed)",
        ),
        F("role", "enum", choices=ROLES, create_only=True, doc="shown, not changed"),
        F("muted", "bool"),
        F("on_hold", "bool"),
    ),
)

# --- Conference v1 (camelCase, integer ids, PUT is a partial update) -------------------------

#: A v1 meeting key's role: 1 host, 2 participant, 3 listener.
V1_ROLE_NUMBERS = {role: number for number, role in enumerate(ROLES, start=1)}


def _v1_room_to_api(values: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {k: values[k] for k in ("description",) if k in values}
    if "did_group" in values:
        body["primaryDidGroupId"] = values["did_group"]
    codes = _codes_from(values)
    if codes is not None:
        # Keys sent without an id replace the room's keychain: the plan states it whole.
        body["keychain"] = [
            {"accessCode": code, "role": V1_ROLE_NUMBERS[role]} for role, code in codes
        ]
    return body


def _v1_room_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    roles = {number: role for role, number in V1_ROLE_NUMBERS.items()}
    pairs = [(roles.get(k.get("role")), k.get("accessCode")) for k in obj.get("keychain") or []]
    return {
        "description": obj.get("description"),
        "subscriber": obj.get("subscriberSid"),
        "did_group": obj.get("primaryDidGroupId"),
        **_first_code_per_role(pairs),
    }


CONFERENCE_SUBSCRIBER = Kind(
    name="conference.subscriber",
    api="conference",
    path="/subscribers",
    sid_field="sid",
    key="email",
    operations=ALL_OPERATIONS,
    update_method="PUT",
    doc="A subscriber of a conference (v1) endpoint: a person who holds meeting rooms.",
    fields=(
        _endpoint("conference"),
        F("email", required=True, max_length=255),
        ensure_field(),
        F("name", max_length=255),
        F("phonenumber", "e164", api="phoneNumber"),
    ),
)

CONFERENCE_DID_GROUP = Kind(
    name="conference.did_group",
    api="conference",
    path="/didGroups",
    sid_field="id",
    key="name",
    numeric_sid=True,
    operations=ALL_OPERATIONS,
    update_method="PUT",
    doc="A DID group of a conference (v1) endpoint, with its call flow.",
    fields=(
        _endpoint("conference"),
        F("name", required=True, max_length=255),
        ensure_field(),
        F("call_flow_id", "int", api="callFlowId", required=True),
        F("description"),
    ),
)

CONFERENCE_MEETING_ROOM = Kind(
    name="conference.meeting_room",
    api="conference",
    path="/meetingRooms",
    creation=Creation(path="/subscribers/{subscriber}/meetingRooms"),
    sid_field="meetingNumber",
    key="description",
    numeric_sid=True,
    operations=ALL_OPERATIONS,
    update_method="PUT",
    unique_across=CODE_FIELDS,
    doc="A meeting room of a conference (v1) subscriber, named by its description, with its"
    " access codes (unique across the endpoint's rooms).",
    to_api_hook=_v1_room_to_api,
    from_api_hook=_v1_room_from_api,
    fields=(
        _endpoint("conference"),
        F("description", required=True),
        ensure_field(),
        F(
            "subscriber",
            api="subscriberSid",
            required=True,
            create_only=True,
            reference="conference.subscriber",
            doc="the subscriber who holds the room",
        ),
        F("did_group", api="primaryDidGroupId", required=True, reference="conference.did_group"),
        *_code_fields(),
    ),
)

CONFERENCE_DID = Kind(
    name="conference.did",
    api="conference",
    path="/dids",
    sid_field="id",
    key="phonenumber",
    key_api="phoneNumber",
    numeric_sid=True,
    operations=ALL_OPERATIONS,
    update_method="PUT",
    doc="A phone number of a conference (v1) endpoint, in one of its DID groups.",
    fields=(
        _endpoint("conference"),
        F("phonenumber", "e164", api="phoneNumber", required=True),
        ensure_field(),
        F("did_group", api="didGroupId", reference="conference.did_group"),
        F("country_code", api="countryCode", max_length=2, doc="ISO alpha-2, e.g. US"),
        F("description"),
    ),
)

# fmt: off
KINDS = (
    CONFERENCE_V2_CALL_FLOW, CONFERENCE_V2_ACCOUNT, CONFERENCE_V2_DID_GROUP,
    CONFERENCE_V2_MEETING_ROOM, CONFERENCE_V2_DID, CONFERENCE_V2_CALL,
    CONFERENCE_SUBSCRIBER, CONFERENCE_DID_GROUP, CONFERENCE_MEETING_ROOM, CONFERENCE_DID,
)
# fmt: on
