"""Core routing objects: trunk groups with their nested trunks, endpoints, access control rules."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_from_objects, load, render
from bulkx.sandbox.errors import ApiError, FieldError, conflict, invalid, not_found
from bulkx.sandbox.http import Api, require_object
from bulkx.sandbox.schema import (
    Hooks,
    Resource,
    create_only,
    hidden,
    ro,
    rw,
    validate_create,
    validate_update,
)
from bulkx.sandbox.world import World

# --- trunks (stored inside their trunk group) ---------------------------------------------------

CODECS = (
    "alaw",
    "g722",
    "g723",
    "g729",
    "gsm",
    "opus8",
    "opus12",
    "opus16",
    "opus24",
    "opus48",
    "ulaw",
)

TRUNK = Resource(
    name="trunk",
    api="core",
    path="/trunk_groups/{tg}/trunks",
    sid_field="trunk_sid",
    collection="trunk_groups",
    scope="trunk_groups.trunks",
    operations=frozenset(),
    fields=(
        rw("acls", "array", [], nullable=False),
        rw("allow_forward", default="disabled",
           choices=("direct", "direct_uri", "disabled", "protected", "reroute")),
        # The docs disagree (bool in samples, enum on the newest page): accept both.
        rw("allow_transfer", "any", False),
        rw("asn_mode", default="disable", choices=("disable", "read", "write", "read_write")),
        rw("call_type", default="regular"),
        rw("codec", choices=(*CODECS, None)),
        rw("endpoint_sid"),
        rw("in_capacity", "int", 0, nullable=False),
        rw("in_identity_format", default="passthrough"),
        rw("in_identity_mode", default="passthrough"),
        rw("in_rfc_4694_mode", default="cut_all"),
        rw("location_sid"),
        rw("name", default="N/A", nullable=False),
        rw("out_capacity", "int", 0, nullable=False),
        rw("out_identity_mode", default="passthrough"),
        rw("out_rfc_4694_mode", default="cut_all"),
        rw("priority", "int", 0, nullable=False),
        rw("relay_sip_headers", "array", [], nullable=False),
        rw("transformations", "array", [], nullable=False),
        ro("trunk_sid"),
        rw("weight", "int", 0, nullable=False),
    ),
)  # fmt: skip


def _new_trunk(ctx: Ctx, body: Mapping[str, Any]) -> dict[str, Any]:
    trunk = validate_create(TRUNK, body)
    trunk["trunk_sid"] = str(uuid.uuid4())
    _check_endpoint(ctx, trunk)
    return trunk


def _check_endpoint(ctx: Ctx, trunk: Mapping[str, Any]) -> None:
    sid = trunk.get("endpoint_sid")
    if sid is not None and ctx.world.store.get("endpoints", str(sid), owner=ctx.owner) is None:
        raise invalid([FieldError("endpoint_sid", "no endpoint with this sid", str(sid))])


# --- trunk groups --------------------------------------------------------------------------------


def _create_trunk_group(ctx: Ctx, obj: dict[str, Any]) -> None:
    if obj.get("trunks"):
        ctx.principal.require_scope("trunk_groups.trunks", "create")
    trunks = obj.get("trunks") or []
    errors: list[FieldError] = []
    built = []
    for index, body in enumerate(trunks):
        if not isinstance(body, dict):
            errors.append(FieldError(f"trunks[{index}]", "must be an object"))
            continue
        try:
            built.append(_new_trunk(ctx, body))
        except ApiError as error:  # re-labelled with the trunk's index
            for item in error.errors:
                errors.append(FieldError(f"trunks[{index}].{item.field}", item.message))
    if errors:
        raise invalid(errors)
    obj["trunks"] = built


def _render_trunk_group(ctx: Ctx, obj: dict[str, Any]) -> dict[str, Any]:
    if not ctx.flag("with_trunks"):
        obj = {k: v for k, v in obj.items() if k != "trunks"}
    return obj


def _trunk_group_in_use(ctx: Ctx, group: dict[str, Any]) -> None:
    sid = group["trunk_group_sid"]
    used = ctx.world.store.scalar(
        "SELECT count(*) FROM t_dids WHERE c_trunk_group_sid=? AND owner=?", (sid, ctx.owner)
    )
    if used:
        raise conflict(
            f"the trunk group is used by {used} DID(s); move them first", "trunk_group_sid", sid
        )


TRUNK_GROUP = Resource(
    name="trunk_group",
    api="core",
    path="/trunk_groups",
    sid_field="trunk_group_sid",
    collection="trunk_groups",
    indexed=("name",),
    scope="trunk_groups",
    query_args=("with_trunks", "with_related"),
    fields=(
        rw("acls", "array", [], nullable=False),
        rw("external_handlers", "array", [], nullable=False),
        rw("hard_failure_codes", default="408;"),
        rw("hard_failure_cooldown", "int", 120),
        rw("hard_failure_interval", "int", 60),
        rw(
            "hard_failure_last_resort", default="first", choices=("first", "reject502", "reject503")
        ),
        rw("hard_failure_threshold", "int", 3),
        rw("name", default="N/A", nullable=False, max_length=255),
        ro("partner_sid"),
        rw("routing_data", "any", None),
        rw("routing_type", default="failover"),
        rw("sip_options_locations", "array", [], nullable=False),
        rw("sip_options_threshold", "int", 3),
        rw("soft_failure_codes", default="408;"),
        rw("transformations", "array", [], nullable=False),
        ro("trunk_group_sid"),
        # Trunks are created with the group; afterwards they change through /trunks.
        create_only("trunks", "array", []),
    ),
    hooks=Hooks(
        before_create=_create_trunk_group,
        render=_render_trunk_group,
        before_delete=_trunk_group_in_use,
    ),
)


def _trunk_operation(method: str) -> Any:
    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> Any:
        verb = {"GET": "read", "POST": "create", "PATCH": "update", "PUT": "update"}.get(
            method, "delete"
        )
        ctx.principal.require_scope("trunk_groups.trunks", verb)
        store = ctx.world.store
        with store.transaction():
            group = load(ctx, TRUNK_GROUP, params["tg"])
            trunks: list[dict[str, Any]] = list(group.get("trunks") or [])
            sid = params.get("sid")
            if sid is None:
                if method == "GET":
                    return list_from_objects(ctx, TRUNK, trunks)
                trunk = _new_trunk(ctx, require_object(body))
                trunks.append(trunk)
                store.replace("trunk_groups", params["tg"], {**group, "trunks": trunks})
                return render(ctx, TRUNK, trunk)
            index = next((i for i, t in enumerate(trunks) if t["trunk_sid"] == sid), None)
            if index is None:
                raise not_found("trunk", sid)
            if method == "GET":
                return render(ctx, TRUNK, trunks[index])
            if method == "DELETE":
                del trunks[index]
                store.replace("trunk_groups", params["tg"], {**group, "trunks": trunks})
                return None
            updated = validate_update(
                TRUNK, trunks[index], require_object(body), replace=method == "PUT"
            )
            _check_endpoint(ctx, updated)
            trunks[index] = updated
            store.replace("trunk_groups", params["tg"], {**group, "trunks": trunks})
            return render(ctx, TRUNK, updated)

    return operation


# --- endpoints -----------------------------------------------------------------------------------

ENDPOINT_TYPES = (
    "system_gateway", "third_party", "conference", "conference_playback", "conference_v2",
    "flexml", "mediator", "voicemail",
)  # fmt: skip


def _create_endpoint(ctx: Ctx, obj: dict[str, Any]) -> None:
    properties = dict(obj.get("properties") or {})
    if obj["type"] in assumptions.APP_ENDPOINT_TYPES:
        login = properties.get("login") or f"{obj['type']}_{secrets.token_hex(4)}"
        if ctx.world.store.find("endpoints", "c__login=?", [login]):
            raise conflict(f"the login {login!r} is taken", "properties.login")
        properties["login"] = login
        properties.setdefault("password", secrets.token_hex(12))
        obj["_login"] = login
        obj["_account_sid"] = str(uuid.uuid4())
    obj["properties"] = properties


def _after_create_endpoint(ctx: Ctx, obj: dict[str, Any]) -> None:
    if (
        obj["type"] in assumptions.APP_ENDPOINT_TYPES
        and assumptions.APP_ENDPOINT_CREATES_TRUNK_GROUP
    ):
        group = validate_create(TRUNK_GROUP, {"name": obj["name"]})
        sid = str(uuid.uuid4())
        trunk = validate_create(TRUNK, {"name": obj["name"], "endpoint_sid": obj["endpoint_sid"]})
        trunk["trunk_sid"] = str(uuid.uuid4())
        group.update(trunk_group_sid=sid, partner_sid=ctx.principal.partner_sid, trunks=[trunk])
        ctx.world.store.insert("trunk_groups", sid, ctx.owner, group)


def _keep_credentials(ctx: Ctx, current: dict[str, Any], updated: dict[str, Any]) -> None:
    # App credentials are the server's: a PATCH of `properties` keeps them.
    old = current.get("properties") or {}
    if "login" in old:
        props = dict(updated.get("properties") or {})
        props["login"], props["password"] = old["login"], old.get("password")
        updated["properties"] = props


ENDPOINT = Resource(
    name="endpoint",
    api="core",
    path="/endpoints",
    sid_field="endpoint_sid",
    collection="endpoints",
    indexed=("name", "type", "_login"),
    scope="endpoints",
    query_args=("with_related",),
    fields=(
        rw("addresses", "array", [], nullable=False),
        rw("attributes", "object", {}, nullable=False),
        rw("capacity", "int", 0),
        ro("cps_limit", "int", None),
        ro("endpoint_sid"),
        rw("name", default="N/A", nullable=False, max_length=255),
        rw("out_sip_username"),
        hidden("out_sip_password"),
        ro("partner_sid"),
        rw("properties", "object", {}, nullable=False),
        rw("transformations", "array", [], nullable=False),
        create_only("type", default="third_party", choices=ENDPOINT_TYPES),
        ro("voip_token"),
    ),
    hooks=Hooks(
        before_create=_create_endpoint,
        after_create=_after_create_endpoint,
        before_update=_keep_credentials,
    ),
)

# --- access control ----------------------------------------------------------------------

ACCESS_CONTROL_RULE = Resource(
    name="accesscontrol_rule",
    api="core",
    path="/accesscontrol/rules",
    sid_field="rule_sid",
    collection="accesscontrol_rules",
    indexed=("name",),
    scope="accesscontrol",
    fields=(
        rw("entries", "array", None, required=True, nullable=False),
        rw("field", required=True,
           choices=("calling", "called", "from", "to", "message", "from_did", "to_did")),
        rw("name", default="N/A", nullable=False),
        rw("operation", required=True, nullable=False),
        ro("partner_sid"),
        rw("quantifier", required=True, nullable=False),
        ro("read_only", "bool", False),
        ro("rule_sid"),
    ),
)  # fmt: skip


def mount(api: Api, world: World) -> None:
    for method in ("GET", "POST"):
        api.add(world, "/trunk_groups/{tg}/trunks", [method], _trunk_operation(method))
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        api.add(world, "/trunk_groups/{tg}/trunks/{sid}", [method], _trunk_operation(method))
    for resource in (TRUNK_GROUP, ENDPOINT, ACCESS_CONTROL_RULE):
        api.add_resource(world, resource)


RESOURCES = (TRUNK_GROUP, ENDPOINT, ACCESS_CONTROL_RULE)
