"""Assumptions of the sandbox about Conference v1 and v2 (accounts, rooms, DIDs and their groups,
call flows, files), and their live calls and meetings."""

from __future__ import annotations

from typing import Final

# --- conference v2 --------------------------------------------------------------------------------
#: An access code already used by another room of the same endpoint.
ACCESS_CODE_COLLISION_STATUS: Final = 409
#: Conference v2 lists use the Core envelope.
CONFERENCE_V2_ENVELOPE: Final = "core"
#: A conference v2 DID has the sid of the Core DID it mirrors.
CONFERENCE_V2_DID_SID_IS_CORE_SID: Final = True
#: The base properties of every v2 call flow: the documented `secured` flow's
#: (https://docs.carrierx.com/conference/conf-v2-api/call-flows/call-flow/get-by-sid). The docs show
#: no other flow's; the sandbox gives them the same (it runs no calls, so nothing differs).
# fmt: off
CONFERENCE_V2_CALL_FLOW_PROPERTIES: Final = {
    "call_mute_dtmf_binding": "*6", "call_rolepin_dtmf_binding": "99",
    "conference_announceparticipantcount_policy": "hpl", "conference_entrytones_enabled": "on",
    "conference_exittones_enabled": "on", "conference_hold_dtmf_binding": "*3",
    "conference_lock_dtmf_binding": "*7", "conference_moh": "default",
    "conference_moh_enabled": "on", "conference_mute_dtmf_binding": "*5",
    "conference_mute_menu_dtmf_binding": "95", "conference_mute_policy": "l",
    "conference_recording_dtmf_binding": "*9", "conference_recording_enabled": "on",
    "conference_start_how": "first", "conference_start_wait": "360",
    "conference_stop_how": "last", "conference_stop_wait": "180",
    "conference_welcomeprompt": "default", "conference_welcomeprompt_enabled": "on",
    "did_language": "en_US", "did_prompt_serial": "001", "did_welcomeprompt": "default",
}
# fmt: on

# --- conference v1 --------------------------------------------------------------------------------
#: The v1 list envelope was not found; v1 lists use the Core envelope too.
CONFERENCE_V1_ENVELOPE: Final = "core"
#: A room's `didGroupReferences` holds its primary DID group, with state 0, as the create sample
#: answers for a body of only `primaryDidGroupId`
#: (https://docs.carrierx.com/conference/conf-v1-api/subscribers/meeting-room/create); groups sent
#: in `didGroupReferences` are kept after it, and a new primary group is added when it changes.
CONFERENCE_V1_PRIMARY_GROUP_REFERENCED: Final = True
CONFERENCE_V1_DID_GROUP_REFERENCE_STATE: Final = 0
#: Conference v1 answers leave out fields whose value is null: the room and DID create samples
#: (.../subscribers/meeting-room/create, https://docs.carrierx.com/conference/conf-v1-api/dids/did/create)
#: have no `description` where the objects' samples, which set one, do, and the DID group create
#: sample answers `"description": ""` (empty, not null) and `"attributes": []`. Subscribers,
#: DID groups, their DIDs, DIDs, rooms and meeting keys do so; live calls and meetings keep
#: their nulls.
CONFERENCE_V1_OMITS_NULLS: Final = True
#: v1 call flows (`/callFlows`): the object page documents `attributeTemplates`, `id`, `name`,
#: `path` (https://docs.carrierx.com/conference/conf-v1-api/call-flows/call-flow), not which flows
#: exist. The sandbox serves the four flows the Conference docs name, with ids 1-4, and a path
#: "/callflows/<name>". Their attributeTemplates are the meeting attributes the v1 meetings
#: carry (CONFERENCE_V1_MEETING_ATTRIBUTES), as Attribute objects of group 4 (meeting room).
CONFERENCE_V1_CALL_FLOW_NAMES: Final = ("secured", "open", "direct_host", "direct_participant")
#: `POST /subscribers/logout`: the sandbox keeps no sessions, so there is nothing to end; it
#: answers 204 (the docs give neither a body nor a status).
CONFERENCE_V1_LOGOUT_STATUS: Final = 204
#: Media files (`/subscribers/{sid}/files`): the docs list the four methods only. An upload is a
#: `multipart/form-data` body whose file part carries a filename, or a raw body with a
#: `fileName` query argument; uploading a name again replaces the file. A File Descriptor is
#: `{contentType, created (unix ms), name, size}`; the bytes are not kept (no method reads them).
#: `DELETE .../files` removes them all; a name that is not there is a 404.
CONFERENCE_V1_FILE_FIELDS: Final = ("contentType", "created", "name", "size")
CONFERENCE_V1_FILE_UPLOAD_STATUS: Final = 201
CONFERENCE_V1_FILE_MAX_BYTES: Final = 16 * 1024 * 1024
#: A v1 DID group answers its DIDs in `dids` (read only) once it has any; a group with none has no
#: `dids` key, like the other empty values v1 leaves out (CONFERENCE_V1_OMITS_NULLS). That is what
#: the three samples show: the DID Group object's (a group with one DID,
#: https://docs.carrierx.com/conference/conf-v1-api/did-groups/did-group) has it, the create and
#: update samples of a group without DIDs (.../did-group/create, .../did-group/update) do not.
CONFERENCE_V1_DID_GROUP_DIDS_WHEN_ANY: Final = True
#: Conference v1 integer fields sent as strings of digits are read as those integers: the DID
#: group create sample sends `"callFlowId": "1"` and answers `1`. Any other string is a 422.
CONFERENCE_V1_DIGIT_STRINGS_ARE_INTS: Final = True
#: A v1 meeting key's `meetingRoomId` is in the answers to POST and PUT, as the Meeting Key object
#: says (https://docs.carrierx.com/conference/conf-v1-api/subscribers/meeting-key); the update
#: sample (.../meeting-key/update) shows a PUT answer without it.
CONFERENCE_V1_KEY_ROOM_ID_ON_PUT: Final = True

# --- conference -----------------------------------------------------------------------------------
#: What an access code may hold: DTMF digits only (`*` and `#` end or cancel entry on a phone).
CONFERENCE_ACCESS_CODE_PATTERN: Final = r"[0-9]{1,32}"
#: The same access code twice in one room's list (v2 access_codes, v1 keychain).
CONFERENCE_DUPLICATE_ACCESS_CODE_STATUS: Final = 422
#: v1 codes are unique across the account's rooms too (documented for v2 only); the collision
#: answers ACCESS_CODE_COLLISION_STATUS in both versions.
CONFERENCE_V1_ACCESS_CODES_UNIQUE: Final = True
#: Default `name` of v2 accounts, rooms and DID groups (the Core convention).
CONFERENCE_DEFAULT_NAME: Final = "N/A"
#: The v2 account is made on the endpoint's first authenticated request; its name is the
#: endpoint's name at that moment (later renames on either side are not mirrored).
CONFERENCE_V2_ACCOUNT_NAME_FROM_ENDPOINT: Final = True
#: A v2 account `password` update changes the endpoint's properties.password (the login's secret).
CONFERENCE_V2_ACCOUNT_PASSWORD_CHANGES_ENDPOINT: Final = True
#: The call flows every v2 account has (names documented), with the Call Flow object's fields
#: (https://docs.carrierx.com/conference/conf-v2-api/call-flows/call-flow); their base properties
#: are CONFERENCE_V2_CALL_FLOW_PROPERTIES.
CONFERENCE_V2_CALL_FLOWS: Final = ("secured", "open", "direct_host", "direct_participant")
CONFERENCE_V2_CALL_FLOW_FIELDS: Final = ("call_flow_sid", "name", "properties")
#: The account's call_flow_sid starts as this flow; DID groups and DIDs start with null.
CONFERENCE_V2_ACCOUNT_DEFAULT_CALL_FLOW: Final = "secured"
#: Deleting a v2 DID group sets did_group_sid to null on its rooms and DIDs (Core does the same
#: for its DID groups) rather than refusing.
CONFERENCE_V2_DID_GROUP_DELETE_DETACHES: Final = True
#: A Core DID routed away from the endpoint leaves the v2 view, and its v2 settings
#: (properties, call_flow_sid, did_group_sid) are dropped; routing it back starts afresh.
CONFERENCE_V2_DID_SETTINGS_SURVIVE_REROUTE: Final = False
#: A Core DID whose trunk group reaches two conference_v2 endpoints shows in the view of the
#: account that saw it first.
CONFERENCE_V2_SHARED_DID_OWNER: Final = "first"
#: v1 subscribers: the docs give no schema. Assumed fields (sid is a UUID string, since meeting
#: rooms carry a string `subscriberSid`; `created` is unix ms like a meeting room's).
CONFERENCE_V1_SUBSCRIBER_FIELDS: Final = ("created", "email", "name", "phoneNumber", "sid")
#: GET /subscribers/whoami: the endpoint's own subscriber, made on first use, sid = account sid.
CONFERENCE_V1_WHOAMI_SID_IS_ACCOUNT_SID: Final = True
#: Rooms created through top-level /meetingRooms belong to the whoami subscriber; the top-level
#: list shows every room of the endpoint.
CONFERENCE_V1_TOP_LEVEL_ROOM_SUBSCRIBER: Final = "whoami"
#: Deleting a subscriber deletes their meeting rooms (and frees their access codes).
CONFERENCE_V1_SUBSCRIBER_DELETE_CASCADES: Final = True
#: Length of the random access code given to a meeting key sent without one.
CONFERENCE_V1_RANDOM_ACCESS_CODE_DIGITS: Final = 8
#: Deleting a v1 DID group still used as a room's primaryDidGroupId or by a DID.
CONFERENCE_V1_DID_GROUP_IN_USE_STATUS: Final = 409
#: `state` of a new v1 DID group and of a v1 DID: -1, as the DID group create sample
#: (https://docs.carrierx.com/conference/conf-v1-api/did-groups/did-group/create) and the DID
#: sample show.
CONFERENCE_V1_DID_GROUP_STATE: Final = -1
CONFERENCE_V1_DID_STATE: Final = -1
#: v1 DIDs are created through the v1 API; their phoneNumber is not checked against Core
#: routing, but it is unique per endpoint (a second one answers this status).
CONFERENCE_V1_DUPLICATE_DID_STATUS: Final = 409
#: callFlowId is not checked against /callFlows: the Call Flow page says its id "may differ for
#: each user" (https://docs.carrierx.com/conference/conf-v1-api/call-flows/call-flow), so a plan
#: written for one account may name ids another account's flows do not have.
CONFERENCE_V1_CALL_FLOW_ID_CHECKED: Final = False
#: v1 countryCode default (alpha-2).
CONFERENCE_V1_DEFAULT_COUNTRY_CODE: Final = "US"

# --- live meetings --------------------------------------------------------------------------------
#: Live calls and meetings (Conference v2 `/calls`, `/meetings`; v1 `/calls`, `/meetings`): the
#: docs list their methods but no field of either object. These field lists are assumed.
CONFERENCE_V2_CALL_FIELDS: Final = (
    "account_sid",
    "call_sid",
    "date_joined",
    "meeting_room_sid",
    "meeting_sid",
    "muted",
    "number_src",
    "on_hold",
    "role",
    "state",
)
CONFERENCE_V2_MEETING_FIELDS: Final = (
    "account_sid",
    "date_start",
    "locked",
    "meeting_room_sid",
    "meeting_sid",
    "participants",
    "properties",
)
CONFERENCE_V1_CALL_FIELDS: Final = (
    "id",
    "joined",
    "meetingNumber",
    "muted",
    "onHold",
    "phoneNumber",
    "role",
)
CONFERENCE_V1_MEETING_FIELDS: Final = (
    "attributes",
    "meetingNumber",
    "participants",
    "started",
    "subscriberSid",
)
#: What a PATCH (v2) or PUT (v1) of a call may change: its mute and hold state; on v2, which has
#: no DELETE for a call, also its state, and CONFERENCE_V2_CALL_END_STATE hangs the call up.
CONFERENCE_V2_CALL_WRITABLE: Final = ("muted", "on_hold", "state")
CONFERENCE_V1_CALL_WRITABLE: Final = ("muted", "onHold")
CONFERENCE_V2_CALL_STATES: Final = ("connected", "disconnected")
CONFERENCE_V2_CALL_END_STATE: Final = "disconnected"
#: What a PATCH of a v2 meeting may change: whether newcomers are kept out, and its properties.
CONFERENCE_V2_MEETING_WRITABLE: Final = ("locked", "properties")
#: A meeting ends when its last call does (the docs: it exists "as long as the meeting is
#: occurring"); an ended call or meeting is gone at once (GET answers 404).
CONFERENCE_MEETING_ENDS_WITH_LAST_CALL: Final = True
#: A v1 meeting is named by its room's meetingNumber (the paths say so), so a room holds at most
#: one live meeting at a time.
CONFERENCE_V1_ONE_MEETING_PER_ROOM: Final = True
#: A v1 call's role is numbered like a meeting key's: 1 host, 2 participant, 3 listener.
CONFERENCE_V1_CALL_ROLE_NUMBERS: Final = {"host": 1, "participant": 2, "listener": 3}
#: A v1 meeting's attributes (Attribute objects, type 5 = choice, group 4 = meeting room): name ->
#: (initial value, enumValues). PUT .../attributes/{name} sets `value`; another value is refused.
CONFERENCE_V1_MEETING_ATTRIBUTES: Final = {
    "locked": ("false", ("false", "true")),
    "recording": ("false", ("false", "true")),
}
CONFERENCE_V1_MEETING_ATTRIBUTE_TYPE: Final = 5
CONFERENCE_V1_MEETING_ATTRIBUTE_GROUP: Final = 4
CONFERENCE_V1_ATTRIBUTE_VALUE_STATUS: Final = 422
