"""Assumptions of the sandbox about the Batch API's tasks."""

from __future__ import annotations

from typing import Final

# --- batch ----------------------------------------------------------------------------------------
#: `review` defaults to true (the documented sample did not send it and came back true).
BATCH_REVIEW_DEFAULT: Final = True
#: Per-entry failures are reported as `{"entry": ..., "message": ...}` in `error_details`.
BATCH_ERROR_DETAIL_KEYS: Final = ("entry", "message")
#: Columns of review_items.csv.
BATCH_REVIEW_CSV_COLUMNS: Final = ("sid", "version", "description", "fields")
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
