"""Core API kinds (`/core/v2`): numbers and their records, prefixes, routing, access control."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkx.kinds.model import (
    ALL_OPERATIONS,
    RELEASE,
    UPDATE_ONLY,
    Creation,
    Kind,
    Nesting,
    PlanField,
    ensure_field,
)

F = PlanField

# --- phone numbers ---------------------------------------------------------------------------

DID = Kind(
    name="did",
    api="core",
    path="/phonenumber/dids",
    sid_field="did_sid",
    key="phonenumber",
    operations=ALL_OPERATIONS,
    creation=Creation(inventory="/phonenumber/available_dids"),
    listed_by_key=True,
    delete_verb=RELEASE,
    existing_ensure="adopted",
    noun="number",
    progress_label="DIDs",
    doc="A phone number on the account: rent it, adopt a ported one, or release it.",
    fields=(
        F("phonenumber", "e164", required=True, doc="E.164; '+1 (516) 206-5575' is accepted"),
        ensure_field(release=True),
        # An unnamed DID is "N/A" (docs.carrierx.com/voice/core-api/phone-numbers/did).
        F("name", max_length=255, empty="N/A"),
        F("trunk_group", api="trunk_group_sid", reference="trunk_group"),
        F("did_group", api="did_group_sid", reference="did_group"),
        F("callback_url", "url"),
        F("string_key_1"),
        F("string_key_2"),
        F("attributes", "object"),
    ),
)

_ADDRESS = ("address_1", "address_2", "city", "state", "zip", "country_code")


def _emergency_to_api(values: Mapping[str, Any]) -> dict[str, Any]:
    # A cleared (None) text field is sent as "": the documented E911 objects show an empty
    # address line so (docs.carrierx.com/voice/core-api/phone-numbers/did-emergency/get).
    body: dict[str, Any] = {
        k: "" if values[k] is None else values[k] for k in ("caller_name", "enabled") if k in values
    }
    if any(k in values for k in _ADDRESS):
        location = {k: "" if values[k] is None else values[k] for k in _ADDRESS if k in values}
        if not location.get("country_code"):
            location["country_code"] = "USA"
        body["locations"] = [location]
    return body


def _emergency_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: obj[k] for k in ("caller_name", "enabled") if k in obj}
    locations = obj.get("locations") or []
    first = locations[0] if locations else {}
    out.update({k: first.get(k) for k in _ADDRESS})
    return out


DID_EMERGENCY = Kind(
    name="did_emergency",
    progress_label="E911",
    api="core",
    path="/phonenumber/dids/{parent_sid}/emergency",
    sid_field="did_sid",
    key="phonenumber",
    parent="did",
    parent_field="phonenumber",
    singleton=True,
    operations=UPDATE_ONLY,
    doc="The E911 record of a DID: caller name and one dispatchable address.",
    to_api_hook=_emergency_to_api,
    from_api_hook=_emergency_from_api,
    # One location object: an update that changes address_1 keeps the live suite (address_2)
    # unless the plan clears it.
    written_together=_ADDRESS,
    fields=(
        F("phonenumber", "e164", required=True),
        F("caller_name", max_length=32, empty=""),
        F("enabled", "bool", default=True),
        F("address_1", required=True, max_length=60),
        F("address_2", max_length=60, empty="", doc="suite, floor, room; <clear> empties it"),
        F("city", required=True, max_length=40),
        F("state", "state", required=True),
        F("zip", "zip", required=True),
        F("country_code", "alpha3", default="USA"),
    ),
)

DID_LINE_INFORMATION = Kind(
    name="did_line_information",
    progress_label="line information",
    api="core",
    path="/phonenumber/dids/{parent_sid}/line_information",
    sid_field="did_sid",
    key="phonenumber",
    parent="did",
    parent_field="phonenumber",
    singleton=True,
    operations=UPDATE_ONLY,
    doc="Line information (CNAM and directory listing) of a DID.",
    # Its text fields read "" when empty (docs.carrierx.com/voice/core-api/phone-numbers/
    # did-line-information); its choices have documented defaults, not empty values.
    fields=(
        F("phonenumber", "e164", required=True),
        F("caller_name", max_length=15, empty=""),
        F("class_of_service", "enum", choices=("business", "none", "residential")),
        F("enabled", "bool", default=True),
        F("extended_business_name", empty=""),
        F("extended_first_name", empty=""),
        F("extended_last_name", empty=""),
        F("privacy", "enum", choices=("public", "private")),
        F(
            "screening",
            "enum",
            choices=(
                "allow_all",
                "block_collect",
                "block_third_number",
                "block_third_number_collect",
            ),
        ),
    ),
)

DID_MESSAGING = Kind(
    name="did_messaging",
    progress_label="messaging",
    api="core",
    path="/phonenumber/dids/{parent_sid}/messaging",
    sid_field="did_sid",
    key="phonenumber",
    parent="did",
    parent_field="phonenumber",
    singleton=True,
    operations=UPDATE_ONLY,
    # One POST enables or disables it (docs.carrierx.com/voice/core-api/phone-numbers/
    # did-messaging-enablement/enable); GET reads it.
    update_method="POST",
    doc="SMS/MMS messaging of a DID: a number sends text messages (sms.message,"
    " verification.sms) only once its messaging is enabled, so enable it in a step before the"
    " sends. Enabling has a monthly fee. To change the type or campaign of an enabled number,"
    " disable it in one run, then enable it with the new settings.",
    fields=(
        F("phonenumber", "e164", required=True),
        F("enabled", "bool", default=True, doc="true: the number may send SMS/MMS"),
        F(
            "type",
            "enum",
            choices=("a2p", "p2p"),
            doc="a2p (the default partners have) or p2p (through support)",
        ),
        F("campaign_sid", doc="the 10DLC campaign of an a2p number"),
        F("p2p_nnid", doc="the NetNumber ID of a p2p number"),
    ),
)

DID_GROUP = Kind(
    name="did_group",
    api="core",
    path="/phonenumber/did_groups",
    sid_field="did_group_sid",
    key="name",
    operations=ALL_OPERATIONS,
    doc="A Core DID group.",
    fields=(F("name", required=True, max_length=255), ensure_field(), F("callback_url", "url")),
)

SHORT_CODE = Kind(
    name="short_code",
    api="core",
    path="/phonenumber/short_codes",
    sid_field="short_code_sid",
    key="short_code",
    operations=UPDATE_ONLY,
    creation=Creation(
        missing_hint="short codes are provisioned by CarrierX (through support), not through"
        " the API; bulkx only updates the ones on the account"
    ),
    doc="A short code on the account: its name, DID group and callback (CarrierX provisions it).",
    fields=(
        F("short_code", "digits", required=True),
        F("name", max_length=255),
        F("did_group", api="did_group_sid", reference="did_group"),
        F("callback_url", "url"),
        F("string_key_1"),
        F("string_key_2"),
        F("attributes", "object"),
    ),
)

# --- prefixes --------------------------------------------------------------------------------

#: Outbound and LRN prefixes have the same fields.
_PREFIX_FIELDS = (
    F("prefix", "digits", required=True, create_only=True),
    F("name"),
    F("trunk_group", api="trunk_group_sid", reference="trunk_group"),
    F("source_trunk_group", api="source_trunk_group_sid", reference="trunk_group"),
    F("callback_url", "url"),
)

PREFIX = Kind(
    name="prefix",
    api="core",
    path="/phonenumber/prefixes",
    sid_field="prefix_sid",
    key="prefix",
    operations=ALL_OPERATIONS,
    doc="An outbound routing prefix.",
    fields=(*_PREFIX_FIELDS[:1], ensure_field(), *_PREFIX_FIELDS[1:]),
)

LRN_PREFIX = Kind(
    name="lrn_prefix",
    api="core",
    path="/phonenumber/lrn_prefixes",
    sid_field="lrn_prefix_sid",
    key="prefix",
    operations=ALL_OPERATIONS,
    doc="An LRN prefix: calls to numbers ported to this LRN go to its trunk group.",
    fields=(*_PREFIX_FIELDS[:1], ensure_field(), *_PREFIX_FIELDS[1:]),
)

# --- routing ---------------------------------------------------------------------------------

TRUNK_GROUP = Kind(
    name="trunk_group",
    api="core",
    path="/trunk_groups",
    sid_field="trunk_group_sid",
    key="name",
    operations=ALL_OPERATIONS,
    doc="A trunk group: where calls to its DIDs go.",
    fields=(
        F("name", required=True, max_length=255),
        ensure_field(),
        F("routing_type"),
        F("hard_failure_codes"),
        F("hard_failure_cooldown", "int"),
        F("hard_failure_interval", "int"),
        F("hard_failure_last_resort", "enum", choices=("first", "reject502", "reject503")),
        F("hard_failure_threshold", "int"),
        F("soft_failure_codes"),
        F("sip_options_threshold", "int"),
    ),
)

TRUNK = Kind(
    name="trunk",
    api="core",
    path="/trunk_groups/{parent_sid}/trunks",
    sid_field="trunk_sid",
    key="name",
    parent="trunk_group",
    parent_field="trunk_group",
    nested_in=Nesting("trunks", {"with_trunks": "true"}),
    operations=ALL_OPERATIONS,
    doc="A trunk of a trunk group.",
    fields=(
        F("trunk_group", api=None, required=True, reference="trunk_group"),
        F("name", required=True),
        ensure_field(),
        F("endpoint", api="endpoint_sid", reference="endpoint"),
        F("priority", "int"),
        F("weight", "int"),
        F("in_capacity", "int"),
        F("out_capacity", "int"),
        F(
            "codec",
            "enum",
            choices=(
                "alaw",
                "g722",
                "g723",
                "g729",
                "gsm",
                "opus8",
                "opus12",
                "opus16",
                "opus24",
                "opus48",
                "ulaw",
            ),
        ),
        F(
            "allow_forward",
            "enum",
            choices=("direct", "direct_uri", "disabled", "protected", "reroute"),
        ),
        F("asn_mode", "enum", choices=("disable", "read", "write", "read_write")),
    ),
)

ENDPOINT = Kind(
    name="endpoint",
    api="core",
    path="/endpoints",
    sid_field="endpoint_sid",
    key="name",
    operations=ALL_OPERATIONS,
    doc="An endpoint: a SIP device or a hosted app (conference_v2, flexml, mediator, ...).",
    fields=(
        F("name", required=True, max_length=255),
        ensure_field(),
        F(
            "type",
            "enum",
            create_only=True,
            default="third_party",
            choices=(
                "system_gateway",
                "third_party",
                "conference",
                "conference_playback",
                "conference_v2",
                "flexml",
                "mediator",
                "voicemail",
            ),
        ),
        F("capacity", "int"),
        F("attributes", "object"),
    ),
)

ACCESSCONTROL_RULE = Kind(
    name="accesscontrol_rule",
    api="core",
    path="/accesscontrol/rules",
    sid_field="rule_sid",
    key="name",
    operations=ALL_OPERATIONS,
    doc="An access control rule: which calls or messages a trunk group's ACLs match.",
    fields=(
        F("name", required=True),
        ensure_field(),
        F(
            "field",
            "enum",
            required=True,
            choices=("calling", "called", "from", "to", "message", "from_did", "to_did"),
            doc="calling/called for voice; from/to/message for SMS",
        ),
        # The value lists of docs.carrierx.com/voice/core-api/access-control/access-control-rule
        F(
            "operation",
            "enum",
            required=True,
            choices=("exact", "prefix", "regexp"),
            doc="how entries match: exact, prefix or regexp",
        ),
        F(
            "quantifier",
            "enum",
            required=True,
            choices=("all", "any", "none"),
            doc="all, any or none of the entries must match",
        ),
        F("entries", "list", required=True, doc='the values matched, e.g. ["1800", "1888"]'),
    ),
)

KINDS = (
    DID,
    DID_EMERGENCY,
    DID_LINE_INFORMATION,
    DID_MESSAGING,
    DID_GROUP,
    SHORT_CODE,
    PREFIX,
    LRN_PREFIX,
    TRUNK_GROUP,
    TRUNK,
    ENDPOINT,
    ACCESSCONTROL_RULE,
)
