"""Core account objects: partners and their sub-partners, and billing methods. (OAuth tokens and
partner logins are in `oauth_tokens.py`.)

Partners live in the `partners` collection the world keeps for authentication: a row's owner is
its parent (the world's own partner owns itself), so a partner sees itself and its descendants.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_from_objects, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError, conflict, invalid, not_found
from bulkx.sandbox.http import Api, require_object
from bulkx.sandbox.resources.routing import ACL_FIELDS, ensure_system_gateway, system_gateway_sid
from bulkx.sandbox.schema import (
    Field,
    Hooks,
    Resource,
    create_only,
    each_object,
    hidden,
    pattern,
    ro,
    rw,
    validate_create,
    validate_update,
)
from bulkx.sandbox.world import World, new_sid, now_iso

# --- partners ------------------------------------------------------------------------------------

# The ACL object nested in `acls` / `parent_assigned_acls` (`ACL_FIELDS`, with its documented
# value lists) is defined with the trunk groups' and trunks' ACLs in `routing`.

CALLBACK_NAMES = (
    "app_conference_call",
    "app_conference_meeting",
    "app_mediator",
    "phonenumber_messaging_update",
    "phonenumber_order",
    "sms",
)


def _callbacks(value: Any) -> str | None:
    unknown = sorted(set(value) - set(CALLBACK_NAMES))
    if unknown:
        return f"unknown callback {unknown[0]!r}; use " + ", ".join(CALLBACK_NAMES)
    if any(v is not None and not isinstance(v, str) for v in value.values()):
        return "callback URLs must be strings"
    return None


def _amount(value: Any) -> str | None:
    """Money fields come as numbers or numeric strings (the docs' samples use both)."""
    try:
        float(value)
    except (TypeError, ValueError):
        return "must be a number"
    return None if not isinstance(value, bool) else "must be a number"


def _money(name: str, default: str | None = None) -> Field:
    return rw(name, "any", default, check=_amount)


PARTNER_FIELDS: tuple[Field, ...] = (
    rw("acls", "array", [], nullable=False, check=each_object(ACL_FIELDS)),
    rw("address1"),
    rw("address2"),
    rw("attributes", "object", {}, nullable=False),
    ro("available_scopes", "array", []),
    ro("balance", default=assumptions.SUB_PARTNER_BALANCE),
    rw("billing_email"),
    rw("callbacks", "object", {}, nullable=False, check=_callbacks),
    _money("charge_at"),
    rw("city"),
    rw("company_name"),
    rw("country_code", check=pattern(r"[A-Z]{3}", "must be an ISO alpha-3 code")),
    _money("daily_spending_limit", "500"),
    ro("daily_spent_amount", default="0"),
    ro("date_created"),
    ro("display_id"),
    rw("login", nullable=False, check=pattern(r"[A-Za-z0-9_.@-]{1,64}", "bad login")),
    rw("name", default="N/A", nullable=False, max_length=255),
    rw("owner_email"),
    rw("parent_assigned_acls", "array", [], nullable=False, check=each_object(ACL_FIELDS)),
    create_only("parent_sid"),
    ro("partner_sid"),
    hidden("password", nullable=False),
    rw("payment_type", default="prepay", choices=assumptions.PARTNER_PAYMENT_TYPES),
    rw("phonenumber"),
    _money("prepay_amount"),
    _money("spending_limit", "0"),
    rw("state"),
    ro("status", default=assumptions.SUB_PARTNER_STATUS),
    rw("tech_email"),
    rw("transformations", "array", [], nullable=False),
    rw("zip"),
)

_PARTNER_SHOWN = tuple(f for f in PARTNER_FIELDS if f.access != "hidden")


def _render_partner(ctx: Ctx, obj: dict[str, Any]) -> dict[str, Any]:
    """Every documented field, whatever the stored row holds (the world's own partner predates
    most of them); nothing undocumented."""
    out = {f.name: f.default_value() for f in _PARTNER_SHOWN}
    out.update((k, v) for k, v in obj.items() if k in out)
    return out


PARTNER = Resource(
    name="partner",
    api="core",
    path="/partners",
    sid_field="partner_sid",
    collection="partners",
    indexed=("login",),
    scope="partners",
    # Served by the functions below: visibility follows the partner tree, not the row owner.
    operations=frozenset(),
    fields=PARTNER_FIELDS,
    hooks=Hooks(render=_render_partner),
)


def descendants(ctx: Ctx, partner_sid: str) -> list[str]:
    """The sub-partners of `partner_sid` at any depth, nearest first."""
    found: list[str] = []
    frontier = [partner_sid]
    while frontier:
        marks = ",".join("?" * len(frontier))
        rows = ctx.world.store.rows(
            f"SELECT sid FROM t_partners WHERE owner IN ({marks}) AND sid != owner", frontier
        )
        frontier = [str(r[0]) for r in rows]
        found.extend(frontier)
    return found


def visible_partner(ctx: Ctx, sid: str) -> dict[str, Any]:
    """The caller or one of its sub-partners; anything else is a 404."""
    me = ctx.principal.partner_sid
    if sid != me and sid not in descendants(ctx, me):
        raise not_found("partner", sid)
    found = ctx.world.store.get("partners", sid)
    if found is None:
        raise not_found("partner", sid)
    return found


def login_taken(ctx: Ctx, login: str, *, own: tuple[str, str] | None = None) -> None:
    """409 unless no partner and no partner login but `own` (collection, sid) uses `login`."""
    store = ctx.world.store
    users = [
        (collection, sid)
        for collection, sid_field in (("partners", "partner_sid"), ("partner_logins", "login_sid"))
        for row in store.find(collection, "c_login=?", [login])
        for sid in [str(row[sid_field])]
    ]
    if any(user != own for user in users):
        raise ErrorAnswer(
            assumptions.LOGIN_TAKEN_STATUS,
            f"the login {login!r} is taken",
            [FieldError("login", f"the login {login!r} is taken")],
        )


def _normalise(obj: dict[str, Any]) -> None:
    """Money as decimal strings (as the docs' samples answer), ACLs with all their keys."""
    for spec in PARTNER.fields:
        if spec.check is _amount and obj.get(spec.name) is not None:
            obj[spec.name] = str(obj[spec.name])
    blank = {name: spec.default_value() for name, spec in ACL_FIELDS.items()}
    for name in ("acls", "parent_assigned_acls"):
        obj[name] = [{**blank, **acl} for acl in obj.get(name) or []]


def list_partners(ctx: Ctx) -> dict[str, Any]:
    ctx.principal.require_scope(PARTNER.scope, "read")
    me = ctx.principal.partner_sid
    sids = [me, *descendants(ctx, me)]
    rows = ctx.world.store.find("partners", f"sid IN ({','.join('?' * len(sids))})", sids)
    return list_from_objects(ctx, PARTNER, rows)


def get_partner(ctx: Ctx, sid: str) -> dict[str, Any]:
    ctx.principal.require_scope(PARTNER.scope, "read")
    return render(ctx, PARTNER, visible_partner(ctx, sid))


def create_partner(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    ctx.principal.require_scope(PARTNER.scope, "create")
    missing = [f for f in assumptions.PARTNER_REQUIRED_FIELDS if body.get(f) in (None, "")]
    if missing:
        raise invalid([FieldError(f, "field is required") for f in missing])
    store = ctx.world.store
    with store.transaction():
        obj = validate_create(PARTNER, body)
        parent_sid = obj.get("parent_sid") or ctx.principal.partner_sid
        try:
            parent = visible_partner(ctx, str(parent_sid))
        except ErrorAnswer:
            raise invalid(
                [FieldError("parent_sid", "not you or one of your sub-partners", str(parent_sid))]
            ) from None
        login_taken(ctx, str(obj["login"]))
        _normalise(obj)
        sid = new_sid()
        scopes = (
            parent.get("available_scopes") if assumptions.SUB_PARTNER_SCOPES_FROM_PARENT else []
        )
        obj.update(
            partner_sid=sid,
            parent_sid=parent["partner_sid"],
            available_scopes=list(scopes or []),
            date_created=now_iso(),
            display_id=f"CX{uuid.UUID(sid).int % 10**8:08d}",
        )
        store.insert("partners", sid, str(parent["partner_sid"]), obj)
        ensure_system_gateway(ctx.world, sid)  # every partner has one (SYSTEM_GATEWAY_NAME)
    return render(ctx, PARTNER, obj)


def update_partner(ctx: Ctx, sid: str, body: dict[str, Any], *, replace: bool) -> dict[str, Any]:
    ctx.principal.require_scope(PARTNER.scope, "update")
    store = ctx.world.store
    with store.transaction():
        stored = visible_partner(ctx, sid)
        # Compare and PUT against the documented shape: the world's own partner lacks most fields.
        current = {**_render_partner(ctx, stored), **stored}
        updated = validate_update(PARTNER, current, body, replace=replace)
        # A partner sets its own acls; only its parent sets its parent_assigned_acls.
        other = "parent_assigned_acls" if sid == ctx.principal.partner_sid else "acls"
        if updated[other] != current[other]:
            whose = (
                "the parent partner" if other == "parent_assigned_acls" else "the partner itself"
            )
            raise ErrorAnswer(
                assumptions.PARTNER_ACL_OWNER_STATUS,
                assumptions.MESSAGE_BY_STATUS[422],
                [FieldError(other, f"only {whose} sets {other}")],
            )
        if updated["login"] != stored.get("login"):
            login_taken(ctx, str(updated["login"]), own=("partners", sid))
        _normalise(updated)
        store.replace("partners", sid, updated)
    return render(ctx, PARTNER, updated)


def delete_partner(ctx: Ctx, sid: str) -> None:
    ctx.principal.require_scope(PARTNER.scope, "delete")
    store = ctx.world.store
    with store.transaction():
        visible_partner(ctx, sid)
        why = None
        if sid == ctx.principal.partner_sid:
            why = "a partner cannot delete itself"
        elif descendants(ctx, sid):
            why = "the partner has sub-partners; delete them first"
        else:
            for collection in ("dids", "endpoints"):
                # Its system_gateway endpoint is CarrierX's, and goes with the partner.
                if store.scalar(
                    f"SELECT count(*) FROM t_{collection} WHERE owner=? AND sid != ?",
                    (sid, system_gateway_sid(sid)),
                ):
                    why = f"the partner still holds {collection}; delete them first"
        if why:
            raise ErrorAnswer(
                assumptions.PARTNER_DELETE_REFUSED_STATUS, why, [FieldError(None, why, sid)]
            )
        for collection in ("tokens", "partner_logins", "billing_methods"):
            for row in store.rows(f"SELECT sid FROM t_{collection} WHERE owner=?", (sid,)):
                store.delete(collection, str(row[0]))
        store.delete("endpoints", system_gateway_sid(sid))
        store.delete("partners", sid)


# --- billing methods (one per partner) -----------------------------------------------------------

_CREDIT_REQUIRED = ("cc_cid", "cc_expiration", "cc_number")
_ADDRESS_REQUIRED = ("address1", "city")
_ALWAYS_REQUIRED = ("country_code", "first_name", "last_name", "phone", "type", "zip")

BILLING_METHOD = Resource(
    name="billing_method",
    api="core",
    path="/partners/{partner_sid}/billing_method",
    sid_field="_partner_sid",
    collection="billing_methods",
    scope="partners.billing_method",
    operations=frozenset(),
    fields=(
        rw("address1"),
        rw("address2"),
        hidden("cc_cid", check=pattern(r"\d{3,4}", "must be 3 or 4 digits")),
        rw("cc_expiration", check=pattern(r"(0[1-9]|1[0-2])\d{4}", "must be mmyyyy")),
        rw("cc_number", check=pattern(r"\d{12,19}", "must be 12 to 19 digits")),
        rw("city"),
        rw("country_code", check=pattern(r"[A-Z]{3}", "must be an ISO alpha-3 code")),
        rw("ec_account_number", check=pattern(r"\d{4,17}", "must be 4 to 17 digits")),
        rw("ec_routing_number", check=pattern(r"\d{9}", "must be 9 digits")),
        rw("first_name"),
        rw("last_name"),
        rw("phone"),
        rw("state", check=pattern(r"[A-Z]{2}", "must be a 2-letter state code")),
        rw(
            "type",
            choices=(*assumptions.BILLING_METHOD_CARD_TYPES, "check", "electronic_check", "wire"),
        ),
        rw("zip"),
    ),
)


def register_billing_method(ctx: Ctx, partner_sid: str, body: dict[str, Any]) -> dict[str, Any]:
    ctx.principal.require_scope(BILLING_METHOD.scope, "create")
    store = ctx.world.store
    with store.transaction():
        visible_partner(ctx, partner_sid)
        method = validate_create(BILLING_METHOD, body)
        kind = method.get("type")
        needed = list(_ALWAYS_REQUIRED)
        if kind in assumptions.BILLING_METHOD_CARD_TYPES:
            needed += _CREDIT_REQUIRED
        elif kind is not None:
            needed += _ADDRESS_REQUIRED
        if kind == "electronic_check":
            needed += ("ec_account_number", "ec_routing_number")
        missing = [f for f in needed if method.get(f) in (None, "")]
        if missing:
            raise invalid([FieldError(f, "field is required") for f in missing])
        keep = assumptions.BILLING_METHOD_KEPT_DIGITS
        for secret in ("cc_number", "ec_account_number"):
            if method.get(secret):
                method[secret] = str(method[secret])[-keep:]
        method.pop("cc_cid", None)
        method["_partner_sid"] = partner_sid
        if store.get("billing_methods", partner_sid) is not None:
            if not assumptions.BILLING_METHOD_POST_REPLACES:
                raise conflict("the partner has a billing method already", None, partner_sid)
            store.delete("billing_methods", partner_sid)
        store.insert("billing_methods", partner_sid, partner_sid, method)
    return render(ctx, BILLING_METHOD, method)


def _billing_method(ctx: Ctx, partner_sid: str, verb: str) -> dict[str, Any]:
    ctx.principal.require_scope(BILLING_METHOD.scope, verb)
    visible_partner(ctx, partner_sid)
    method = ctx.world.store.get("billing_methods", partner_sid)
    if method is None:
        raise not_found("billing method", partner_sid)
    return method


def delete_billing_method(ctx: Ctx, partner_sid: str) -> None:
    with ctx.world.store.transaction():
        _billing_method(ctx, partner_sid, "delete")
        ctx.world.store.delete("billing_methods", partner_sid)


# --- routes --------------------------------------------------------------------------------------


def mount(api: Api, world: World) -> None:
    api.add(world, "/partners", ["GET"], lambda c, _p, _b: list_partners(c))
    api.add(world, "/partners", ["POST"], lambda c, _p, b: create_partner(c, require_object(b)))
    item = "/partners/{partner_sid}"
    api.add(world, item, ["GET"], lambda c, p, _b: get_partner(c, p["partner_sid"]))
    for method in ("PATCH", "PUT"):
        api.add(world, item, [method], _partner_update(method == "PUT"))
    api.add(world, item, ["DELETE"], lambda c, p, _b: delete_partner(c, p["partner_sid"]))
    billing = BILLING_METHOD.path
    api.add(
        world,
        billing,
        ["POST"],
        lambda c, p, b: register_billing_method(c, p["partner_sid"], require_object(b)),
    )
    api.add(
        world,
        billing,
        ["GET"],
        lambda c, p, _b: render(c, BILLING_METHOD, _billing_method(c, p["partner_sid"], "read")),
    )
    api.add(world, billing, ["DELETE"], lambda c, p, _b: delete_billing_method(c, p["partner_sid"]))


def _partner_update(replace: bool) -> Any:
    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> dict[str, Any]:
        return update_partner(ctx, params["partner_sid"], require_object(body), replace=replace)

    return operation


RESOURCES = (PARTNER, BILLING_METHOD)
