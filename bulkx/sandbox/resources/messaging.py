"""Core messaging: SMS/MMS messages and their detail records, verification SMS and emails, push
notifications.

Nothing leaves the sandbox, but everything "sent" is recorded in the world, so a test can count
exactly what a run sent: `sms_messages` (with one `message_drs` row each), `verifications`,
`verification_emails` and `push_notifications` (see GET /_sandbox/state?collection=...).

A message's delivery is simulated by a clock that ticks on reads, not on time: the send answers
`queued`, and each later read of the SMS API moves every message in flight one step on
(`queued` -> `sent` -> `delivered`), so a test sees each status in a known order.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from decimal import Decimal
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import create_object, list_from_objects, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request, invalid, not_found
from bulkx.sandbox.http import Api, require_object
from bulkx.sandbox.resources.content import PUSH_DEVICE
from bulkx.sandbox.resources.did_messaging import enabled as messaging_enabled
from bulkx.sandbox.resources.lookups import carrier_for
from bulkx.sandbox.resources.rates import message_rate
from bulkx.sandbox.schema import Hooks, Resource, create_only, ro, rw, validate_create
from bulkx.sandbox.world import World, now_iso

# --- messages ------------------------------------------------------------------------------------

_NUMBER = re.compile(r"\+?[0-9]{7,15}")
_URL = re.compile(r"https?://\S+")
# The GSM 03.38 basic character set: a text made of these fits 160 characters per segment.
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def segments(text: str | None, *, mms: bool) -> int:
    if mms or not text:
        return 1
    single, multi = (160, 153) if set(text) <= _GSM7 else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


def _digits(value: str) -> str:
    return value[1:] if value.startswith("+") else value


def _each_number(value: Any) -> str | None:
    if not all(isinstance(v, str) and _NUMBER.fullmatch(v) for v in value):
        return "must be phone numbers in E.164 format"
    return None


def _each_url(value: Any) -> str | None:
    if not all(isinstance(v, str) and _URL.fullmatch(v) for v in value):
        return "must be http(s) URLs"
    return None


def _number_check(value: Any) -> str | None:
    return None if _NUMBER.fullmatch(str(value)) else "must be a phone number in E.164 format"


def _from_on_account(ctx: Ctx, number: str) -> str | None:
    """The sid of the caller's DID `number`, or None when it is not on the account."""
    rows = ctx.world.store.rows(
        "SELECT sid FROM t_dids WHERE c_phonenumber=? AND owner=? AND c_status='assigned' LIMIT 1",
        (number, ctx.principal.partner_sid),
    )
    return str(rows[0][0]) if rows else None


def _send(ctx: Ctx, obj: dict[str, Any]) -> None:
    """Validate a message to send and fill in what the server sets; a 422 lists every problem."""
    errors: list[FieldError] = []
    for name in ("from", "to"):
        if not obj.get(name):
            errors.append(FieldError(name, "field is required"))
    media, group = obj.get("media_urls") or [], obj.get("group_recipients") or []
    mms = bool(media or group)
    if not obj.get("message") and not media:
        errors.append(FieldError("message", "field is required (or media_urls, for an MMS)"))
    if len(media) > assumptions.MMS_MAX_MEDIA_URLS:
        errors.append(FieldError("media_urls", f"at most {assumptions.MMS_MAX_MEDIA_URLS} items"))
    if len(group) + 1 > assumptions.MMS_MAX_GROUP_DIDS:
        limit = assumptions.MMS_MAX_GROUP_DIDS - 1
        errors.append(FieldError("group_recipients", f"at most {limit} numbers besides the sender"))
    if errors:
        raise invalid(errors)
    sender = _digits(str(obj["from"]))
    did_sid = _from_on_account(ctx, sender)
    if did_sid is None:
        raise ErrorAnswer(
            assumptions.SMS_FROM_NOT_ON_ACCOUNT_STATUS,
            "from is not a number of this account",
            [FieldError("from", f"{sender} is not a phone number rented on this account")],
        )
    if assumptions.SMS_REQUIRES_MESSAGING_ENABLED and not messaging_enabled(ctx, did_sid):
        # https://docs.carrierx.com/voice/core-api/sms/sms/send: "to send messages from a
        # rented DID you need to enable SMS/MMS messaging on that DID first".
        raise ErrorAnswer(
            assumptions.SMS_MESSAGING_NOT_ENABLED_STATUS,
            assumptions.MESSAGE_BY_STATUS[assumptions.SMS_MESSAGING_NOT_ENABLED_STATUS],
            [
                FieldError(
                    "from",
                    f"SMS/MMS messaging is not enabled on {sender}: enable it first with"
                    " POST /phonenumber/dids/{did_sid}/messaging",
                    did_sid,
                )
            ],
        )
    now = now_iso()
    obj.update(
        {
            "date_changed": now,
            "date_created": now,
            "from": sender,
            "group_recipients": [_digits(n) for n in group],
            "message_segments": segments(obj.get("message"), mms=mms),
            "partner_sid": ctx.principal.partner_sid,
            "to": _digits(str(obj["to"])),
            "type": "mms" if mms else "sms",
            "_dr_sid": str(uuid.uuid4()),
        }
    )


def _record_dr(ctx: Ctx, message: dict[str, Any]) -> None:
    """Every message sent gets its detail record at once; both move on together."""
    dr_sid = str(message["_dr_sid"])
    dr = MESSAGE_DR.defaults() | {
        "date_changed": message["date_created"],
        "date_insert": message["date_created"],
        "date_start": message["date_created"],
        "direction": "outbound",
        "dr_sid": dr_sid,
        "media_urls": message["media_urls"],
        "message": message.get("message"),
        "message_segments": message["message_segments"],
        "number_billing": message["from"],
        "number_dst": message["to"],
        "number_external": message["to"],
        "number_group_dst": [message["to"], *message["group_recipients"]],
        "number_src": message["from"],
        "partner_sid": message["partner_sid"],
        "status": message["status"],
        "type": message["type"],
        "user_data": message.get("user_data"),
        "_message_sid": message["message_sid"],
    }
    ctx.world.store.insert(MESSAGE_DR.collection, dr_sid, ctx.owner, dr)


def _step(ctx: Ctx, message: dict[str, Any]) -> None:
    store, now = ctx.world.store, now_iso()
    dr = store.get(MESSAGE_DR.collection, str(message.get("_dr_sid"))) or {}
    status = assumptions.SMS_STATUS_STEPS[assumptions.SMS_STATUS_STEPS.index(message["status"]) + 1]
    message.update(status=status, date_status_changed=now, date_changed=now)
    dr.update(status=status, date_changed=now)
    if status == "sent":
        carrier = carrier_for(message["to"])
        mms = message["type"] == "mms"
        rate = message_rate("outbound", message["to"], mms=mms)
        recipients = 1 + len(message["group_recipients"])
        price = rate * message["message_segments"] * recipients
        mcc, mnc = int(carrier["mcc"]), int(carrier["mnc"])
        message.update(mcc=mcc, mnc=mnc, price=_money(price))
        dr.update(
            date_sent=now,
            mcc=mcc,
            mnc=mnc,
            mcc_mnc_price=_money(price),
            mcc_mnc_rate=_money(rate),
            price=_money(price),
            rate=_money(rate),
        )
    else:
        dr.update(date_stop=now)
    store.replace(SMS_MESSAGE.collection, message["message_sid"], message)
    if dr:
        store.replace(MESSAGE_DR.collection, str(dr["dr_sid"]), dr)


def _money(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"


_IN_FLIGHT = "c_status IN ('queued', 'sent')"


def advance_messages(ctx: Ctx) -> None:
    """One tick of the delivery clock for the caller's messages in flight."""
    store = ctx.world.store
    probe = f"SELECT 1 FROM t_{SMS_MESSAGE.collection} WHERE owner=? AND {_IN_FLIGHT} LIMIT 1"
    if not store.rows(probe, (ctx.owner,)):
        return
    with store.transaction():
        for message in store.find(SMS_MESSAGE.collection, _IN_FLIGHT, owner=ctx.owner):
            _step(ctx, message)


def _keep_dr_in_step(ctx: Ctx, current: dict[str, Any], updated: dict[str, Any]) -> None:
    """`user_data` set on a message shows on its detail record too."""
    dr = ctx.world.store.get(MESSAGE_DR.collection, str(current.get("_dr_sid")))
    if dr is not None and dr.get("user_data") != updated.get("user_data"):
        dr["user_data"] = updated.get("user_data")
        ctx.world.store.replace(MESSAGE_DR.collection, str(dr["dr_sid"]), dr)
    _changed_now(ctx, current, updated)


def _changed_now(_ctx: Ctx, _current: dict[str, Any], updated: dict[str, Any]) -> None:
    updated["date_changed"] = now_iso()


SMS_MESSAGE = Resource(
    name="sms_message",
    api="core",
    path="/sms/messages",
    sid_field="message_sid",
    collection="sms_messages",
    indexed=("status", "from", "to", "date_created"),
    scope="sms",
    operations=frozenset({"list", "get", "update"}),
    hooks=Hooks(
        before_create=_send,
        after_create=_record_dr,
        before_update=_keep_dr_in_step,
        before_read=advance_messages,
    ),
    fields=(
        ro("date_changed"),
        ro("date_created"),
        ro("date_status_changed"),
        ro("direction", default="outbound"),
        create_only("from", check=_number_check),
        create_only("group_recipients", "array", [], nullable=False, check=_each_number),
        ro("mcc", "int"),
        create_only("media_urls", "array", [], nullable=False, check=_each_url),
        create_only("message", max_length=assumptions.SMS_MAX_MESSAGE_CHARS),
        ro("message_segments", "int", 1),
        ro("message_sid"),
        ro("mnc", "int"),
        ro("partner_sid"),
        ro("price"),
        ro("status", default="queued"),
        create_only("to", check=_number_check),
        ro("type", default="sms"),
        rw("user_data", max_length=assumptions.SMS_USER_DATA_MAX_LENGTH),
    ),
)

MESSAGE_DR = Resource(
    name="message_dr",
    api="core",
    path="/sms/message_drs",
    sid_field="dr_sid",
    collection="message_drs",
    indexed=("date_start", "date_stop", "direction", "number_src", "number_dst", "status"),
    scope="sms",
    operations=frozenset({"list", "get", "update"}),
    hooks=Hooks(before_read=advance_messages, before_update=_changed_now),
    fields=(
        ro("a2p_campaign"),
        ro("date_changed"),
        ro("date_insert"),
        ro("date_sent"),
        ro("date_start"),
        ro("date_stop"),
        ro("delay_sent", "int", 0),
        ro("direction"),
        ro("dr_sid"),
        ro("mcc", "int"),
        ro("mcc_mnc_price"),
        ro("mcc_mnc_rate"),
        ro("media_urls", "array", []),
        ro("message"),
        ro("message_segments", "int", 1),
        ro("mnc", "int"),
        ro("number_billing"),
        ro("number_dst"),
        ro("number_external"),
        ro("number_group_dst", "array", []),
        ro("number_src"),
        ro("p2p_nnid"),
        ro("partner_sid"),
        ro("passthrough_price"),
        ro("passthrough_rate"),
        ro("price"),
        ro("provider", default=assumptions.MDR_PROVIDER),
        ro("rate"),
        ro("registration_type"),
        ro("status"),
        ro("type", default="sms"),
        rw("user_data", max_length=assumptions.SMS_USER_DATA_MAX_LENGTH),
        ro("vendor_error_code"),
        ro("version"),
    ),
)


def send_message(ctx: Ctx, body: Any) -> dict[str, Any]:
    body = dict(require_object(body))
    for legacy, name in assumptions.SMS_LEGACY_FIELD_NAMES.items():
        if legacy in body and name not in body:
            body[name] = body.pop(legacy)
    return create_object(ctx, SMS_MESSAGE, body)


# --- verification ------------------------------------------------------------------------------

VERIFICATION = Resource(
    name="verification",
    api="core",
    path="/verification/sms",
    sid_field="verification_sid",
    collection="verifications",
    operations=frozenset(),
    fields=(
        ro("code"),
        ro("date_created"),
        ro("from"),
        ro("message_sid"),
        ro("partner_sid"),
        ro("to"),
        ro("type"),
        ro("verification_sid"),
    ),
)

_CODE_ALPHABETS = {
    "alphabetical": string.ascii_letters,
    "alphabetical_lower": string.ascii_lowercase,
    "alphabetical_upper": string.ascii_uppercase,
    "alphanumeric": string.ascii_letters + string.digits,
    "alphanumeric_lower": string.ascii_lowercase + string.digits,
    "alphanumeric_upper": string.ascii_uppercase + string.digits,
    "numeric": string.digits,
}


def send_verification_sms(ctx: Ctx) -> dict[str, Any]:
    query = ctx.query
    missing = [
        FieldError(n, "query argument is required") for n in ("from", "to") if not query.get(n)
    ]
    if missing:
        raise ErrorAnswer(400, assumptions.MESSAGE_BY_STATUS[400], missing)
    kind = query.get("code_type") or "numeric"
    if kind not in _CODE_ALPHABETS:
        raise bad_request("code_type must be one of " + ", ".join(_CODE_ALPHABETS), "code_type")
    raw_length = query.get("code_length") or str(assumptions.VERIFICATION_CODE_LENGTH)
    if not raw_length.isdigit() or not 1 <= int(raw_length) <= 32:
        raise bad_request("code_length must be an integer from 1 to 32", "code_length")
    sid = str(uuid.uuid4())
    code = "".join(random.Random(sid).choices(_CODE_ALPHABETS[kind], k=int(raw_length)))
    prefix = (query.get("message") or assumptions.VERIFICATION_MESSAGE).rstrip()
    store = ctx.world.store
    with store.transaction():
        message = create_object(
            ctx,
            SMS_MESSAGE,
            {"from": query["from"], "to": query["to"], "message": f"{prefix} {code}"},
        )
        record = {
            "code": code,
            "date_created": message["date_created"],
            "from": message["from"],
            "message_sid": message["message_sid"],
            "partner_sid": ctx.principal.partner_sid,
            "to": message["to"],
            "type": "sms",
            "verification_sid": sid,
        }
        store.insert(VERIFICATION.collection, sid, ctx.owner, record)
    return {"code": code, "message_sid": message["message_sid"]}


_TEMPLATE_TEXT = (
    "Hello!\n\nPlease confirm your email address by pasting this link into your browser:\n"
    "${base_url}?token=${uuid}\n"
)
EMAIL_TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "bcc_addresses": None,
        "cc_addresses": None,
        "from_address": "noreply@carrierx.com",
        "html_body": "<p>To complete your password reset, open"
        ' <a href="${base_url}?token=${uuid}">this link</a>.</p>',
        "name": "Forgot Partner Password template",
        "subject": "CarrierX Password Reset",
        "template_sid": "465eb46b-05a7-4251-b89c-e99f2b81509b",
        "text_body": "To complete your password reset, please click the link below:\n"
        "${base_url}?token=${uuid}\n",
        "to_addresses": None,
        "type": "forgot_partner_password",
    },
    {
        "bcc_addresses": None,
        "cc_addresses": None,
        "from_address": "noreply@carrierx.com",
        "html_body": '<p>Please confirm your email address: <a href="${base_url}?token=${uuid}">'
        "confirm</a>.</p>",
        "name": "Email Verification template",
        "subject": "CarrierX Email Verification",
        "template_sid": assumptions.VERIFICATION_EMAIL_TEMPLATE_SID,
        "text_body": _TEMPLATE_TEXT,
        "to_addresses": None,
        "type": "email_address_verification",
    },
)
_TEMPLATES = {t["template_sid"]: t for t in EMAIL_TEMPLATES}

EMAIL_TEMPLATE = Resource(
    name="email_template",
    api="core",
    path="/verification/email/templates",
    sid_field="template_sid",
    operations=frozenset(),
    fields=tuple(ro(name) for name in sorted(EMAIL_TEMPLATES[0])),
)

_EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")


def _template_known(value: Any) -> str | None:
    return None if value in _TEMPLATES else "no such email template"


VERIFICATION_EMAIL = Resource(
    name="verification_email",
    api="core",
    path="/verification/email",
    sid_field="_token",
    collection="verification_emails",
    indexed=("_token",),
    operations=frozenset(),
    fields=(
        rw(
            "base_url",
            default=assumptions.VERIFICATION_BASE_URL,
            nullable=False,
            check=lambda v: None if _URL.fullmatch(v) else "must be an http(s) URL",
        ),
        rw(
            "email_template_sid",
            default=assumptions.VERIFICATION_EMAIL_TEMPLATE_SID,
            nullable=False,
            check=_template_known,
        ),
        rw("partner_sid"),
        ro("status", default="sent_email"),
        rw(
            "to_address",
            check=lambda v: None if _EMAIL.fullmatch(v) else "must be an email address",
        ),
    ),
)


def send_verification_email(ctx: Ctx, body: Any) -> dict[str, Any]:
    values = validate_create(VERIFICATION_EMAIL, require_object(body))
    if not values.get("to_address") and not values.get("partner_sid"):
        raise invalid([FieldError("to_address", "send to_address or partner_sid")])
    partner = values.get("partner_sid")
    if partner is not None and partner != ctx.principal.partner_sid:
        raise invalid([FieldError("partner_sid", "not this partner's sid", str(partner))])
    token = str(uuid.uuid4())
    record = {**values, "_date_created": now_iso(), "_token": token}
    ctx.world.store.insert(VERIFICATION_EMAIL.collection, token, ctx.owner, record)
    return render(ctx, VERIFICATION_EMAIL, record)


def verify_email_token(ctx: Ctx, token: str) -> dict[str, Any]:
    store = ctx.world.store
    with store.transaction():
        record = store.get(VERIFICATION_EMAIL.collection, token, owner=ctx.owner)
        if record is None:
            raise not_found("verification token", token)
        record["status"] = "verified"
        store.replace(VERIFICATION_EMAIL.collection, token, record)
    return render(ctx, VERIFICATION_EMAIL, record)


def get_template(ctx: Ctx, sid: str) -> dict[str, Any]:
    found = _TEMPLATES.get(sid)
    if found is None:
        raise not_found("email template", sid)
    return render(ctx, EMAIL_TEMPLATE, found)


# --- push notifications --------------------------------------------------------------------------


def _recipients_check(value: Any) -> str | None:
    if not value:
        return "must name at least one device"
    if len(value) > assumptions.PUSH_MAX_RECIPIENTS:
        return f"at most {assumptions.PUSH_MAX_RECIPIENTS} devices"
    if not all(isinstance(v, str) and v for v in value):
        return "must be device sids (strings)"
    return None


PUSH_NOTIFICATION = Resource(
    name="push_notification",
    api="core",
    path="/push/notifications",
    sid_field="notification_sid",
    collection="push_notifications",
    scope="push",
    operations=frozenset(),
    fields=(
        rw("body", max_length=4000),
        rw("data", "object", None),
        ro("date_created"),
        ro("failure", "int"),
        ro("notification_sid"),
        ro("partner_sid"),
        rw("priority", default="normal", choices=("normal", "high")),
        rw("recipients", "array", None, required=True, nullable=False, check=_recipients_check),
        ro("results", "object"),
        ro("success", "int"),
        rw("title", max_length=255),
        rw("ttl", "int", None, check=lambda v: None if v >= 0 else "must not be negative"),
    ),
)


def send_push(ctx: Ctx, body: Any) -> dict[str, Any]:
    ctx.principal.require_scope("push", "create")
    values = validate_create(PUSH_NOTIFICATION, require_object(body))
    store = ctx.world.store
    results: dict[str, str] = {}
    for device in values["recipients"]:
        exists = store.get(PUSH_DEVICE.collection, device, owner=ctx.owner) is not None
        results[device] = "success" if exists else assumptions.PUSH_UNKNOWN_DEVICE_RESULT
    success = sum(1 for r in results.values() if r == "success")
    sid = str(uuid.uuid4())
    record = {
        **values,
        "date_created": now_iso(),
        "failure": len(results) - success,
        "notification_sid": sid,
        "partner_sid": ctx.principal.partner_sid,
        "results": results,
        "success": success,
    }
    store.insert(PUSH_NOTIFICATION.collection, sid, ctx.owner, record)
    return {
        "failure": record["failure"],
        "results": dict(sorted(results.items())),
        "success": success,
    }


# --- routes ---------------------------------------------------------------------------------------


def mount(api: Api, world: World) -> None:
    api.add(world, "/sms/messages", ["POST"], lambda c, _p, b: send_message(c, b))
    api.add_resource(world, SMS_MESSAGE)
    api.add_resource(world, MESSAGE_DR)
    api.add(world, "/verification/sms", ["POST"], lambda c, _p, _b: send_verification_sms(c))
    api.add(world, "/verification/email", ["POST"], lambda c, _p, b: send_verification_email(c, b))
    api.add(
        world,
        "/verification/email/tokens/{token}",
        ["GET"],
        lambda c, p, _b: verify_email_token(c, p["token"]),
    )
    api.add(
        world,
        "/verification/email/templates",
        ["GET"],
        lambda c, _p, _b: list_from_objects(c, EMAIL_TEMPLATE, list(EMAIL_TEMPLATES)),
    )
    api.add(
        world,
        "/verification/email/templates/{sid}",
        ["GET"],
        lambda c, p, _b: get_template(c, p["sid"]),
    )
    api.add(world, "/push/notifications", ["POST"], lambda c, _p, b: send_push(c, b))


RESOURCES = (SMS_MESSAGE, MESSAGE_DR, VERIFICATION, VERIFICATION_EMAIL, PUSH_NOTIFICATION)

__all__ = ["MESSAGE_DR", "RESOURCES", "SMS_MESSAGE", "advance_messages", "mount", "segments"]
