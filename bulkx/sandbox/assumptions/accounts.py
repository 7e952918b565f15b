"""Assumptions of the sandbox about partners, their logins and billing method, and OAuth tokens."""

from __future__ import annotations

from typing import Final

# --- oauth ----------------------------------------------------------------------------------------
#: Grant types accepted by POST /oauth/token (only `password` is documented).
OAUTH_GRANT_TYPES: Final = ("password",)
#: POST /oauth/token without `grant_type` (a JSON `{}`, or a form without it) is refused: the
#: documented request (https://docs.carrierx.com/voice/core-api/oauth/oauth-token/generate) sends
#: `grant_type=password`, as the OAuth password grant requires (RFC 6749 §4.3.2). The docs give no
#: status: the 422 an unsupported grant type answers. (POST /oauth/token/{partner_sid} needs
#: none: its documented sample sends only client_id and client_secret.)
OAUTH_GRANT_TYPE_MISSING_STATUS: Final = 422
#: POST /oauth/token with grant_type=password needs no Authorization header: the username and
#: password in the form are the credentials (the docs' sample also sends a Bearer header, which
#: is accepted too). Without this a client could not get its first token.
OAUTH_PASSWORD_GRANT_ALONE: Final = True
#: Lifetime of a generated access token when `access_token_expires_in` is not sent.
OAUTH_DEFAULT_EXPIRES_IN: Final = 86400
#: A token's `client_id` is the one the token request sent, kept with the token (null without
#: one): the Generate sample sends one and every later read of that token shows it
#: (https://docs.carrierx.com/voice/core-api/oauth/oauth-token/generate, .../oauth-token/get).
#: The sandbox keeps no client registry, so any client_id is taken.
OAUTH_TOKEN_CLIENT_ID_FROM_REQUEST: Final = True
#: `date_expiration_refresh_token` is the access token's expiry: both dates are equal in every
#: token sample (https://docs.carrierx.com/voice/core-api/oauth/oauth-token/generate). No refresh
#: grant is served (OAUTH_GRANT_TYPES), so it is a date only; a token made without an expiry (the
#: sandbox's default tokens) has neither.
OAUTH_REFRESH_TOKEN_EXPIRES_WITH_ACCESS_TOKEN: Final = True

# --- accounts -------------------------------------------------------------------------------------
#: GET /partners answers the caller and its sub-partners at any depth (the docs' sample lists one
#: partner carrying a parent_sid: the caller itself). Other partners are 404 by sid.
PARTNERS_VISIBLE: Final = "self_and_descendants"
#: The docs: a new partner is "unverified" and hidden from GET until its email is verified. The
#: sandbox sends no email, so a sub-partner is active and visible at once.
SUB_PARTNER_STATUS: Final = "active"
#: A sub-partner's available_scopes are its parent's (the create sample answers [], which would
#: leave it unable to call anything), and it starts with this balance.
SUB_PARTNER_SCOPES_FROM_PARENT: Final = True
SUB_PARTNER_BALANCE: Final = "0"
#: Fields a Create Partner body must carry (the docs' sample sends many; these two are the ones
#: a partner cannot work without).
PARTNER_REQUIRED_FIELDS: Final = ("login", "password")
PARTNER_PAYMENT_TYPES: Final = ("prepay", "postpay")
#: A login already used by a partner or a partner login (logins are global: Basic auth and the
#: password grant look them up before the partner is known).
LOGIN_TAKEN_STATUS: Final = 409
#: Deleting oneself, a partner with sub-partners, or one that still holds DIDs or endpoints (whose
#: logins would outlive it). A deleted partner's tokens, logins and billing method go with it.
PARTNER_DELETE_REFUSED_STATUS: Final = 409
#: A partner sets its own `acls`; only its parent sets its `parent_assigned_acls` (documented).
#: Changing the other one answers this status.
PARTNER_ACL_OWNER_STATUS: Final = 422
#: Registering a billing method again replaces the partner's one billing method.
BILLING_METHOD_POST_REPLACES: Final = True
#: cc_number (documented) and ec_account_number (assumed) are kept redacted to their last digits;
#: cc_cid is never stored (documented hidden).
BILLING_METHOD_KEPT_DIGITS: Final = 4
BILLING_METHOD_CARD_TYPES: Final = (
    "american_express",
    "diners_club",
    "discover_card",
    "international_maestro",
    "jcb",
    "master_card",
    "visa",
)
#: The docs' Get / Get by SID / Update token samples return access_token and refresh_token, so
#: reads show them. False omits them from every answer but the one that creates the token (and
#: refuses filtering or ordering by them, which would leak them a character at a time).
OAUTH_TOKEN_VALUES_IN_READS: Final = True
#: "Get All Active OAuth Tokens": expired tokens are left out of the list (by sid they answer).
OAUTH_TOKENS_LIST_ACTIVE_ONLY: Final = True
#: Token fields PATCH/PUT may change (the update sample changes `name`; scopes stay a subset of the
#: partner's available_scopes).
OAUTH_TOKEN_WRITABLE_FIELDS: Final = ("name", "scopes", "date_expiration_access_token")
#: POST /oauth/token/{partner_sid} accepts the caller itself as well as its sub-partners.
OAUTH_SUB_PARTNER_TOKEN_FOR_SELF: Final = True
#: A partner login must read "<partner.login>_<sub-login>" (documented); otherwise 422. Logins are
#: records only: they do not authenticate API requests ("only used with the portal").
OAUTH_LOGIN_NAME_RULE: Final = "partner_login_prefix"

# --- partners (shapes) ----------------------------------------------------------------------------
#: `GET /oauth/whoami` and the `partner` object `with_related=true` adds answer the documented
#: Partner object, as `GET /partners/{sid}` does
#: (https://docs.carrierx.com/voice/core-api/partners/partner/get-by-sid): every documented field,
#: nothing internal. The docs give no sample of either.
PARTNER_VIEWS_ARE_THE_PARTNER_OBJECT: Final = True
#: The Create Partner sample (https://docs.carrierx.com/voice/core-api/partners/partner/create)
#: answers values its own request contradicts: `charge_at` and `prepay_amount` null though sent,
#: a `state` of "" not sent, a starting balance of "5" and a spending_limit of "100". The sandbox
#: keeps what is sent, starts a sub-partner at SUB_PARTNER_BALANCE with the Get Partner sample's
#: spending_limit "0", and leaves `state` null.
PARTNER_CREATE_KEEPS_WHAT_IS_SENT: Final = True
