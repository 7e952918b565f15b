"""Core OAuth objects beyond issuing and revoking (`oauth.py`): listing, reading and updating
tokens, tokens for a sub-partner, and partner logins (sub-logins with their own token scopes)."""

from __future__ import annotations

from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_objects
from bulkx.sandbox.errors import FieldError, bad_request, invalid, not_found
from bulkx.sandbox.http import Api
from bulkx.sandbox.listing import parse_list_query
from bulkx.sandbox.resources.accounts import login_taken, visible_partner
from bulkx.sandbox.resources.oauth import _grantable
from bulkx.sandbox.schema import Field, Hooks, Resource, hidden, pattern, ro, rw
from bulkx.sandbox.world import World, now_iso

# --- OAuth tokens --------------------------------------------------------------------------------

_ISO = pattern(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", "must be an ISO date-time in UTC")
_TOKEN_VALUES = ("access_token", "refresh_token")


def _token_field(name: str, kind: Any = "str", default: Any = None, **options: Any) -> Field:
    if name in assumptions.OAUTH_TOKEN_WRITABLE_FIELDS:
        return rw(name, kind, default, **options)
    return ro(name, kind, default)


def _render_token(ctx: Ctx, obj: dict[str, Any]) -> dict[str, Any]:
    if assumptions.OAUTH_TOKEN_VALUES_IN_READS:
        return obj
    return {k: v for k, v in obj.items() if k not in _TOKEN_VALUES}


def _token_scopes(ctx: Ctx, current: dict[str, Any], updated: dict[str, Any]) -> None:
    partner = ctx.world.store.get("partners", str(current["partner_sid"])) or {}
    available = set(partner.get("available_scopes") or ())
    scopes = updated.get("scopes")
    if scopes is not None:
        extra = [s for s in scopes if not isinstance(s, str) or not _grantable(s, available)]
        if extra:
            message = f"not available to the partner: {', '.join(map(str, extra))}"
            raise invalid([FieldError("scopes", message)])


TOKEN = Resource(
    name="oauth_token",
    api="core",
    path="/oauth/tokens",
    sid_field="token_sid",
    collection="tokens",
    indexed=("access_token",),
    scope="oauth",
    operations=frozenset({"get", "update"}),
    query_args=("with_related",),
    # The Get All Active OAuth Tokens sample answers `"total": null`: LISTS_WITHOUT_TOTAL.
    counts_total="/oauth/tokens" not in assumptions.LISTS_WITHOUT_TOTAL,
    fields=(
        ro("access_token"),
        ro("client_id"),
        ro("date_created"),
        _token_field("date_expiration_access_token", check=_ISO),
        _token_field("date_expiration_refresh_token", check=_ISO),
        ro("date_last_accessed"),
        ro("ip_last_accessed"),
        _token_field("name", default="N/A", nullable=False, max_length=255),
        ro("partner_sid"),
        ro("refresh_token"),
        _token_field("scopes", "array", [], nullable=False),
        ro("token_sid"),
        ro("token_type", default="bearer"),
    ),
    hooks=Hooks(render=_render_token, before_update=_token_scopes),
)


def list_tokens(ctx: Ctx) -> dict[str, Any]:
    if not assumptions.OAUTH_TOKEN_VALUES_IN_READS:
        q = parse_list_query(ctx.query)
        named = {c.field for c in q.conditions} | {q.order_field}
        for name in _TOKEN_VALUES:
            if name in named:
                raise bad_request(f"tokens cannot be filtered or ordered by {name}", "filter")
    if not assumptions.OAUTH_TOKENS_LIST_ACTIVE_ONLY:
        return list_objects(ctx, TOKEN)
    expires = "json_extract(data, '$.date_expiration_access_token')"
    return list_objects(
        ctx, TOKEN, scope_where=f"{expires} IS NULL OR {expires} > ?", scope_params=[now_iso()]
    )


def token_for_partner(ctx: Ctx, partner_sid: str, body: Any) -> dict[str, Any]:
    """POST /oauth/token/{partner_sid}: a token for a sub-partner, issued by its ancestor."""
    ctx.principal.require_scope("oauth", "create")
    if (
        partner_sid == ctx.principal.partner_sid
        and not assumptions.OAUTH_SUB_PARTNER_TOKEN_FOR_SELF
    ):
        raise not_found("partner", partner_sid)
    form = body if isinstance(body, dict) else {}
    world = ctx.world
    with world.store.transaction():
        partner = visible_partner(ctx, partner_sid)
        available = set(partner.get("available_scopes") or ())
        requested = form.get("scopes")
        if isinstance(requested, str):
            requested = [s for s in requested.replace(",", " ").split() if s]
        scopes = tuple(requested) if requested else tuple(sorted(available))
        extra = [s for s in scopes if not _grantable(str(s), available)]
        if extra:
            message = f"not available to the sub-partner: {', '.join(map(str, extra))}"
            raise invalid([FieldError("scopes", message)])
        raw_expiry = form.get("access_token_expires_in") or assumptions.OAUTH_DEFAULT_EXPIRES_IN
        try:
            expires_in = int(raw_expiry)
        except (TypeError, ValueError):
            expires_in = 0
        if expires_in < 1:
            message = "must be a whole number of seconds, at least 1"
            raise invalid([FieldError("access_token_expires_in", message)])
        token = world.issue_token(
            partner_sid,
            scopes=scopes,
            name=str(form.get("name") or "N/A"),
            expires_in=expires_in,
            client_id=str(form["client_id"]) if form.get("client_id") else None,
        )
    # The one answer that always carries the token's values (no render hook to drop them).
    return dict(sorted(TOKEN.public(token).items()))


# --- partner logins ------------------------------------------------------------------------------


def _check_login(ctx: Ctx, obj: dict[str, Any], *rest: Any) -> None:
    updated = rest[0] if rest else obj
    current = obj if rest else None
    partner = ctx.world.store.get("partners", ctx.principal.partner_sid) or {}
    login = str(updated["login"])
    if current is None or login != current.get("login"):
        prefix = f"{partner.get('login')}_"
        if not login.startswith(prefix) or len(login) == len(prefix):
            message = f"must read '{prefix}<sub-login>'"
            raise invalid([FieldError("login", message)])
        login_taken(
            ctx, login, own=("partner_logins", str(current["login_sid"])) if current else None
        )
    available = set(partner.get("available_scopes") or ())
    scopes = updated.get("token_scopes") or []
    extra = [s for s in scopes if not isinstance(s, str) or not _grantable(s, available)]
    if extra:
        message = f"not available to the partner: {', '.join(map(str, extra))}"
        raise invalid([FieldError("token_scopes", message)])


LOGIN = Resource(
    name="oauth_login",
    api="core",
    path="/oauth/logins",
    sid_field="login_sid",
    collection="partner_logins",
    indexed=("login",),
    scope="oauth",
    fields=(
        rw("login", required=True, nullable=False, check=pattern(r"\S{1,128}", "bad login")),
        ro("login_sid"),
        ro("partner_sid"),
        hidden("password", required=True, nullable=False),
        rw("token_scopes", "array", None, required=True, nullable=False),
    ),
    hooks=Hooks(before_create=_check_login, before_update=_check_login),
)


def mount(api: Api, world: World) -> None:
    api.add(
        world,
        "/oauth/token/{partner_sid}",
        ["POST"],
        lambda c, p, b: token_for_partner(c, p["partner_sid"], b),
        form=True,
    )
    api.add(world, TOKEN.path, ["GET"], lambda c, _p, _b: list_tokens(c))
    api.add_resource(world, TOKEN)
    api.add_resource(world, LOGIN)


RESOURCES = (TOKEN, LOGIN)
