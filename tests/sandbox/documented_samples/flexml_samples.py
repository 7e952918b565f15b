"""Documented samples of the FlexML API (`/flexml/v1`), each with its page."""

from __future__ import annotations

from tests.sandbox.documented_samples.model import DATE, PHONE, SID, STR, Sample

D = "https://docs.carrierx.com/flexml/flexml-api/"

# fmt: off
CALL = {
    "account_sid": SID, "attributes": {}, "call_sid": SID, "called_did": "15162065318",
    "calling_did": PHONE, "date_created": DATE, "delay": 0, "method": "POST",
    "status_callback_method": "POST", "status_callback_url": None, "url": None,
}
# fmt: on
# fmt: off
DID = {
    "account_sid": SID, "country_code": "USA", "did_sid": SID, "in_country_format": STR,
    "international_format": STR, "method": "POST", "phonenumber": PHONE,
    "status_callback_method": "POST", "status_callback_url": None, "url": None,
}
# fmt: on

# fmt: off
ACCOUNT = {
    "account_sid": SID, "date_created": DATE, "error_handler": "basic", "login": STR,
    "method": "POST", "name": "John Smith", "status_callback_method": "POST",
    "status_callback_url": None, "url": None,
}
# fmt: on

SAMPLES: tuple[Sample, ...] = (
    Sample(
        name="flexml/account/update",
        page=D + "accounts/account/update",
        api="flexml",
        method="PATCH",
        path="/accounts/{account_sid}",
        status=200,
        given="flexml_account",
        body={"method": "POST", "error_handler": "none"},
        response={**ACCOUNT, "error_handler": "none"},
        note="the endpoint is named John Smith, as the sample's account",
    ),
    Sample(
        name="flexml/call/create",
        page=D + "calls/call/create",
        api="flexml",
        method="POST",
        path="/calls",
        status=200,
        given="flexml_did",
        body={"calling_did": "{phonenumber}", "called_did": "15162065318"},
        note="calling_did is a DID routed to the endpoint (the sample's 15162065319 is not ours)",
        response=CALL,
    ),
    Sample(
        name="flexml/call/list-scheduled",
        page=D + "calls/call/get",
        api="flexml",
        method="GET",
        path="/calls",
        status=200,
        given="flexml_scheduled_call",
        response={
            "count": 1,
            "has_more": False,
            "items": [{**CALL, "called_did": "15162065317", "delay": 9993}],
            "limit": 10,
            "offset": 0,
            "pagination": {},
            "total": 1,
        },
    ),
    Sample(
        name="flexml/did/get",
        page=D + "dids/did",
        api="flexml",
        method="GET",
        path="/dids/{did_sid}",
        status=200,
        given="flexml_did",
        response=DID,
        note="the DID object's example, read by sid",
    ),
    Sample(
        name="flexml/did/update-method",
        page=D + "dids/did/update",
        api="flexml",
        method="PATCH",
        path="/dids/{did_sid}",
        status=200,
        given="flexml_did",
        body={"method": "GET"},
        response={**DID, "method": "GET"},
    ),
)
