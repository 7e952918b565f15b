"""Assumptions of the sandbox about the API as a whole: error bodies, lists and their envelope,
writes, scopes, rate limits."""

from __future__ import annotations

from typing import Final

# --- errors ---------------------------------------------------------------------------------------
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
#: The documented 404 item message
#: (https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/enable).
NOT_FOUND_ITEM_MESSAGE: Final = "cannot find item by sid"
#: That sample's `reference_sid` is null; the sandbox names the sid it could not find there, which
#: tells a client which of several sids in a request was wrong. A client must not rely on it.
NOT_FOUND_NAMES_SID: Final = True
#: A path the API does not have (as opposed to an item it cannot find) answers 404 with this
#: message and "no such path: <path>": the docs show only the missing item's body ("no item error",
#: above), and a different text lets a client tell a wrong URL from a missing object.
UNKNOWN_PATH_MESSAGE: Final = "Not Found"

# --- lists ----------------------------------------------------------------------------------------
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
#: Field filtering parameter names (assumed), plus the SDK's camelCase spelling. The methods'
#: pages say lists support "Field Filtering"; the filtering page of the FlexML API
#: (https://docs.carrierx.com/flexml/flexml-api/using-the-rest-api/filtering) is titled "Result
#: and Field Filtering". bulkx's diff asks for the fields it keeps with `include_fields`; an API
#: that ignored the parameter would answer whole objects, and the diff would be the same.
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
#: Lists whose documented samples answer `"total": null`: the app call records
#: (https://docs.carrierx.com/voice/core-api/apps/mediator-cdr/get,
#: https://docs.carrierx.com/voice/core-api/apps/conference-cdr/get) and the OAuth tokens
#: (https://docs.carrierx.com/voice/core-api/oauth/oauth-token/get). Every other list counts.
LISTS_WITHOUT_TOTAL: Final = ("/app/conference/calls", "/app/mediator/calls", "/oauth/tokens")
#: A Mediator call record's `type` and `version`, as the Get Mediator CDRs sample.
MEDIATOR_CDR_TYPE: Final = "mediator"
MEDIATOR_CDR_VERSION: Final = 2

# --- writes ---------------------------------------------------------------------------------------
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

# --- rate limiting --------------------------------------------------------------------------------
#: CarrierX documents no REST rate limit; the sandbox's limit is per credential, answers 429,
#: and sends `Retry-After` in whole seconds (RFC 9110 delta-seconds, at least 1).
RATE_LIMIT_SCOPE: Final = "credential"
RETRY_AFTER_MIN_SECONDS: Final = 1
