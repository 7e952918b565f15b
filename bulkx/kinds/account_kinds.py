"""Core account kinds: sub-partners and partner logins.

Their passwords are write-only: the API never returns one, so there is nothing to compare, and a
plan never holds one either. An item names the environment variable holding it
(`password_env`), read when the object is created and sent only then; the plan output and the
run journal show the variable's name, never its value. Changing a password is not planned.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from bulkx.kinds.model import (
    ALL_OPERATIONS,
    Confirmation,
    Kind,
    PlanField,
    ToApi,
    ensure_field,
)

F = PlanField

PASSWORD_ENV = F(
    "password_env",
    api=None,
    doc="the environment variable holding the password, sent only when the object is created"
    " (the API refuses a create without one); never compared, never shown",
)


def _with_password(fields: tuple[PlanField, ...]) -> ToApi:
    """The plain mapping of `fields`, plus the password from the environment when the values
    name its variable (only creates do: an update sends managed fields only)."""

    def to_api(values: Mapping[str, Any]) -> dict[str, Any]:
        body = {
            f.api_name: f.as_api(values[f.name])
            for f in fields
            if f.api_name is not None and f.name in values
        }
        password = os.environ.get(str(values.get(PASSWORD_ENV.name) or ""))
        if password:
            body["password"] = password
        return body

    return to_api


_PARTNER_FIELDS = (
    F("login", required=True, max_length=64, doc="letters, digits and _ . @ -"),
    ensure_field(),
    PASSWORD_ENV,
    F("name", max_length=255, empty="N/A"),  # what the API holds for a partner with no name
    F("company_name"),
    F("owner_email"),
    F("billing_email"),
    F("tech_email"),
    F("phonenumber"),
    F("address1"),
    F("address2"),
    F("city"),
    F("state"),
    F("zip"),
    F("country_code", "alpha3"),
    F("payment_type", "enum", choices=("prepay", "postpay")),
    F("daily_spending_limit", doc="an amount, e.g. 500"),
    F("spending_limit", doc="an amount, e.g. 0"),
    F("attributes", "object"),
)

PARTNER = Kind(
    name="partner",
    api="core",
    path="/partners",
    sid_field="partner_sid",
    key="login",
    operations=ALL_OPERATIONS,
    confirmation=Confirmation("partners"),
    doc="A sub-partner (an account under this one), keyed by its login. Creating or deleting"
    " one needs --allow-partners (deleting also --allow-release); the API refuses to delete one"
    " that still has sub-partners, numbers or endpoints.",
    fields=_PARTNER_FIELDS,
    to_api_hook=_with_password(_PARTNER_FIELDS),
)

# fmt: off
_LOGIN_FIELDS = (
    F("login", required=True, max_length=128,
      doc="<this partner's login>_<name>, e.g. acme_support"),
    ensure_field(),
    PASSWORD_ENV,
    F("token_scopes", "list", required=True,
      doc="the scopes of the tokens the login gets, e.g. [\"dids.read\"]"),
)
# fmt: on

OAUTH_LOGIN = Kind(
    name="oauth.login",
    api="core",
    path="/oauth/logins",
    sid_field="login_sid",
    key="login",
    operations=ALL_OPERATIONS,
    doc="A partner login: a second login of this partner, whose tokens carry only its scopes.",
    fields=_LOGIN_FIELDS,
    to_api_hook=_with_password(_LOGIN_FIELDS),
)

KINDS = (PARTNER, OAUTH_LOGIN)
