"""Kinds that send something: each item goes out exactly once, and only with --allow-send.

There is no diff to speak of: an item whose `ref` is found on a live object was sent already
(by an earlier run or before a crash) and is left alone; any other is sent. The `ref` travels
in the object's own `user_data`, so finding it again needs no state outside the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkx.resources.model import Kind, PlanField

F = PlanField

SEND_FLAG = "--allow-send"

SMS_MESSAGE = Kind(
    name="sms.message",
    api="core",
    path="/sms/messages",
    sid_field="message_sid",
    key="ref",
    key_api="user_data",
    operations=frozenset({"create"}),
    confirm_flag=SEND_FLAG,
    sends=True,
    paced_by="from",
    doc="A text message, sent once (needs --allow-send). `ref` names it for good: it is kept in"
    " the message's user_data, so re-running the plan or resuming a run never sends it twice."
    " Write the text as a template over the CSV's columns: message: 'Hi {first_name}, ...'."
    " Each sending number is paced on its own (--send-rate, messages/s per number).",
    fields=(
        F("ref", required=True, api="user_data", max_length=128,
          doc="Unique per message and stable across runs, e.g. '{campaign}-{customer_id}'"),
        F("from", "e164", required=True, doc="A number on the account that sends it"),
        F("to", "e164", required=True),
        F("message", required=True, max_length=1600),
        F("media_urls", "list", doc="MMS: URLs of the media to attach"),
    ),
)  # fmt: skip

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
    confirm_flag=SEND_FLAG,
    sends=True,
    paced_by="calling_did",
    doc="A FlexML dial-out, placed once (needs --allow-send): the call fetches its FlexML from"
    " `url` when answered. `ref` travels in the call's attributes, so a re-run or a resume"
    " never dials twice. Each calling number is paced on its own (--send-rate).",
    to_api_hook=_call_to_api,
    from_api_hook=_call_from_api,
    fields=(
        F("endpoint", api=None, required=True, reference="endpoint",
          doc="the flexml endpoint that places the call"),
        F("ref", required=True, max_length=128, doc="Unique per call and stable across runs"),
        F("calling_did", "e164", required=True, doc="A number of the endpoint's account"),
        F("called_did", "e164", required=True),
        F("url", "url", required=True, doc="Where the FlexML instructions are fetched"),
        F("method", "enum", choices=("POST", "GET")),
        F("delay", "int", doc="Seconds before dialling"),
        F("status_callback_url", "url"),
    ),
)  # fmt: skip

KINDS = (SMS_MESSAGE, FLEXML_CALL)
