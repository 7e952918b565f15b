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
#: Messages used for statuses the docs name.
MESSAGE_BY_STATUS: Final = {
    400: "bad request",
    401: "Bad credentials",
    403: "forbidden",
    404: "Cannot find item by SID",
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
LIST_LIMIT_DEFAULT: Final = 10
LIST_LIMIT_MAX: Final = 1000
#: The docs say limit "must not exceed 1000" without naming the status; we answer 400.
LIST_LIMIT_TOO_LARGE_STATUS: Final = 400
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
#: Counters stay null until the task is queued; then total = number of entries, the rest 0.
BATCH_COUNTERS_SET_WHEN: Final = "queued"
#: Entries run with the scopes of the token that created the task (a token with batch.manage
#: alone cannot rent numbers through a task: each entry fails with the 403 message).
BATCH_RUNS_WITH_CREATOR_SCOPES: Final = True
#: `error_details[].message` is "<status> <message> (<field>: <detail>; ...)", the text of the
#: error the single-object API would have answered.
BATCH_ERROR_MESSAGE_FORMAT: Final = "status message (field: detail)"
