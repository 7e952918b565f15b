"""Every behaviour of the sandbox that the CarrierX documentation does not pin down.

`../shared/reference/carrierx-api.md` marks these **assumed** or **NOT FOUND**. Keeping them in
one table makes them easy to find and to correct when better evidence appears: change a value
here, and the sandbox (and its tests, which read these names) follow.
"""

from __future__ import annotations

from typing import Final

# --- errors -------------------------------------------------------------------------------
#: Error body shape: `{"message": ..., "errors": [{"field", "message", "reference_sid"}]}`.
#: Only the `errors` key is confirmed (the SDK reads it); the rest is memory of the old docs.
ERROR_BODY_KEYS: Final = ("message", "errors")
ERROR_ITEM_KEYS: Final = ("field", "message", "reference_sid")
#: Messages used for statuses the docs name. 404 is the documented error body of a missing item,
#: `{"message": "no item error", "errors": [{"message": "cannot find item by sid", ...}]}`
#: (https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/enable); the
#: status table's "Cannot find item by SID" is the same text capitalised.
MESSAGE_BY_STATUS: Final = {
    400: "bad request",
    401: "Bad credentials",
    403: "forbidden",
    404: "no item error",
    405: "method not allowed",
    409: "conflict",
    415: "Unsupported media type",
    422: "object validation error",
    429: "too many requests",
    500: "internal server error",
    503: "service unavailable",
}
#: A body that is not valid JSON.
INVALID_JSON_MESSAGE: Final = "No JSON object could be decoded"

# --- lists --------------------------------------------------------------------------------
#: Documented: `limit` defaults to 10 and must not exceed 1000.
LIST_LIMIT_DEFAULT: Final = 10
LIST_LIMIT_MAX: Final = 1000
#: The docs say limit "must not exceed 1000" without naming the status; we answer 400.
LIST_LIMIT_TOO_LARGE_STATUS: Final = 400
#: A trunk group's trunks list without `limit` answers `limit: 1000`, as the documented sample
#: (https://docs.carrierx.com/voice/core-api/trunk-groups/trunk/get) does: a trunk group's trunks
#: come whole. Every other list keeps the documented default of 10.
TRUNK_LIST_LIMIT_DEFAULT: Final = 1000
#: `pagination.previous` is not documented; assumed symmetrical to `next`.
PAGINATION_HAS_PREVIOUS: Final = True
#: With no `order`, items come in creation order (oldest first).
DEFAULT_ORDER: Final = "creation"
#: Field filtering parameter names (assumed), plus the SDK's camelCase spelling.
INCLUDE_FIELDS_PARAMS: Final = ("include_fields", "includeFields")
EXCLUDE_FIELDS_PARAMS: Final = ("exclude_fields", "excludeFields")
#: Filtering on a field the object does not have.
UNKNOWN_FILTER_FIELD_STATUS: Final = 400
#: `ne` also matches objects whose value is null (SQL's three-valued logic would drop them).
NE_MATCHES_NULL: Final = True
#: `bit` tests that every bit of the operand is set: `capabilities bit 4`.
BIT_OPERATOR_MEANS_ALL_BITS: Final = True
#: A list query that runs past the sandbox's time limit (`Limits.query_timeout_s`) answers 400
#: naming the filter. The filtering page gives the syntax and `like` with `%` only, no time
#: limit and no status for one:
#: https://docs.carrierx.com/flexml/flexml-api/using-the-rest-api/filtering
#: 400 says "change the request", where a 5xx would be retried as is.
QUERY_TIMEOUT_STATUS: Final = 400

# --- writes -------------------------------------------------------------------------------
#: A field the object does not have, in a POST/PATCH/PUT body.
UNKNOWN_FIELD_STATUS: Final = 422
#: A read-only field with a *different* value from the stored one (an equal value is ignored,
#: so a client may PUT back what it read).
READ_ONLY_FIELD_STATUS: Final = 422
#: PATCH of a nested object field (`attributes`, `properties`) replaces the whole value.
#: The docs' one example cannot tell merge from replace; clients should send whole values.
PATCH_NESTED_OBJECTS: Final = "replace"
#: PUT requires every writable field; a missing one is a 422.
PUT_REQUIRES_ALL_WRITABLE_FIELDS: Final = True
#: A missing scope answers 403 (the docs only give 403's generic meaning).
MISSING_SCOPE_STATUS: Final = 403

# --- phone numbers ------------------------------------------------------------------------
#: Renting a number that is on the caller's account already.
RENT_ALREADY_OWNED_STATUS: Final = 409
#: Renting a number that is aging after a release, or held by another partner.
RENT_TAKEN_STATUS: Final = 409
#: Renting a number the inventory does not hold at all.
RENT_NOT_IN_INVENTORY_STATUS: Final = 404
#: Minutes a released number ages before it can be rented again (sample classification).
AGING_POLICY_MINUTES: Final = 86400
#: A released DID disappears from the partner's list and from GET by sid (404).
RELEASED_DID_VISIBLE: Final = False
#: An available DID keeps its did_sid when rented.
RENT_KEEPS_INVENTORY_SID: Final = True
#: Renting by filter or by available-DID sid is not documented; only `phonenumber` selects.
RENT_SELECTORS: Final = ("phonenumber",)
#: POST /phonenumber/dids with no body at all: the rent page says "an empty object can be
#: passed" and the quick start sends `{}`; a body that is not there is refused (as a body that is
#: not JSON) rather than taken as `{}`, which rents (and bills) a random number.
RENT_EMPTY_BODY_STATUS: Final = 400
#: Available DIDs also filter on `npa` (the area code, 3 digits) and `npa_nxx` (the first six
#: digits of the national number): the browse page filters "by their geographical location and
#: area codes" (its table was cut off after `latlng`), and Browse Coverage documents these two
#: names (https://docs.carrierx.com/voice/core-api/phone-numbers/browse-coverage). They are
#: filter names only: an available DID object has no such fields.
AVAILABLE_DID_AREA_FILTERS: Final = ("npa", "npa_nxx")
#: Available DIDs order by any of their fields ("attribute name + asc/desc", the pagination
#: page); numbers with equal values come in phonenumber order. `did_sid` is the exception: a
#: sid made from a hash of the number cannot be ordered without reading the whole inventory, so
#: ordering by it is a 400.
AVAILABLE_DID_UNORDERABLE: Final = ("did_sid",)

# --- routing ------------------------------------------------------------------------------
#: Trunk `allow_transfer` is a boolean: the trunk object page
#: (https://docs.carrierx.com/voice/core-api/trunk-groups/trunk) types it so, and every sample
#: sends `false`. The newest copy of the page calls it an enum whose list was cut off after
#: "disabled", so no enum can be checked; a string is a 422.
TRUNK_ALLOW_TRANSFER_TYPE: Final = "bool"
#: A trunk's `"endpoint_sid": ""` is no endpoint: the documented trunk group create sample
#: (https://docs.carrierx.com/voice/core-api/trunk-groups/trunk-group/create) sends it and
#: answers `"endpoint_sid": null`.
EMPTY_ENDPOINT_SID_IS_NULL: Final = True

# --- conference v2 ------------------------------------------------------------------------
#: An access code already used by another room of the same endpoint.
ACCESS_CODE_COLLISION_STATUS: Final = 409
#: Conference v2 lists use the Core envelope.
CONFERENCE_V2_ENVELOPE: Final = "core"
#: A conference v2 DID has the sid of the Core DID it mirrors.
CONFERENCE_V2_DID_SID_IS_CORE_SID: Final = True

# --- conference v1 ------------------------------------------------------------------------
#: The v1 list envelope was not found; v1 lists use the Core envelope too.
CONFERENCE_V1_ENVELOPE: Final = "core"

# --- app endpoints ------------------------------------------------------------------------
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

# --- batch --------------------------------------------------------------------------------
#: `review` defaults to true (the documented sample did not send it and came back true).
BATCH_REVIEW_DEFAULT: Final = True
#: Per-entry failures are reported as `{"entry": ..., "message": ...}` in `error_details`.
BATCH_ERROR_DETAIL_KEYS: Final = ("entry", "message")
#: Columns of review_items.csv.
BATCH_REVIEW_CSV_COLUMNS: Final = ("sid", "version", "description", "fields")

# --- rate limiting ------------------------------------------------------------------------
#: CarrierX documents no REST rate limit; the sandbox's limit is per credential, answers 429,
#: and sends `Retry-After` in whole seconds (RFC 9110 delta-seconds, at least 1).
RATE_LIMIT_SCOPE: Final = "credential"
RETRY_AFTER_MIN_SECONDS: Final = 1

# --- oauth --------------------------------------------------------------------------------
#: Grant types accepted by POST /oauth/token (only `password` is documented).
OAUTH_GRANT_TYPES: Final = ("password",)
#: POST /oauth/token without `grant_type` (a JSON `{}`, or a form without it) is refused: the
#: documented request (https://docs.carrierx.com/voice/core-api/oauth/oauth-token/generate) sends
#: `grant_type=password`, as the OAuth password grant requires (RFC 6749 §4.3.2). The docs give no
#: status: the 422 an unsupported grant type answers. (POST /oauth/token/{partner_sid} needs
#: none: its documented sample sends only client_id and client_secret.)
OAUTH_GRANT_TYPE_MISSING_STATUS: Final = 422
#: POST /oauth/token with grant_type=password needs no Authorization header: the username and
#: password in the form are the credentials (the docs' sample also sends a Bearer header, which
#: is accepted too). Without this a client could not get its first token.
OAUTH_PASSWORD_GRANT_ALONE: Final = True
#: Lifetime of a generated access token when `access_token_expires_in` is not sent.
OAUTH_DEFAULT_EXPIRES_IN: Final = 86400

# --- batch (helper) -------------------------------------------------------------------------
#: Status changes PATCH/PUT may make to a task (current -> allowed next). The docs name only
#: pending_review -> approved | cancelled; cancelling before the task runs is assumed.
BATCH_STATUS_TRANSITIONS: Final = {
    "created": ("cancelled",),
    "pending_review": ("approved", "cancelled"),
    "approved": ("cancelled",),
    "queued": ("cancelled",),
}
#: Any other status change (e.g. approving a completed task) is a state conflict: 409.
#: A status outside the documented enum is a validation error (422). Sending the current
#: status again is a no-op (so a client may PUT back what it read).
BATCH_ILLEGAL_TRANSITION_STATUS: Final = 409
#: A task in one of these statuses belongs to the runner: DELETE answers 409.
BATCH_ACTIVE_STATUSES: Final = ("approved", "queued", "running")
BATCH_DELETE_ACTIVE_STATUS: Final = 409
#: Review items are computed before the create response returns. The response still shows
#: status "created" (the documented sample); every later read shows "pending_review".
BATCH_REVIEW_COMPUTED: Final = "before_create_response"
#: The review items are a snapshot taken then; a task created with review=false computes them
#: on request from the current state.
BATCH_REVIEW_SNAPSHOT: Final = True
#: `version` of a review item: the sandbox keeps no object revisions, so it is always 1.
BATCH_REVIEW_ITEM_VERSION: Final = 1
#: The `fields` column of review_items.csv holds the item's fields as a JSON object.
BATCH_REVIEW_CSV_FIELDS_ENCODING: Final = "json"
#: type "file" (upload-driven tasks) is not emulated: create answers 422.
BATCH_FILE_TYPE_SUPPORTED: Final = False
#: Which `field` values PATCH/DELETE entries may be matched on, per type (unique keys only).
BATCH_MATCH_FIELDS: Final = {
    "phonenumber": ("phonenumber", "did_sid"),
    "prefix": ("prefix", "prefix_sid"),
}
#: `entries` must be an array of strings.
BATCH_ENTRY_TYPE: Final = "string"
#: A required `data` / `entries` must also be non-empty; `field` must be empty for POST, as the
#: field table says ("empty for POST").
BATCH_REQUIRED_MEANS_NON_EMPTY: Final = True
BATCH_POST_FIELD_MUST_BE_EMPTY: Final = True
#: `status` cannot be sent on create (422): a task always starts as "created".
BATCH_STATUS_ON_CREATE_STATUS: Final = 422
#: `data` is checked against the target object's fields on create (unknown, read-only or
#: mistyped fields answer 422 up front); what depends on the world (a number being available, a
#: referenced trunk group existing, a number being on the account) fails per entry when it runs.
BATCH_VALIDATES_DATA_ON_CREATE: Final = True
#: Counters are null in the create answer (the create sample) and set once the task leaves
#: `created`: total = its entries (or data items), the rest 0, as the Get Tasks sample shows a
#: `pending_review` task (https://docs.carrierx.com/voice/core-api/batch/task/get). That sample's
#: total is 1 for two entries, which no rule we can see explains.
BATCH_COUNTERS_SET_WHEN: Final = "pending_review"
#: Entries run with the scopes of the token that created the task (a token with batch.manage
#: alone cannot rent numbers through a task: each entry fails with the 403 message).
BATCH_RUNS_WITH_CREATOR_SCOPES: Final = True
#: `error_details[].message` is "<status> <message> (<field>: <detail>; ...)", the text of the
#: error the single-object API would have answered.
BATCH_ERROR_MESSAGE_FORMAT: Final = "status message (field: detail)"

# --- conference (helper) ------------------------------------------------------------------
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
# --- end conference (helper) --------------------------------------------------------------

# --- flexml and mediator (helper) ---------------------------------------------------------
#: The flexml / mediator account is made on the endpoint's first authenticated request; its name
#: is the endpoint's name at that moment (as CONFERENCE_V2_ACCOUNT_NAME_FROM_ENDPOINT).
APP_ACCOUNT_NAME_FROM_ENDPOINT: Final = True
#: Phone numbers in flexml calls and mediator bindings/dialouts: digits with an optional "+".
APP_NUMBER_PATTERN: Final = r"\+?[0-9]{1,15}"
#: A leading "+" is ignored when a number is compared with a DID (`+15551234567` is `15551234567`).
APP_NUMBERS_IGNORE_PLUS: Final = True
#: `url` / `status_callback_url` fields must be http(s) URLs.
APP_URL_PATTERN: Final = r"https?://\S+"
#: FlexML `method` / `status_callback_method` values (the docs name POST and GET).
FLEXML_HTTP_METHODS: Final = ("POST", "GET")
#: The FlexML account password (documented read only, never returned): sending one is a 422.
FLEXML_ACCOUNT_PASSWORD_WRITABLE: Final = False
#: A FlexML DID's `method` starts as POST (like the account's and a call's); its urls start null.
FLEXML_DID_DEFAULT_METHOD: Final = "POST"
#: A call's `url` may be omitted (the DID's or the account's url is then used by CarrierX).
FLEXML_CALL_URL_REQUIRED: Final = False
#: Calls are records only (nothing is dialled); their fields other than the status callback are
#: create-only (the SDK updates only status_callback_url/method). `delay` is a number of seconds
#: >= 0 (the blast app sends floats). DELETE cancels the call: 204, and the call is gone (404).
FLEXML_CALL_DELETE_REMOVES: Final = True
#: Mediator wraps its answers as `{"body": ..., "status": 200}` (every sample of the Mediator
#: pages, e.g. https://docs.carrierx.com/mediator/mediator-api/bindings/binding/create), but the
#: docs show no Mediator error. Errors are answered unwrapped, in the Core error shape with the
#: HTTP status: CarrierX's own SDK (carrierx-python, resources/base.py) checks the status and
#: reads `errors` at the top level before it unwraps `body`, for Mediator as for Core; a wrapped
#: 400 would be a generic server error there. A DELETE's 204 has no body, so it is not wrapped.
MEDIATOR_WRAPS_ERRORS: Final = False
MEDIATOR_WRAPS_NO_CONTENT: Final = False
#: Mediator account fields (the docs give no schema; "information about the partner").
MEDIATOR_ACCOUNT_FIELDS: Final = ("account_sid", "date_created", "login", "name", "partner_sid")
#: Binding defaults: maximum_ttl is documented (3600; -1 = never expires) by the Binding object
#: (https://docs.carrierx.com/mediator/mediator-api/bindings/binding); the create sample answers -1
#: for a body without one, which the table contradicts. The sample's 300 is taken as the default
#: wait_origination_did_ttl. TTLs are stored, not enforced (nothing expires).
MEDIATOR_BINDING_DEFAULT_MAXIMUM_TTL: Final = 3600
MEDIATOR_BINDING_DEFAULT_WAIT_ORIGINATION_DID_TTL: Final = 300
#: `dtmf`: digits, `*`, `#` and `,` (a 0.5 s pause).
MEDIATOR_DTMF_PATTERN: Final = r"[0-9*#,]*"
#: Two bindings may share a redirect_did only with different, non-null origination_dids (a null
#: origination_did takes every caller). A redirect_did sent that clashes answers this status:
MEDIATOR_REDIRECT_DID_TAKEN_STATUS: Final = 409
#: A redirect_did sent that is not one of the endpoint's DIDs.
MEDIATOR_REDIRECT_DID_NOT_OURS_STATUS: Final = 422
#: An omitted redirect_did is the first free DID of the endpoint (in Core order) whose country
#: calling code is the destination_did's; failing that, the first free DID whose country_code
#: (alpha-3) is the `fallback_country` query argument; failing that, 409 (documented).
#: "any" would take the first free DID whatever its country.
MEDIATOR_REDIRECT_DID_SAME_COUNTRY: Final[str] = "calling_code"
#: `reuse=true` answers an existing binding whose writable fields all equal those the create
#: would store (redirect_did compared only when sent) instead of creating one. The SDK sends
#: `reuse` in the body, so a boolean `reuse` body key is taken as the query argument too.
MEDIATOR_BINDING_REUSE_IN_BODY: Final = True
#: A dialout's redirect_did, when omitted, is the first DID of the endpoint not in another
#: dialout; none free answers 409. A redirect_did sent must be one of the endpoint's DIDs (422).
MEDIATOR_DIALOUT_AUTO_REDIRECT_DID: Final = True
#: The three numbers of a dialout must differ from each other (422) and appear in no slot of
#: another dialout (409, documented). Dialouts stay until deleted (no call ever sets one up).
MEDIATOR_DIALOUT_NUMBERS_DISTINCT: Final = True
MEDIATOR_DIALOUT_NUMBER_TAKEN_STATUS: Final = 409
# --- end flexml and mediator (helper) -----------------------------------------------------

# --- accounts and content (helper) ----------------------------------------------------------
#: GET /partners answers the caller and its sub-partners at any depth (the docs' sample lists one
#: partner carrying a parent_sid: the caller itself). Other partners are 404 by sid.
PARTNERS_VISIBLE: Final = "self_and_descendants"
#: The docs: a new partner is "unverified" and hidden from GET until its email is verified. The
#: sandbox sends no email, so a sub-partner is active and visible at once.
SUB_PARTNER_STATUS: Final = "active"
#: A sub-partner's available_scopes are its parent's (the create sample answers [], which would
#: leave it unable to call anything), and it starts with this balance.
SUB_PARTNER_SCOPES_FROM_PARENT: Final = True
SUB_PARTNER_BALANCE: Final = "0"
#: Fields a Create Partner body must carry (the docs' sample sends many; these two are the ones
#: a partner cannot work without).
PARTNER_REQUIRED_FIELDS: Final = ("login", "password")
PARTNER_PAYMENT_TYPES: Final = ("prepay", "postpay")
#: A login already used by a partner or a partner login (logins are global: Basic auth and the
#: password grant look them up before the partner is known).
LOGIN_TAKEN_STATUS: Final = 409
#: Deleting oneself, a partner with sub-partners, or one that still holds DIDs or endpoints (whose
#: logins would outlive it). A deleted partner's tokens, logins and billing method go with it.
PARTNER_DELETE_REFUSED_STATUS: Final = 409
#: A partner sets its own `acls`; only its parent sets its `parent_assigned_acls` (documented).
#: Changing the other one answers this status.
PARTNER_ACL_OWNER_STATUS: Final = 422
#: Registering a billing method again replaces the partner's one billing method.
BILLING_METHOD_POST_REPLACES: Final = True
#: cc_number (documented) and ec_account_number (assumed) are kept redacted to their last digits;
#: cc_cid is never stored (documented hidden).
BILLING_METHOD_KEPT_DIGITS: Final = 4
BILLING_METHOD_CARD_TYPES: Final = (
    "american_express",
    "diners_club",
    "discover_card",
    "international_maestro",
    "jcb",
    "master_card",
    "visa",
)
#: The docs' Get / Get by SID / Update token samples return access_token and refresh_token, so
#: reads show them. False omits them from every answer but the one that creates the token (and
#: refuses filtering or ordering by them, which would leak them a character at a time).
OAUTH_TOKEN_VALUES_IN_READS: Final = True
#: "Get All Active OAuth Tokens": expired tokens are left out of the list (by sid they answer).
OAUTH_TOKENS_LIST_ACTIVE_ONLY: Final = True
#: Token fields PATCH/PUT may change (the update sample changes `name`; scopes stay a subset of the
#: partner's available_scopes).
OAUTH_TOKEN_WRITABLE_FIELDS: Final = ("name", "scopes", "date_expiration_access_token")
#: POST /oauth/token/{partner_sid} accepts the caller itself as well as its sub-partners.
OAUTH_SUB_PARTNER_TOKEN_FOR_SELF: Final = True
#: A partner login must read "<partner.login>_<sub-login>" (documented); otherwise 422. Logins are
#: records only: they do not authenticate API requests ("only used with the portal").
OAUTH_LOGIN_NAME_RULE: Final = "partner_login_prefix"

# --- phone number extras (helper) ---------------------------------------------------------
#: Short codes are made by support, never through the API; each partner starts with this many
#: (made on its first short-code read, the same for a given seed and partner).
SHORT_CODES_PER_PARTNER: Final = 3
#: `group_by` values of Browse Coverage (the docs' list was cut off; these are its filter fields).
#: Groups come ordered by key; a missing or unknown group_by is a 400.
COVERAGE_GROUP_BY: Final = ("country_code", "locality", "npa", "npa_nxx", "state")
#: The DID tier rates every partner sees: the docs' sample tier (one per classification), plan
#: name and effective date.
DID_RATE_TIER: Final = {
    "price_0": "0.15", "price_1": "0.12", "price_2": "0.1", "price_3": "0.07",
    "price_4": "0.05", "price_5": "0.02", "price_6": "0.01",
    "quantity_0": 0, "quantity_1": 3, "quantity_2": 5, "quantity_3": 6,
    "quantity_4": 8, "quantity_5": 9, "quantity_6": 11,
}  # fmt: skip
DID_RATES_PLAN_NAME: Final = "did_retail-2017-08-03.txt"
DID_RATES_EFFECTIVE_DATE: Final = "2017-08-03T00:00:00.000Z"
#: /phonenumber/rates/csv: a header row of the item fields in alphabetical order, then one row per
#: tier, for the same filter/order/limit/offset as the JSON list.
DID_RATES_CSV: Final = "item_fields_sorted"

# --- effective ACLs (helper) ----------------------------------------------------------------
#: Layer N of an effective ACL answer is the N-th of these (from the most top-level object); an
#: empty layer is left out. SMS has only the partner layers (trunks carry voice only).
EFFECTIVE_ACL_LAYERS: Final = ("parent_assigned_acls", "acls", "trunk_group", "trunk")
#: An ACL with direction "any" applies to whatever `direction` is asked for; asking for "any"
#: returns every ACL.
EFFECTIVE_ACL_ANY_MATCHES_ALL: Final = True
#: Calls show only ACLs with a voice action, SMS only ACLs with an SMS action.
EFFECTIVE_ACL_ONLY_ACTING: Final = True

# --- push (helper) --------------------------------------------------------------------------
#: Empty strings sent for application credentials are stored as null (the create sample sends ""
#: and answers null).
PUSH_EMPTY_STRINGS_ARE_NULL: Final = True
#: The docs list device_sid (read only) as required to create a device, a slip: these are.
PUSH_DEVICE_REQUIRED: Final = ("application_sid", "token", "type")
#: `reuse` (default true) answers an existing device with the same values of these fields.
PUSH_DEVICE_REUSE_MATCH: Final = ("token", "type", "environment")
#: Deleting an application that still has devices.
PUSH_APPLICATION_IN_USE_STATUS: Final = 409

# --- shortener (helper) ---------------------------------------------------------------------
#: Domain and link modes (the docs' lists were cut off; proxy_pass and redirect_temporary are
#: documented), and `secure` values (disabled and required are documented).
SHORTENER_MODES: Final = ("proxy_pass", "redirect_permanent", "redirect_temporary")
SHORTENER_SECURE_VALUES: Final = ("disabled", "optional", "required")
#: A domain_name is unique across all partners; a short_name is unique within its domain.
SHORTENER_NAME_TAKEN_STATUS: Final = 409
#: Deleting a domain that still has links.
SHORTENER_DOMAIN_IN_USE_STATUS: Final = 409
#: A generated short_name: this many letters and digits, or the domain's minimum_length if longer.
SHORTENER_GENERATED_NAME_LENGTH: Final = 6
#: A link's url is "https://<domain_name>/<short_name>" when the domain's secure is "required",
#: "http://..." otherwise. `reuse=true` matches a link by domain_sid and destination_url.
SHORTENER_LINK_REUSE_MATCH: Final = ("domain_sid", "destination_url")

# --- storage (helper) -----------------------------------------------------------------------
#: "By default, CarrierX allows the partners to have only two containers per account" (documented);
#: a third answers this status.
STORAGE_CONTAINERS_PER_PARTNER: Final = 2
STORAGE_CONTAINER_LIMIT_STATUS: Final = 409
#: An upload (or a PATCH moving a file) past the container's quota_files or quota_bytes. The docs
#: name no status; 409 is their "depends on the conflict source".
STORAGE_QUOTA_EXCEEDED_STATUS: Final = 409
#: quota_bytes / quota_files may be changed by the partner (the docs do not mark them read only).
STORAGE_QUOTAS_WRITABLE: Final = True
#: A file whose classification the container does not allow ("will be rejected").
STORAGE_CLASSIFICATION_REJECTED_STATUS: Final = 422
#: Deleting a container that still holds files.
STORAGE_CONTAINER_IN_USE_STATUS: Final = 409
#: The File object documents no checksum; the sandbox adds this read-only field (hex MD5 of the
#: bytes) so a diff can compare content without downloading. The real API may lack it.
STORAGE_FILE_CHECKSUM_FIELD: Final = "file_md5"
#: The largest upload the sandbox accepts (bytes); a bigger one answers 413.
STORAGE_MAX_UPLOAD_BYTES: Final = 64 * 1024 * 1024
#: content_classification from the file's MIME type (itself guessed from its name): audio, video
#: and image are media; text, PDF and office types document; zip/tar/gzip/7z/rar archive;
#: executables and scripts executable; anything else unknown.
STORAGE_CLASSIFY_BY: Final = "mime_type_from_name"
# --- end accounts and content (helper) ------------------------------------------------------

# --- records, messaging, rates and lookups (helper) ---------------------------------------
#: Calls, rating, invoices, lookups, countries, TTS and verification are not scope checked: their
#: scopes (calls.*, rating.*, invoices.*, lookup.*, ...) are not among the token scopes the
#: sandbox knows. SMS methods check sms.* (so does the SMS a verification sends), push
#: notifications push.*, a TTS file saved to storage storage.*. App records (`/app/...`) check
#: app.manage or app.read, as documented
#: (https://docs.carrierx.com/voice/core-api/apps/mediator-cdr/get); the default token has
#: app.manage.
UNSCOPED_AREAS: Final = (
    "calls", "countries", "invoices", "lookup", "rating", "tts", "verification",
)  # fmt: skip
#: CDR and app record numbers (duration, duration_billing, price, rate) are strings, as in the
#: docs' samples, though the field tables say "number"; filters on them compare as strings.
RECORD_NUMBERS_ARE_STRINGS: Final = True
#: Fields of a conference meeting record (`/app/conference/meetings`); the docs give none.
CONFERENCE_MEETING_DR_FIELDS: Final = (
    "date_insert", "date_start", "date_stop", "duration", "endpoint_sid", "meeting_room_sid",
    "meeting_sid", "participants", "partner_sid",
)  # fmt: skip
#: Seeded records: the share of inbound calls, of unanswered calls (no talk, price 0), of inbound
#: messages (status "received") and of MMS among messages.
SEEDED_CDR_INBOUND_SHARE: Final = 0.6
SEEDED_CDR_UNANSWERED_SHARE: Final = 0.1
SEEDED_MDR_INBOUND_SHARE: Final = 0.3
SEEDED_MDR_MMS_SHARE: Final = 0.1
#: Seeded calls and messages are with this many outside numbers (each seeding draws its own).
SEEDED_CONTACTS: Final = 500
#: A message's delivery: the send answers the first status, and each later read of the SMS API
#: (messages or detail records, list or get) moves every message in flight one step on. The docs
#: name `queued` (the send sample) and `sent`/`delivered` (later samples); time plays no part.
SMS_STATUS_STEPS: Final = ("queued", "sent", "delivered")
#: `from` must be a DID assigned to the caller's account (the docs name no status for one that
#: is not).
SMS_FROM_NOT_ON_ACCOUNT_STATUS: Final = 422
#: Documented (https://docs.carrierx.com/voice/core-api/sms/sms/send): "to send messages from a
#: rented DID you need to enable SMS/MMS messaging on that DID first"; the verification SMS page
#: says the same. A send (or verification SMS) from a number whose messaging is not enabled is
#: refused; the docs give no status for it (the external DID page only says "an error will be
#: returned"), so it is the 422 "object validation error" naming `from`, as the enable call
#: answers for external DIDs.
SMS_REQUIRES_MESSAGING_ENABLED: Final = True
SMS_MESSAGING_NOT_ENABLED_STATUS: Final = 422
#: Messaging enablement
#: (https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/enable):
#: every DID starts disabled (the object's documented default), ported and seeded ones included.
#: The enable answers `status: in_progress` (the documented sample) and completes at once: every
#: later read shows `enabled` and the number sends (the messaging quick start says it "usually
#: takes a few seconds"; a rehearsal should not wait).
MESSAGING_ENABLED_AT_ONCE: Final = True
#: `type` when an enable sends none: "the partner/global default value. By default, partners are
#: only enabled for a2p" (documented); a never-enabled DID reads `type: null`. `campaign_sid` is
#: not checked (the sandbox has no 10DLC campaigns); `campaign_external_id` is made up from it.
MESSAGING_DEFAULT_TYPE: Final = "a2p"
#: Changing `type`, `campaign_sid` or `p2p_nnid` of a number that is and stays enabled needs
#: `force=true` ("bypassing the standard two-step disable-then-re-enable process"); without it
#: the change is a 422 naming the field (the docs give no status). Enabling again with the same
#: settings is a no-op (200). `enabled` left out of the body keeps its value (as a PATCH).
MESSAGING_CHANGE_NEEDS_FORCE_STATUS: Final = 422
#: Message text limit (the MMS limit, documented; assumed for SMS too) and user_data length.
SMS_MAX_MESSAGE_CHARS: Final = 1600
SMS_USER_DATA_MAX_LENGTH: Final = 1024
#: MMS limits (documented): 10 media items, 10 DIDs in a group chat counting the sender.
MMS_MAX_MEDIA_URLS: Final = 10
MMS_MAX_GROUP_DIDS: Final = 10
#: Numbers in messages are stored without a leading "+"; legacy `from_did` / `to_did` in a send
#: body are read as `from` / `to`.
SMS_LEGACY_FIELD_NAMES: Final = {"from_did": "from", "to_did": "to"}
#: `provider` of a message detail record (the sample shows "tsg").
MDR_PROVIDER: Final = "carrierx"
#: Message prices per segment: outbound from the SMS rate of the destination's network (sub_type
#: "toll", times these factors for the other sub_types); inbound flat; an MMS costs this many SMS.
SMS_SUB_TYPE_PRICE_FACTORS: Final = {"short_code": "0.8", "toll": "1", "toll_free": "1.2"}
SMS_INBOUND_RATE: Final = "0.0025"
MMS_INBOUND_RATE: Final = "0.005"
MMS_PRICE_FACTOR: Final = "2.5"
#: Per-minute VoIP rates by endpoint type (both directions); the rating sub_types include
#: conference_v2 and peering_*, so the rate lists accept them too.
VOIP_RATES: Final = {
    "conference": "0", "conference_playback": "0", "conference_v2": "0", "flexml": "0.001",
    "mediator": "0.001", "peering_receiver": "0", "peering_sender": "0", "third_party": "0.002",
    "voicemail": "0",
}  # fmt: skip
#: A rate list for an unknown sub_type; a rating request no rate covers.
RATE_UNKNOWN_SUB_TYPE_STATUS: Final = 404
RATING_NO_RATE_STATUS: Final = 422
#: The verification SMS: the default code length (the sample's code has 4 digits) and text.
VERIFICATION_CODE_LENGTH: Final = 4
VERIFICATION_MESSAGE: Final = "Your verification code is"
#: The verification email defaults: base_url (the sample's) and template (the sample's sid).
VERIFICATION_BASE_URL: Final = "https://www.carrierx.com/confirmed"
VERIFICATION_EMAIL_TEMPLATE_SID: Final = "3e9e8c56-e1ee-4dcf-9e2b-abbd101139ba"
#: Push notifications: at most 100 recipients (documented); a recipient that is not one of the
#: caller's devices gets this result and counts as a failure (the whole send still answers 200).
PUSH_MAX_RECIPIENTS: Final = 100
PUSH_UNKNOWN_DEVICE_RESULT: Final = "not_found"
#: Invoices: one per calendar month (UTC); tax is this share of the charges. The docs give the
#: current paths as /billing/invoices and the quick reference /invoices: both are served.
INVOICE_TAX_RATE: Final = "0.1"
INVOICE_PATHS: Final = ("/invoices", "/billing/invoices")
#: Phone number lookups: an unparsable number; the CNAM of a mobile number not on the account.
LOOKUP_INVALID_NUMBER_STATUS: Final = 400
LOOKUP_CNAM_MOBILE: Final = "WIRELESS CALLER"
#: TTS: response_format values (only "file" is documented; "stream", the default, answers the
#: audio itself), the default voice, the text limit and the (silent) audio's length per character.
TTS_RESPONSE_FORMATS: Final = ("stream", "file")
TTS_DEFAULT_VOICE: Final = "woman"
TTS_MAX_TEXT_CHARS: Final = 3000
TTS_SECONDS_PER_CHARACTER: Final = 0.06
# --- end records, messaging, rates and lookups (helper) -----------------------------------

# --- live meetings (helper) ---------------------------------------------------------------
#: Live calls and meetings (Conference v2 `/calls`, `/meetings`; v1 `/calls`, `/meetings`): the
#: docs list their methods but no field of either object. These field lists are assumed.
CONFERENCE_V2_CALL_FIELDS: Final = (
    "account_sid", "call_sid", "date_joined", "meeting_room_sid", "meeting_sid", "muted",
    "number_src", "on_hold", "role", "state",
)  # fmt: skip
CONFERENCE_V2_MEETING_FIELDS: Final = (
    "account_sid", "date_start", "locked", "meeting_room_sid", "meeting_sid", "participants",
    "properties",
)  # fmt: skip
CONFERENCE_V1_CALL_FIELDS: Final = (
    "id", "joined", "meetingNumber", "muted", "onHold", "phoneNumber", "role",
)  # fmt: skip
CONFERENCE_V1_MEETING_FIELDS: Final = (
    "attributes", "meetingNumber", "participants", "started", "subscriberSid",
)  # fmt: skip
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
# --- end live meetings (helper) -----------------------------------------------------------

# Shapes read against the documented samples (endpoints, system gateway, list totals, partner
# views, Conference v1 call flows and files) live in a sibling module; every name is also here.
from bulkx.sandbox.assumptions_shapes import *  # noqa: E402, F403
