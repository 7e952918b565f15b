"""Assumptions of the sandbox about FlexML and Mediator."""

from __future__ import annotations

from typing import Final

# --- flexml and mediator --------------------------------------------------------------------------
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

# --- mediator (shapes) ----------------------------------------------------------------------------
#: A dialout starts with `hide_origination_did: "true"` among its attributes unless sent: the
#: create sample answers it for a body that sent only `ringback`
#: (https://docs.carrierx.com/mediator/mediator-api/dialouts/dialout/create), and the Mediator CDR
#: sample of a dialout carries it too.
MEDIATOR_DIALOUT_DEFAULT_ATTRIBUTES: Final = {"hide_origination_did": "true"}
#: A binding's `wait_origination_did_ttl` may be -1 (never), as its `maximum_ttl` may: the Get
#: Bindings sample shows both at -1 (https://docs.carrierx.com/mediator/mediator-api/bindings/binding/get).
MEDIATOR_WAIT_TTL_NEVER_EXPIRES: Final = -1
