"""Assumptions of the sandbox about records (CDRs, MDRs, app records), SMS/MMS and its enablement,
rates, invoices, lookups, TTS, verification and push sends."""

from __future__ import annotations

from typing import Final

# --- records, messaging, rates and lookups --------------------------------------------------------
#: Calls, rating, invoices, lookups, countries, TTS and verification are not scope checked: their
#: scopes (calls.*, rating.*, invoices.*, lookup.*, ...) are not among the token scopes the
#: sandbox knows. SMS methods check sms.* (so does the SMS a verification sends), push
#: notifications push.*, a TTS file saved to storage storage.*. App records (`/app/...`) check
#: app.manage or app.read, as documented
#: (https://docs.carrierx.com/voice/core-api/apps/mediator-cdr/get); the default token has
#: app.manage.
UNSCOPED_AREAS: Final = (
    "calls",
    "countries",
    "invoices",
    "lookup",
    "rating",
    "tts",
    "verification",
)
#: CDR and app record numbers (duration, duration_billing, price, rate) are strings, as in the
#: docs' samples, though the field tables say "number"; filters on them compare as strings.
RECORD_NUMBERS_ARE_STRINGS: Final = True
#: Fields of a conference meeting record (`/app/conference/meetings`); the docs give none.
CONFERENCE_MEETING_DR_FIELDS: Final = (
    "date_insert",
    "date_start",
    "date_stop",
    "duration",
    "endpoint_sid",
    "meeting_room_sid",
    "meeting_sid",
    "participants",
    "partner_sid",
)
#: Seeded records: the share of inbound calls, of unanswered calls (no talk, price 0), of inbound
#: messages (status "received") and of MMS among messages.
SEEDED_CDR_INBOUND_SHARE: Final = 0.6
SEEDED_CDR_UNANSWERED_SHARE: Final = 0.1
SEEDED_MDR_INBOUND_SHARE: Final = 0.3
SEEDED_MDR_MMS_SHARE: Final = 0.1
#: Seeded calls and messages are with this many outside numbers (each seeding draws its own).
SEEDED_CONTACTS: Final = 500
#: A message's delivery: the send answers the first status, and each later read of the SMS API
#: (messages or detail records, list or get) moves every message in flight one step on. The docs
#: name `queued` (the send sample) and `sent`/`delivered` (later samples); time plays no part.
SMS_STATUS_STEPS: Final = ("queued", "sent", "delivered")
#: `from` must be a DID assigned to the caller's account (the docs name no status for one that
#: is not).
SMS_FROM_NOT_ON_ACCOUNT_STATUS: Final = 422
#: Documented (https://docs.carrierx.com/voice/core-api/sms/sms/send): "to send messages from a
#: rented DID you need to enable SMS/MMS messaging on that DID first"; the verification SMS page
#: says the same. A send (or verification SMS) from a number whose messaging is not enabled is
#: refused; the docs give no status for it (the external DID page only says "an error will be
#: returned"), so it is the 422 "object validation error" naming `from`, as the enable call
#: answers for external DIDs.
SMS_REQUIRES_MESSAGING_ENABLED: Final = True
SMS_MESSAGING_NOT_ENABLED_STATUS: Final = 422
#: Messaging enablement
#: (https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/enable):
#: every DID starts disabled (the object's documented default), ported and seeded ones included.
#: The enable answers `status: in_progress` (the documented sample) and completes at once: every
#: later read shows `enabled` and the number sends (the messaging quick start says it "usually
#: takes a few seconds"; a rehearsal should not wait).
MESSAGING_ENABLED_AT_ONCE: Final = True
#: `type` when an enable sends none: "the partner/global default value. By default, partners are
#: only enabled for a2p" (documented); a never-enabled DID reads `type: null`. `campaign_sid` is
#: not checked (the sandbox has no 10DLC campaigns); `campaign_external_id` is made up from it.
MESSAGING_DEFAULT_TYPE: Final = "a2p"
#: Changing `type`, `campaign_sid` or `p2p_nnid` of a number that is and stays enabled needs
#: `force=true` ("bypassing the standard two-step disable-then-re-enable process"); without it
#: the change is a 422 naming the field (the docs give no status). Enabling again with the same
#: settings is a no-op (200). `enabled` left out of the body keeps its value (as a PATCH).
MESSAGING_CHANGE_NEEDS_FORCE_STATUS: Final = 422
#: Message text limit (the MMS limit, documented; assumed for SMS too) and user_data length.
SMS_MAX_MESSAGE_CHARS: Final = 1600
SMS_USER_DATA_MAX_LENGTH: Final = 1024
#: MMS limits (documented): 10 media items, 10 DIDs in a group chat counting the sender.
MMS_MAX_MEDIA_URLS: Final = 10
MMS_MAX_GROUP_DIDS: Final = 10
#: Numbers in messages are stored without a leading "+"; legacy `from_did` / `to_did` in a send
#: body are read as `from` / `to`.
SMS_LEGACY_FIELD_NAMES: Final = {"from_did": "from", "to_did": "to"}
#: `provider` of a message detail record (the sample shows "tsg").
MDR_PROVIDER: Final = "carrierx"
#: Message prices per segment: outbound from the SMS rate of the destination's network (sub_type
#: "toll", times these factors for the other sub_types); inbound flat; an MMS costs this many SMS.
SMS_SUB_TYPE_PRICE_FACTORS: Final = {"short_code": "0.8", "toll": "1", "toll_free": "1.2"}
SMS_INBOUND_RATE: Final = "0.0025"
MMS_INBOUND_RATE: Final = "0.005"
MMS_PRICE_FACTOR: Final = "2.5"
#: Per-minute VoIP rates by endpoint type (both directions); the rating sub_types include
#: conference_v2 and peering_*, so the rate lists accept them too.
# fmt: off
VOIP_RATES: Final = {
    "conference": "0", "conference_playback": "0", "conference_v2": "0", "flexml": "0.001",
    "mediator": "0.001", "peering_receiver": "0", "peering_sender": "0", "third_party": "0.002",
    "voicemail": "0",
}
# fmt: on
#: A rate list for an unknown sub_type; a rating request no rate covers.
RATE_UNKNOWN_SUB_TYPE_STATUS: Final = 404
RATING_NO_RATE_STATUS: Final = 422
#: The verification SMS: the default code length (the sample's code has 4 digits) and text.
VERIFICATION_CODE_LENGTH: Final = 4
VERIFICATION_MESSAGE: Final = "Your verification code is"
#: The verification email defaults: base_url (the sample's) and template (the sample's sid).
VERIFICATION_BASE_URL: Final = "https://www.carrierx.com/confirmed"
VERIFICATION_EMAIL_TEMPLATE_SID: Final = "3e9e8c56-e1ee-4dcf-9e2b-abbd101139ba"
#: Push notifications: at most 100 recipients (documented); a recipient that is not one of the
#: caller's devices gets this result and counts as a failure (the whole send still answers 200).
PUSH_MAX_RECIPIENTS: Final = 100
PUSH_UNKNOWN_DEVICE_RESULT: Final = "not_found"
#: Invoices: one per calendar month (UTC); tax is this share of the charges. The docs give the
#: current paths as /billing/invoices and the quick reference /invoices: both are served.
INVOICE_TAX_RATE: Final = "0.1"
INVOICE_PATHS: Final = ("/invoices", "/billing/invoices")
#: Phone number lookups: an unparsable number; the CNAM of a mobile number not on the account.
LOOKUP_INVALID_NUMBER_STATUS: Final = 400
LOOKUP_CNAM_MOBILE: Final = "WIRELESS CALLER"
#: TTS: response_format values (only "file" is documented; "stream", the default, answers the
#: audio itself), the default voice, the text limit and the (silent) audio's length per character.
TTS_RESPONSE_FORMATS: Final = ("stream", "file")
TTS_DEFAULT_VOICE: Final = "woman"
TTS_MAX_TEXT_CHARS: Final = 3000
TTS_SECONDS_PER_CHARACTER: Final = 0.06

# --- messaging (shapes) ---------------------------------------------------------------------------
#: A rented DID's messaging answer shows `p2p_nnid` only for a p2p number or once one is set: the
#: object's sample and the enable and get samples of an a2p number have no such key
#: (https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/get), and the
#: object table says it "applies only if the DID enablement type is p2p". (The external-DID
#: samples do show `"p2p_nnid": null`; those answers are another object.)
DID_MESSAGING_P2P_NNID_SHOWN: Final = "p2p_or_set"
