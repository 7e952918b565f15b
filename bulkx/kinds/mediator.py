"""Mediator kinds (`/mediator/v1`; every answer arrives wrapped, the client unwraps it)."""

from __future__ import annotations

from bulkx.kinds.model import ALL_OPERATIONS, Creation, Kind, PlanField, ensure_field

F = PlanField


def _endpoint() -> PlanField:
    return F(
        "endpoint",
        api=None,
        required=True,
        reference="endpoint",
        doc="the mediator endpoint whose account holds it",
    )


MEDIATOR_BINDING = Kind(
    name="mediator.binding",
    api="mediator",
    path="/bindings",
    sid_field="binding_sid",
    key="name",
    operations=ALL_OPERATIONS,
    doc="A binding: calls to its redirect_did (from origination_did, or anyone) are forwarded"
    " to destination_did.",
    fields=(
        _endpoint(),
        F("name", required=True, max_length=255),
        ensure_field(),
        F("destination_did", "e164", required=True, doc="where the calls are forwarded"),
        F("origination_did", "e164", doc="the only caller forwarded (empty: anyone)"),
        F(
            "redirect_did",
            "e164",
            reference="did",
            sends_key=True,
            doc="the endpoint's DID callers dial (empty: the API picks a free one)",
        ),
        F("dtmf", doc="digits sent after the answer; each ',' is a 0.5 s pause"),
        F("maximum_ttl", "int", doc="seconds the binding lives; -1: forever"),
        F("wait_origination_did_ttl", "int"),
        F("attributes", "object"),
    ),
)

MEDIATOR_DIALOUT = Kind(
    name="mediator.dialout",
    api="mediator",
    path="/dialouts",
    sid_field="dialout_sid",
    key="stage_one_destination_did",
    operations=ALL_OPERATIONS,
    doc="A dialout: a call to two numbers, joined. Its numbers are unique across the endpoint's"
    " dialouts, so the first one names it. (The real API drops a dialout once its call is set up.)",
    fields=(
        _endpoint(),
        F("stage_one_destination_did", "e164", required=True, doc="called first"),
        ensure_field(),
        F("stage_two_destination_did", "e164", required=True, doc="called once the first answers"),
        F(
            "redirect_did",
            "e164",
            reference="did",
            sends_key=True,
            doc="the endpoint's DID both see (empty: the API picks one)",
        ),
        F("delay", "int", doc="seconds before dialling"),
        F("attributes", "object"),
    ),
)

MEDIATOR_DID = Kind(
    name="mediator.did",
    api="mediator",
    path="/dids",
    sid_field="did_sid",
    key="phonenumber",
    singleton=True,
    operations=frozenset(),
    creation=Creation(
        same_sid_as="did",
        missing_hint="a mediator DID is a Core DID routed to the endpoint: give the did a"
        " trunk_group with a trunk to the mediator endpoint",
    ),
    doc="A Core DID routed to a mediator endpoint (read only: plan it to check the routing).",
    fields=(_endpoint(), F("phonenumber", "e164", required=True)),
)

KINDS = (MEDIATOR_BINDING, MEDIATOR_DIALOUT, MEDIATOR_DID)
