"""Kinds that send something: each item goes out once, and only with --allow-send.

There is no diff to speak of: an item whose `ref` is found was sent already (by an earlier run
or before a crash) and is left alone; any other is sent. Where the API keeps the `ref` on what
was sent (an SMS's user_data, a call's attributes) it is found there, and a lost answer is
looked up: exactly once. Where it keeps nothing to find it by (a push notification, a
verification SMS, a TTS text) the run journals are the record (`bulkx.journal.sent`): at most
once, and an item whose answer was lost is reported as such and never sent again on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkx.kinds.model import SEND, Creation, Kind, PlanField, Sending

F = PlanField


def _sender() -> PlanField:
    """The sending number: it sends only once its messaging is enabled, so a send waits for the
    plan's did_messaging step of that number (the number itself is what the API takes)."""
    return F(
        "from",
        "e164",
        required=True,
        reference="did_messaging",
        sends_key=True,
        doc="A number on the account, its messaging enabled (a did_messaging step)",
    )


SMS_MESSAGE = Kind(
    name="sms.message",
    api="core",
    path="/sms/messages",
    sid_field="message_sid",
    key="ref",
    key_api="user_data",
    operations=frozenset({"create"}),
    confirmation=SEND,
    sending=Sending(paced_by="from"),
    doc="A text message, sent once (needs --allow-send). `ref` names it for good: it is kept in"
    " the message's user_data, so re-running the plan or resuming a run never sends it twice."
    " Write the text as a template over the CSV's columns: message: 'Hi {first_name}, ...'."
    " Each sending number is paced on its own (--send-rate, messages/s per number).",
    fields=(
        F(
            "ref",
            required=True,
            api="user_data",
            max_length=128,
            doc="Unique per message and stable across runs, e.g. '{campaign}-{customer_id}'",
        ),
        _sender(),
        F("to", "e164", required=True),
        F("message", required=True, max_length=1600),
        F("media_urls", "list", doc="MMS: URLs of the media to attach"),
    ),
)

#: Where a dial-out keeps its ref: the call's free-form attributes.
CALL_REF = "bulkx_ref"
_CALL_FIELDS = ("calling_did", "called_did", "url", "method", "delay", "status_callback_url")


def _call_to_api(values: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: values[k] for k in _CALL_FIELDS if values.get(k) not in (None, "")}
    body["attributes"] = {CALL_REF: values["ref"]}
    return body


def _call_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: obj[k] for k in _CALL_FIELDS if k in obj}
    out["ref"] = (obj.get("attributes") or {}).get(CALL_REF)
    return out


FLEXML_CALL = Kind(
    name="flexml.call",
    api="flexml",
    path="/calls",
    sid_field="call_sid",
    key="ref",
    key_api=f"attributes.{CALL_REF}",
    operations=frozenset({"create"}),
    confirmation=SEND,
    sending=Sending(paced_by="calling_did"),
    doc="A FlexML dial-out, placed once (needs --allow-send): the call fetches its FlexML from"
    " `url` when answered. `ref` travels in the call's attributes, so a re-run or a resume"
    " never dials twice. Each calling number is paced on its own (--send-rate).",
    to_api_hook=_call_to_api,
    from_api_hook=_call_from_api,
    fields=(
        F(
            "endpoint",
            api=None,
            required=True,
            reference="endpoint",
            doc="the flexml endpoint that places the call",
        ),
        F("ref", required=True, max_length=128, doc="Unique per call and stable across runs"),
        F("calling_did", "e164", required=True, doc="A number of the endpoint's account"),
        F("called_did", "e164", required=True),
        F("url", "url", required=True, doc="Where the FlexML instructions are fetched"),
        F("method", "enum", choices=("POST", "GET")),
        F("delay", "int", doc="Seconds before dialling"),
        F("status_callback_url", "url"),
    ),
)

_REF_DOC = "Unique per item and stable across runs: bulkx's journals remember it was sent"


def _ref() -> PlanField:
    return F("ref", required=True, api=None, max_length=128, doc=_REF_DOC)


def _push_to_api(values: Mapping[str, Any]) -> dict[str, Any]:
    body = {
        k: values[k]
        for k in ("title", "body", "data", "priority", "ttl")
        if values.get(k) not in (None, "")
    }
    body["recipients"] = [values["device"]]
    return body


def _push_undelivered(answer: Mapping[str, Any]) -> str | None:
    if not answer.get("failure"):
        return None
    results = answer.get("results") or {}
    return "the API did not deliver it: " + ", ".join(f"{k}: {v}" for k, v in results.items())


PUSH_NOTIFICATION = Kind(
    name="push.notification",
    api="core",
    path="/push/notifications",
    sid_field="notification_sid",
    key="ref",
    operations=frozenset({"create"}),
    confirmation=SEND,
    sending=Sending(traceable=False),
    creation=Creation(answer_fields=("success", "failure"), answer_problem=_push_undelivered),
    to_api_hook=_push_to_api,
    doc="A push notification to one registered device, sent at most once (needs --allow-send)."
    " The API keeps nothing to find a notification by, so bulkx's run journals remember each"
    " `ref` sent: a re-run skips it, and one whose answer was lost is reported, not resent.",
    fields=(
        _ref(),
        F(
            "device",
            required=True,
            api=None,
            reference="push.device",
            doc="the device's token (a push.device on the account)",
        ),
        F("title", max_length=255),
        F("body", max_length=4000),
        F("data", "object", doc="custom key/value data for the app"),
        F("priority", "enum", choices=("normal", "high")),
        F("ttl", "int", doc="seconds the push service keeps trying"),
    ),
)

VERIFICATION_SMS = Kind(
    name="verification.sms",
    api="core",
    path="/verification/sms",
    sid_field="message_sid",
    key="ref",
    operations=frozenset({"create"}),
    confirmation=SEND,
    sending=Sending(paced_by="from", traceable=False),
    creation=Creation(
        query_fields=("from", "to", "message", "code_length", "code_type"), answer_fields=("code",)
    ),
    doc="A verification code by SMS, sent at most once (needs --allow-send). The API makes the"
    " code and answers with it; the report (-o json) gives it per item, with the message sid."
    " `ref` is remembered by bulkx's journals, as the API keeps nothing to find it by.",
    fields=(
        _ref(),
        _sender(),
        F("to", "e164", required=True),
        F("message", max_length=1000, doc="The text before the code"),
        F("code_length", "int", doc="Characters in the code (1 to 32)"),
        F(
            "code_type",
            "enum",
            choices=(
                "numeric",
                "alphabetical",
                "alphabetical_lower",
                "alphabetical_upper",
                "alphanumeric",
                "alphanumeric_lower",
                "alphanumeric_upper",
            ),
        ),
    ),
)

TTS_TEXT = Kind(
    name="tts.text",
    api="core",
    path="/tts/texts",
    sid_field="file_sid",
    key="ref",
    operations=frozenset({"create"}),
    confirmation=SEND,
    sending=Sending(traceable=False),
    creation=Creation(
        query_fields=("container",),
        params={"response_format": "file"},
        answer_fields=("name", "publish_uri"),
    ),
    doc="Speech made from text, saved as an audio file in a storage container (e.g. IVR"
    " prompts a FlexML app plays), made at most once (needs --allow-send: it is billed)."
    " The report gives each file's sid and public URI.",
    fields=(
        _ref(),
        F(
            "container",
            required=True,
            api="response_container_sid",
            reference="storage.container",
            doc="the storage container the audio file goes to",
        ),
        F("text", required=True, max_length=3000),
        F("voice", api="voice_sid", doc="a voice sid of GET /tts/voices (default: the API's)"),
        F("language", max_length=16, doc="one of the voice's languages"),
    ),
)

KINDS = (SMS_MESSAGE, FLEXML_CALL, PUSH_NOTIFICATION, VERIFICATION_SMS, TTS_TEXT)
