"""Core OAuth: generate and revoke bearer tokens, and who am I."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx, Principal
from bulkx.sandbox.errors import ErrorAnswer, FieldError, invalid
from bulkx.sandbox.http import Api
from bulkx.sandbox.world import World


def _public_token(token: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in token.items() if k != "client_secret"}


#: The finer verbs that `<area>.manage` covers (see context.Principal.require_scope).
_VERBS = ("create", "read", "update", "delete")


def _grantable(scope: str, available: set[str]) -> bool:
    """`phonenumber.read` may be granted to a partner with `phonenumber.manage`, which covers it."""
    if scope in available:
        return True
    area, _, verb = scope.rpartition(".")
    return bool(area) and verb in _VERBS and f"{area}.manage" in available


#: The caller of POST /oauth/token without an Authorization header: the password grant's
#: username and password are then the only credentials (assumptions.OAUTH_PASSWORD_GRANT_ALONE).
_ANONYMOUS = Principal("partner", "", "anonymous")


def _token_caller(world: World, headers: Mapping[str, str]) -> Principal:
    if assumptions.OAUTH_PASSWORD_GRANT_ALONE and not headers.get("authorization"):
        return _ANONYMOUS
    return world.authenticate_core(headers)


def generate_token(ctx: Ctx, _params: Mapping[str, str], body: Any) -> dict[str, Any]:
    anonymous = ctx.principal is _ANONYMOUS
    if not anonymous:
        ctx.principal.require_scope("oauth", "create")
    form = body if isinstance(body, dict) else {}
    grant = form.get("grant_type")
    if not grant:
        # https://docs.carrierx.com/voice/core-api/oauth/oauth-token/generate: the request
        # names its grant (`grant_type=password`); none is a token for nobody in particular.
        raise ErrorAnswer(
            assumptions.OAUTH_GRANT_TYPE_MISSING_STATUS,
            assumptions.MESSAGE_BY_STATUS[assumptions.OAUTH_GRANT_TYPE_MISSING_STATUS],
            [FieldError("grant_type", "field is required: send grant_type=password")],
        )
    if grant not in assumptions.OAUTH_GRANT_TYPES:
        raise invalid([FieldError("grant_type", f"unsupported grant type {grant!r}")])
    world = ctx.world
    username, password = form.get("username"), form.get("password")
    if username is None:
        if anonymous:
            raise ErrorAnswer(401, "Bad credentials", [FieldError(None, _NO_CREDENTIALS)])
        partner_sid = ctx.principal.partner_sid
    else:
        found = world.store.find("partners", "c_login=?", [str(username)])
        if not found or not world.password_ok(found[0], str(password or "")):
            raise ErrorAnswer(
                401, "Bad credentials", [FieldError(None, "bad username or password")]
            )
        partner_sid = str(found[0]["partner_sid"])
    available = set(world.partner(partner_sid).get("available_scopes") or ())
    if anonymous:
        # The partner the password proves must itself be allowed to create tokens.
        Principal("partner", partner_sid, f"login:{username}", frozenset(available)).require_scope(
            "oauth", "create"
        )
    requested = form.get("scopes")
    if isinstance(requested, str):
        requested = [s for s in requested.replace(",", " ").split() if s]
    scopes = tuple(requested) if requested else tuple(sorted(available))
    extra = [s for s in scopes if not _grantable(s, available)]
    if extra:
        raise invalid([FieldError("scopes", f"not available to the partner: {', '.join(extra)}")])
    try:
        expires_in = int(
            form.get("access_token_expires_in") or assumptions.OAUTH_DEFAULT_EXPIRES_IN
        )
    except ValueError:
        raise invalid([FieldError("access_token_expires_in", "must be an integer")]) from None
    if expires_in < 1:
        raise invalid([FieldError("access_token_expires_in", "must be at least 1 (seconds)")])
    with world.store.transaction():
        token = world.issue_token(
            partner_sid,
            scopes=scopes,
            name=str(form.get("name") or "N/A"),
            expires_in=expires_in,
            client_id=str(form["client_id"]) if form.get("client_id") else None,
        )
    return _public_token(token)


_NO_CREDENTIALS = "send grant_type=password with username and password, or an Authorization header"


def revoke_token(ctx: Ctx, _params: Mapping[str, str], body: Any) -> None:
    ctx.principal.require_scope("oauth", "delete")
    form = body if isinstance(body, dict) else {}
    value = str(form.get("token") or "")
    store = ctx.world.store
    with store.transaction():
        for token in store.find("tokens", "c_access_token=?", [value], owner=ctx.owner):
            store.delete("tokens", str(token["token_sid"]))


def whoami(ctx: Ctx, _params: Mapping[str, str], _body: Any) -> dict[str, Any]:
    return ctx.world.partner(ctx.principal.partner_sid)


def mount(api: Api, world: World) -> None:
    api.add(world, "/oauth/token", ["POST"], generate_token, form=True, authenticate=_token_caller)
    api.add(world, "/oauth/revoke", ["POST"], revoke_token, form=True)
    api.add(world, "/oauth/whoami", ["GET"], whoami)
