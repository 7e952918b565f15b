"""SMS/MMS messaging enablement of a rented DID (`/phonenumber/dids/{did_sid}/messaging`).

A number sends text messages only once its messaging is enabled ("To send messages from a rented
DID you need to enable SMS/MMS messaging on that DID first":
https://docs.carrierx.com/voice/core-api/sms/sms/send). One POST enables or disables it, GET
reads it (https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/enable,
…/get; the object: …/did-messaging-enablement). Every DID starts disabled, seeded and ported ones
included; releasing a DID drops its record. The DID's `active_capabilities` and `campaign_sid`
follow the enablement (the DID object page: with messaging disabled, active_capabilities is 4
for a voice DID, else 0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import load
from bulkx.sandbox.errors import ErrorAnswer, FieldError
from bulkx.sandbox.http import Api, require_object
from bulkx.sandbox.resources.dids import DID
from bulkx.sandbox.schema import Resource, ro, rw, validate_update
from bulkx.sandbox.world import World

#: Capability bits that carry messages: SMS in/out (1, 2) and MMS in/out (8, 16). A DID with
#: none of them (voice only) has no messaging record: 404 "no item error" (documented).
MESSAGING_BITS = 1 | 2 | 8 | 16
VOICE_BIT = 4
TYPES = ("a2p", "p2p")

DID_MESSAGING = Resource(
    name="did_messaging",
    api="core",
    path="/phonenumber/dids/{sid}/messaging",
    sid_field="_did_sid",
    collection="did_messaging",
    scope="phonenumber",
    operations=frozenset(),
    fields=(
        ro("campaign_external_id"),
        rw("campaign_sid"),
        ro("did_sid"),
        rw("enabled", "bool", False, nullable=False),
        rw("p2p_nnid"),
        ro("status", default="disabled", choices=("in_progress", "enabled", "disabled", "failed")),
        rw("type", choices=TYPES),
    ),
)

#: The fields a change of which, on a number that stays enabled, needs `force=true`.
_CONFIGURATION = ("type", "campaign_sid", "p2p_nnid")


def _the_did(ctx: Ctx, sid: str) -> dict[str, Any]:
    did = load(ctx, DID, sid)  # 404 for a DID that is not the caller's
    if not int(did.get("capabilities") or 0) & MESSAGING_BITS:
        # Documented: a DID with voice capabilities only answers 404 "no item error".
        raise ErrorAnswer(404, "no item error", [FieldError(None, "cannot find item by sid")])
    return did


def current(ctx: Ctx, did: Mapping[str, Any]) -> dict[str, Any]:
    """The DID's messaging record: the stored one, or the defaults of a never-enabled DID."""
    sid = str(did["did_sid"])
    found = ctx.world.store.get(DID_MESSAGING.collection, sid)
    return found if found is not None else {**DID_MESSAGING.defaults(), "did_sid": sid}


def enabled(ctx: Ctx, did_sid: str) -> bool:
    """Whether the DID may send (its messaging is enabled; `status` enabled)."""
    found = ctx.world.store.get(DID_MESSAGING.collection, did_sid)
    return bool(found and found.get("enabled") and found.get("status") == "enabled")


def _external_id(campaign_sid: Any) -> str | None:
    """The Campaign Registry's id of a campaign: made up, stable per campaign sid."""
    if not campaign_sid:
        return None
    digest = hashlib.sha256(str(campaign_sid).encode()).hexdigest().upper()
    return "C" + "".join(c for c in digest if c.isalnum())[:6]


def _answer(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as the API shows it: `p2p_nnid` only for a p2p number or once set
    (assumptions.DID_MESSAGING_P2P_NNID_SHOWN)."""
    answer = DID_MESSAGING.public(dict(record))
    if answer.get("p2p_nnid") is None and answer.get("type") != "p2p":
        answer.pop("p2p_nnid", None)
    return answer


def get_messaging(ctx: Ctx, params: Mapping[str, str], _body: Any) -> dict[str, Any]:
    ctx.principal.require_scope("phonenumber", "read")
    return _answer(current(ctx, _the_did(ctx, params["sid"])))


def post_messaging(ctx: Ctx, params: Mapping[str, str], body: Any) -> dict[str, Any]:
    ctx.principal.require_scope("phonenumber", "create")
    store = ctx.world.store
    with store.transaction():
        did = _the_did(ctx, params["sid"])
        before = current(ctx, did)
        updated = validate_update(DID_MESSAGING, before, require_object(body), replace=False)
        turning_on = bool(updated["enabled"])
        if turning_on and before.get("enabled") and not ctx.flag("force"):
            changed = [n for n in _CONFIGURATION if updated.get(n) != before.get(n)]
            if changed:
                status = assumptions.MESSAGING_CHANGE_NEEDS_FORCE_STATUS
                why = "messaging is enabled: disable it first, or send force=true to change it"
                raise ErrorAnswer(
                    status,
                    assumptions.MESSAGE_BY_STATUS[status],
                    [FieldError(name, why) for name in changed],
                )
        if turning_on and updated.get("type") is None:
            updated["type"] = assumptions.MESSAGING_DEFAULT_TYPE
        a2p = updated.get("type") == "a2p"
        updated["campaign_external_id"] = _external_id(updated.get("campaign_sid")) if a2p else None
        if not turning_on:
            updated["status"] = "disabled"
        else:
            at_once = assumptions.MESSAGING_ENABLED_AT_ONCE
            updated["status"] = "enabled" if at_once else "in_progress"
        sid = str(did["did_sid"])
        if store.get(DID_MESSAGING.collection, sid) is None:
            store.insert(DID_MESSAGING.collection, sid, ctx.owner, updated)
        else:
            store.replace(DID_MESSAGING.collection, sid, updated)
        capabilities = int(did.get("capabilities") or 0)
        did["active_capabilities"] = capabilities if turning_on else capabilities & VOICE_BIT
        did["campaign_sid"] = updated.get("campaign_sid") if turning_on and a2p else None
        store.replace(DID.collection, sid, did)
    answer = _answer(updated)
    if turning_on and not before.get("enabled"):
        # The documented answer to an enable: the number is being processed (reads show
        # "enabled" at once: assumptions.MESSAGING_ENABLED_AT_ONCE).
        answer["status"] = "in_progress"
    return answer


def mount(api: Api, world: World) -> None:
    api.add(world, DID_MESSAGING.path, ["GET"], get_messaging)
    api.add(world, DID_MESSAGING.path, ["POST"], post_messaging)


RESOURCES = (DID_MESSAGING,)

__all__ = ["DID_MESSAGING", "RESOURCES", "current", "enabled", "mount"]
