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
APP_ENDPOINT_TYPES: Final = ("conference", "conference_playback", "conference_v2", "flexml", "mediator")

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
