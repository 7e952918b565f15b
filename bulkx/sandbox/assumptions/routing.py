"""Assumptions of the sandbox about endpoints and the system gateway, trunk groups and trunks,
access control rules and effective ACLs."""

from __future__ import annotations

from typing import Final

# --- endpoints ------------------------------------------------------------------------------------
#: Every documented field of an Endpoint Address, with the defaults the create and list samples
#: answer for an address sent as `{"ip": "1.1.2.13", "port": "5060"}`
#: (https://docs.carrierx.com/voice/core-api/endpoints/endpoint/create, .../endpoint/get). A port
#: sent as a string of digits is stored as an integer, as that sample shows. `ip` is required.
ENDPOINT_ADDRESS_DEFAULTS: Final = {
    "direction": "any",
    "dst_port": 5060,
    "ip": None,
    "location_sid": None,
    "port": 5060,
    "priority": 0,
    "sip_password": None,
    "sip_username": None,
    "srtp": False,
    "transport": "udp",
}
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
#: Endpoints answer every field of the current Endpoint object (`cps_limit`, `out_sip_username`,
#: `out_sip_password`, each address with ENDPOINT_ADDRESS_DEFAULTS); the older single-page docs'
#: sample of the system gateway (https://www.carrierx.com/documentation/core-api) predates them.
ENDPOINT_FIELDS_OF_CURRENT_DOCS: Final = True

# --- system gateway -------------------------------------------------------------------------------
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

# --- app endpoints --------------------------------------------------------------------------------
#: Creating an app endpoint (conference, conference_v2, flexml, mediator) also creates a trunk
#: group whose single trunk points at it, so DIDs can be routed to the app.
APP_ENDPOINT_CREATES_TRUNK_GROUP: Final = True
APP_ENDPOINT_TYPES: Final = (
    "conference",
    "conference_playback",
    "conference_v2",
    "flexml",
    "mediator",
)

# --- routing --------------------------------------------------------------------------------------
#: Trunk `allow_transfer` is a boolean: the trunk object page
#: (https://docs.carrierx.com/voice/core-api/trunk-groups/trunk) types it so, and every sample
#: sends `false`. The newest copy of the page calls it an enum whose list was cut off after
#: "disabled", so no enum can be checked; a string is a 422.
TRUNK_ALLOW_TRANSFER_TYPE: Final = "bool"
#: A trunk's `"endpoint_sid": ""` is no endpoint: the documented trunk group create sample
#: (https://docs.carrierx.com/voice/core-api/trunk-groups/trunk-group/create) sends it and
#: answers `"endpoint_sid": null`.
EMPTY_ENDPOINT_SID_IS_NULL: Final = True
#: A trunk group answers `external_handlers` (an array, empty by default), a field of the Trunk
#: Group object (https://docs.carrierx.com/voice/core-api/trunk-groups/trunk-group); the create
#: sample (.../trunk-group/create) was written before it and has none.
TRUNK_GROUP_SHOWS_EXTERNAL_HANDLERS: Final = True
#: An access control rule answers the documented fields only: no `partner_sid`, as its create and
#: update samples (https://docs.carrierx.com/voice/core-api/access-control/access-control-rule/create)
#: show it. Its owner is kept with the row.
ACCESS_CONTROL_RULE_FIELDS_AS_DOCUMENTED: Final = True

# --- effective ACLs -------------------------------------------------------------------------------
#: Layer N of an effective ACL answer is the N-th of these (from the most top-level object); an
#: empty layer is left out. SMS has only the partner layers (trunks carry voice only).
EFFECTIVE_ACL_LAYERS: Final = ("parent_assigned_acls", "acls", "trunk_group", "trunk")
#: An ACL with direction "any" applies to whatever `direction` is asked for; asking for "any"
#: returns every ACL.
EFFECTIVE_ACL_ANY_MATCHES_ALL: Final = True
#: Calls show only ACLs with a voice action, SMS only ACLs with an SMS action.
EFFECTIVE_ACL_ONLY_ACTING: Final = True
