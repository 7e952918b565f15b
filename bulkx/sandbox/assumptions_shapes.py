"""Assumptions about object shapes, read against the documented request/response samples.

Part of `assumptions` (which re-exports every name here): the endpoint object, the system
gateway, list envelopes, the partner views, Conference v1 call flows and files, and the
differences between a documented sample and the sandbox's answer that are kept on purpose
(tests/sandbox/documented_samples compares each sample against these). Each comment names the
docs page it rests on.
"""

from __future__ import annotations

from typing import Final

# --- errors (shapes) ------------------------------------------------------------------------
#: The documented 404 item message
#: (https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/enable).
NOT_FOUND_ITEM_MESSAGE: Final = "cannot find item by sid"
#: That sample's `reference_sid` is null; the sandbox names the sid it could not find there, which
#: tells a client which of several sids in a request was wrong. A client must not rely on it.
NOT_FOUND_NAMES_SID: Final = True

# --- endpoints ------------------------------------------------------------------------------
#: Every documented field of an Endpoint Address, with the defaults the create and list samples
#: answer for an address sent as `{"ip": "1.1.2.13", "port": "5060"}`
#: (https://docs.carrierx.com/voice/core-api/endpoints/endpoint/create, .../endpoint/get). A port
#: sent as a string of digits is stored as an integer, as that sample shows. `ip` is required.
ENDPOINT_ADDRESS_DEFAULTS: Final = {
    "direction": "any", "dst_port": 5060, "ip": None, "location_sid": None, "port": 5060,
    "priority": 0, "sip_password": None, "sip_username": None, "srtp": False, "transport": "udp",
}  # fmt: skip
#: `out_sip_password` is returned like `out_sip_username` (the samples show both, null); like every
#: password it reads REDACTED in the admin `/_sandbox/state`.
ENDPOINT_OUT_SIP_PASSWORD_SHOWN: Final = True
#: The create samples also show `"auth_required": true`; the object table and the Get Endpoints
#: sample have no such field, so the sandbox leaves it out.
ENDPOINT_AUTH_REQUIRED_SHOWN: Final = False
#: Lists that answer `limit: 1000` when sent without one, as their documented samples do: Get
#: Endpoints (https://docs.carrierx.com/voice/core-api/endpoints/endpoint/get), Get Containers
#: (.../storage/container/get) and Get Domains (.../shortener/domain/get). Every other list keeps
#: LIST_LIMIT_DEFAULT (trunks: TRUNK_LIST_LIMIT_DEFAULT).
LIST_LIMIT_DEFAULT_BY_PATH: Final = {
    "/endpoints": 1000,
    "/storage/containers": 1000,
    "/shortener/domains": 1000,
}
#: A third-party endpoint gets a `voip_token` (a UUID, as the create sample's) when it is created;
#: hosted app endpoints have none (null, as the conference sample).
ENDPOINT_VOIP_TOKEN_TYPES: Final = ("third_party",)
#: Hosted app endpoints carry `properties.account_sid` (their app account), `api_url` and
#: `container_sid` besides `login` and `password` (the conference create sample). `api_url` is the
#: sandbox's own mount for the endpoint's API, at the scheme, host and port the request came in
#: on (the docs' value is CarrierX's host); types with no API of their own get null.
#: `container_sid` is writable and starts null (the sample's string "null" is read as null).
APP_ENDPOINT_API_PATHS: Final = {
    "conference": "/conference/v1",
    "conference_v2": "/conference/v2",
    "flexml": "/flexml/v1",
    "mediator": "/mediator/v1",
}
APP_ENDPOINT_SERVER_PROPERTIES: Final = ("account_sid", "api_url", "login", "password")
APP_ENDPOINT_CONTAINER_SID_DEFAULT: Final = None

# --- system gateway -------------------------------------------------------------------------
#: "Each partner account is provided with a system_gateway endpoint ... [it] cannot be modified"
#: (https://docs.carrierx.com/voice/core-api/endpoints). Every partner has one, made with the
#: partner (the sandbox's own partner when an app is built over its world; an older world's
#: sub-partner on its first endpoint read). Its name and address are the old docs' sample
#: (https://www.carrierx.com/documentation/core-api), with the address defaults above. Its sid is
#: derived from the partner's, and seeded CDRs name it as the outside leg of a call.
SYSTEM_GATEWAY_NAME: Final = "System Gateway"
SYSTEM_GATEWAY_IP: Final = "10.1.10.69"
#: PATCH, PUT or DELETE of it: the docs give no status; 403 says "not yours to change" and is
#: not retried. Creating another endpoint of type system_gateway is a 422 naming `type`. A
#: partner's deletion takes its gateway with it.
SYSTEM_GATEWAY_CHANGE_STATUS: Final = 403

# --- lists (shapes) -------------------------------------------------------------------------
#: Lists whose documented samples answer `"total": null`: the app call records
#: (https://docs.carrierx.com/voice/core-api/apps/mediator-cdr/get,
#: https://docs.carrierx.com/voice/core-api/apps/conference-cdr/get) and the OAuth tokens
#: (https://docs.carrierx.com/voice/core-api/oauth/oauth-token/get). Every other list counts.
LISTS_WITHOUT_TOTAL: Final = ("/app/conference/calls", "/app/mediator/calls", "/oauth/tokens")
#: A Mediator call record's `type` and `version`, as the Get Mediator CDRs sample.
MEDIATOR_CDR_TYPE: Final = "mediator"
MEDIATOR_CDR_VERSION: Final = 2

# --- partners (shapes) ----------------------------------------------------------------------
#: `GET /oauth/whoami` and the `partner` object `with_related=true` adds answer the documented
#: Partner object, as `GET /partners/{sid}` does
#: (https://docs.carrierx.com/voice/core-api/partners/partner/get-by-sid): every documented field,
#: nothing internal. The docs give no sample of either.
PARTNER_VIEWS_ARE_THE_PARTNER_OBJECT: Final = True

# --- conference v1 (shapes) -----------------------------------------------------------------
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

# --- samples answered otherwise ---------------------------------------------------------------
#: The enable and get samples of a rented DID's messaging show no `p2p_nnid`; the enablement
#: object and the external-DID samples do
#: (https://docs.carrierx.com/voice/core-api/phone-numbers/external-did-messaging-enablement/enable):
#: the sandbox always answers it (null unless set).
DID_MESSAGING_SHOWS_P2P_NNID: Final = True
#: A token's `client_id` is the one the token request sends (null without one); the token samples
#: (https://docs.carrierx.com/voice/core-api/oauth/oauth-token/get) show a registered client's.
OAUTH_TOKEN_CLIENT_ID_FROM_REQUEST: Final = True
#: Refresh tokens do not expire (`date_expiration_refresh_token` null): no refresh grant is served
#: (OAUTH_GRANT_TYPES). The token samples show a date.
OAUTH_REFRESH_TOKEN_EXPIRES: Final = False
#: A v1 DID group answers its DIDs in `dids` (the DID Group object lists it, read only); the
#: create sample (https://docs.carrierx.com/conference/conf-v1-api/did-groups/did-group/create),
#: made before any DID, has no `dids` key.
CONFERENCE_V1_DID_GROUP_SHOWS_DIDS: Final = True
#: Conference v1 integer fields sent as strings of digits are read as those integers: the DID
#: group create sample sends `"callFlowId": "1"` and answers `1`. Any other string is a 422.
CONFERENCE_V1_DIGIT_STRINGS_ARE_INTS: Final = True

# --- conference v2 (shapes) -----------------------------------------------------------------
#: The base properties of every v2 call flow: the documented `secured` flow's
#: (https://docs.carrierx.com/conference/conf-v2-api/call-flows/call-flow/get-by-sid). The docs show
#: no other flow's; the sandbox gives them the same (it runs no calls, so nothing differs).
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
}  # fmt: skip

# --- mediator (shapes) ----------------------------------------------------------------------
#: A dialout starts with `hide_origination_did: "true"` among its attributes unless sent: the
#: create sample answers it for a body that sent only `ringback`
#: (https://docs.carrierx.com/mediator/mediator-api/dialouts/dialout/create), and the Mediator CDR
#: sample of a dialout carries it too.
MEDIATOR_DIALOUT_DEFAULT_ATTRIBUTES: Final = {"hide_origination_did": "true"}
#: A binding's `wait_origination_did_ttl` may be -1 (never), as its `maximum_ttl` may: the Get
#: Bindings sample shows both at -1 (https://docs.carrierx.com/mediator/mediator-api/bindings/binding/get).
MEDIATOR_WAIT_TTL_NEVER_EXPIRES: Final = -1

# --- trunk groups (shapes) ------------------------------------------------------------------
#: A trunk group answers `external_handlers` (an array, empty by default), a field of the Trunk
#: Group object (https://docs.carrierx.com/voice/core-api/trunk-groups/trunk-group); the create
#: sample (.../trunk-group/create) was written before it and has none.
TRUNK_GROUP_SHOWS_EXTERNAL_HANDLERS: Final = True
#: An access control rule answers the documented fields only: no `partner_sid`, as its create and
#: update samples (https://docs.carrierx.com/voice/core-api/access-control/access-control-rule/create)
#: show it. Its owner is kept with the row.
ACCESS_CONTROL_RULE_FIELDS_AS_DOCUMENTED: Final = True
#: A v1 meeting key's `meetingRoomId` is in the answers to POST and PUT, as the Meeting Key object
#: says (https://docs.carrierx.com/conference/conf-v1-api/subscribers/meeting-key); the update
#: sample (.../meeting-key/update) shows a PUT answer without it.
CONFERENCE_V1_KEY_ROOM_ID_ON_PUT: Final = True
#: Endpoints answer every field of the current Endpoint object (`cps_limit`, `out_sip_username`,
#: `out_sip_password`, each address with ENDPOINT_ADDRESS_DEFAULTS); the older single-page docs'
#: sample of the system gateway (https://www.carrierx.com/documentation/core-api) predates them.
ENDPOINT_FIELDS_OF_CURRENT_DOCS: Final = True

# --- partners (samples answered otherwise) --------------------------------------------------
#: The Create Partner sample (https://docs.carrierx.com/voice/core-api/partners/partner/create)
#: answers values its own request contradicts: `charge_at` and `prepay_amount` null though sent,
#: a `state` of "" not sent, a starting balance of "5" and a spending_limit of "100". The sandbox
#: keeps what is sent, starts a sub-partner at SUB_PARTNER_BALANCE with the Get Partner sample's
#: spending_limit "0", and leaves `state` null.
PARTNER_CREATE_KEEPS_WHAT_IS_SENT: Final = True
