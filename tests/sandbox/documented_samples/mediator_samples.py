"""Documented samples of the Mediator API (`/mediator/v1`), each with its page. Mediator wraps
its answers in `{"body": ..., "status": 200}`; the shapes below are the `body`."""

from __future__ import annotations

from tests.sandbox.documented_samples.model import DATE, PHONE, SID, STR, Recorded, Sample

D = "https://docs.carrierx.com/mediator/mediator-api/"

REDIRECT_DID_INFO = {
    "country_code": "USA",
    "e164_format": STR,
    "in_country_format": STR,
    "international_format": STR,
    "phonenumber": PHONE,
}
# fmt: off
BINDING = {
    "account_sid": SID, "attributes": {"ringback": "moh"}, "binding_sid": SID,
    "date_created": DATE, "destination_did": "15162065338", "dtmf": None, "maximum_ttl": -1,
    "name": "N/A", "origination_did": None, "redirect_did": PHONE,
    "redirect_did_info": REDIRECT_DID_INFO, "wait_origination_did_ttl": 300,
}
# fmt: on

SAMPLES: tuple[Sample, ...] = (
    Sample(
        name="mediator/binding/create",
        page=D + "bindings/binding/create",
        api="mediator",
        method="POST",
        path="/bindings",
        status=200,
        given="mediator_did",
        body={"destination_did": "15162065338", "attributes": {"ringback": "moh"}},
        response=BINDING,
        mediator_wrapped=True,
        recorded=(
            Recorded("maximum_ttl", "value", "MEDIATOR_BINDING_DEFAULT_MAXIMUM_TTL", answered=3600),
        ),
    ),
    Sample(
        name="mediator/binding/list",
        page=D + "bindings/binding/get",
        api="mediator",
        method="GET",
        path="/bindings",
        status=200,
        given="mediator_binding",
        response={
            "count": 1,
            "has_more": False,
            "items": [
                {
                    **BINDING,
                    "attributes": {},
                    "destination_did": "15162065337",
                    "wait_origination_did_ttl": -1,
                }
            ],
            "limit": 10,
            "offset": 0,
            "pagination": {},
            "total": 1,
        },
        mediator_wrapped=True,
        note="the binding listed is made with the values the sample shows (TTLs of -1)",
    ),
    Sample(
        name="mediator/did/list",
        page=D + "dids/did/get",
        api="mediator",
        method="GET",
        path="/dids",
        status=200,
        given="mediator_did",
        response={
            "count": 1,
            "has_more": False,
            "items": [
                {
                    "account_sid": SID,
                    "country_code": "USA",
                    "did_sid": SID,
                    "in_country_format": STR,
                    "international_format": STR,
                    "phonenumber": PHONE,
                }
            ],
            "limit": 10,
            "offset": 0,
            "pagination": {},
            "total": 1,
        },
        mediator_wrapped=True,
    ),
    Sample(
        name="mediator/dialout/create",
        page=D + "dialouts/dialout/create",
        api="mediator",
        method="POST",
        path="/dialouts",
        status=200,
        given="mediator_did",
        body={
            "stage_one_destination_did": "15162065339",
            "stage_two_destination_did": "15162065338",
            "redirect_did": "{phonenumber}",
            "attributes": {"ringback": "false"},
        },
        note="redirect_did is a DID routed to the endpoint (the sample's 15162065340 is not ours)",
        response={
            "account_sid": SID,
            "attributes": {"hide_origination_did": "true", "ringback": "false"},
            "date_created": DATE,
            "delay": 0,
            "dialout_sid": SID,
            "redirect_did": PHONE,
            "stage_one_destination_did": "15162065339",
            "stage_two_destination_did": "15162065338",
        },
        mediator_wrapped=True,
    ),
)
