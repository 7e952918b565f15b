"""FlexML kinds (`/flexml/v1`): an endpoint's account and its DIDs' FlexML URLs."""

from __future__ import annotations

from bulkx.kinds.model import UPDATE_ONLY, Creation, Kind, PlanField

F = PlanField

METHODS = ("POST", "GET")


def _endpoint() -> PlanField:
    return F(
        "endpoint",
        api=None,
        required=True,
        reference="endpoint",
        doc="the flexml endpoint whose account holds it",
    )


def _instructions() -> tuple[PlanField, ...]:
    """Where FlexML instructions and call status go (the account's are the defaults)."""
    return (
        F("url", "url", doc="where FlexML instructions are fetched when a call comes in"),
        F("method", "enum", choices=METHODS),
        F("status_callback_url", "url"),
        F("status_callback_method", "enum", choices=METHODS),
    )


FLEXML_ACCOUNT = Kind(
    name="flexml.account",
    api="flexml",
    path="/accounts",
    sid_field="account_sid",
    key="endpoint",
    singleton=True,
    operations=UPDATE_ONLY,
    doc="The account of a flexml endpoint: its name, default FlexML URL and error handling.",
    fields=(
        _endpoint(),
        F("name", max_length=255),
        *_instructions(),
        F("error_handler", "enum", choices=("basic", "none")),
    ),
)

FLEXML_DID = Kind(
    name="flexml.did",
    api="flexml",
    path="/dids",
    sid_field="did_sid",
    key="phonenumber",
    singleton=True,
    creation=Creation(same_sid_as="did"),
    operations=UPDATE_ONLY,
    doc="A Core DID routed to a flexml endpoint: its own FlexML URL and status callback.",
    fields=(_endpoint(), F("phonenumber", "e164", required=True), *_instructions()),
)

KINDS = (FLEXML_ACCOUNT, FLEXML_DID)
