"""Kinds that send something: each item goes out exactly once, and only with --allow-send.

There is no diff to speak of: an item whose `ref` is found on a live object was sent already
(by an earlier run or before a crash) and is left alone; any other is sent. The `ref` travels
in the object's own `user_data`, so finding it again needs no state outside the API.
"""

from __future__ import annotations

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

KINDS = (SMS_MESSAGE,)
