"""Core routing objects: trunk groups with their nested trunks, endpoints, access control rules."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_from_objects, load, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError, conflict, invalid, not_found
from bulkx.sandbox.http import Api, require_object
from bulkx.sandbox.schema import (
    Field,
    Hooks,
    Resource,
    create_only,
    each_object,
    ro,
    rw,
    validate_create,
    validate_update,
)
from bulkx.sandbox.world import World

# --- access control lists (nested in partners, trunk groups and trunks) -------------------------

#: The Access Control List object and its value lists:
#: https://docs.carrierx.com/voice/core-api/access-control/access-control-list
ACL_DIRECTIONS = ("any", "inbound", "outbound", "undirected")
ACL_VOICE_ACTIONS = ("accept", "reject403", "reject503")
ACL_SMS_ACTIONS = ("accept", "reject")


def _voice_only(_value: Any) -> str | None:
    # Any non-null value: "for the Trunk Group and the Trunk Objects the sms_action_false and
    # sms_action_true fields are always null and read-only because [they] are used for voice only".
    return "is always null on trunk groups and trunks (they carry voice only)"


ACL_FIELDS: dict[str, Field] = {
    "access_control_rules": rw("access_control_rules", "array", []),
    "direction": rw("direction", choices=ACL_DIRECTIONS),
    "sms_action_false": rw("sms_action_false", choices=ACL_SMS_ACTIONS),
    "sms_action_true": rw("sms_action_true", choices=ACL_SMS_ACTIONS),
    "voice_action_false": rw("voice_action_false", choices=ACL_VOICE_ACTIONS),
    "voice_action_true": rw("voice_action_true", choices=ACL_VOICE_ACTIONS),
}
VOICE_ACL_FIELDS: dict[str, Field] = {
    **ACL_FIELDS,
    "sms_action_false": rw("sms_action_false", check=_voice_only),
    "sms_action_true": rw("sms_action_true", check=_voice_only),
}

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
        rw("acls", "array", [], nullable=False, check=each_object(VOICE_ACL_FIELDS)),
        rw(
            "allow_forward",
            default="disabled",
            choices=("direct", "direct_uri", "disabled", "protected", "reroute"),
        ),
        # assumptions.TRUNK_ALLOW_TRANSFER_TYPE: a boolean, as the trunk object page types it
        # and every documented sample sends it.
        rw("allow_transfer", assumptions.TRUNK_ALLOW_TRANSFER_TYPE, False),
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
)


def _no_endpoint_as_null(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """`"endpoint_sid": ""` is a trunk without an endpoint: the documented create sample sends
    it and answers `"endpoint_sid": null` (assumptions.EMPTY_ENDPOINT_SID_IS_NULL)."""
    if assumptions.EMPTY_ENDPOINT_SID_IS_NULL and body.get("endpoint_sid") == "":
        return {**body, "endpoint_sid": None}
    return body


def _new_trunk(ctx: Ctx, body: Mapping[str, Any]) -> dict[str, Any]:
    trunk = validate_create(TRUNK, _no_endpoint_as_null(body))
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
        except ErrorAnswer as error:  # re-labelled with the trunk's index
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
        rw("acls", "array", [], nullable=False, check=each_object(VOICE_ACL_FIELDS)),
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
                    limit = assumptions.TRUNK_LIST_LIMIT_DEFAULT
                    return list_from_objects(ctx, TRUNK, trunks, default_limit=limit)
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
                TRUNK,
                trunks[index],
                _no_endpoint_as_null(require_object(body)),
                replace=method == "PUT",
            )
            _check_endpoint(ctx, updated)
            trunks[index] = updated
            store.replace("trunk_groups", params["tg"], {**group, "trunks": trunks})
            return render(ctx, TRUNK, updated)

    return operation


# --- endpoints -----------------------------------------------------------------------------------

ENDPOINT_TYPES = (
    "system_gateway",
    "third_party",
    "conference",
    "conference_playback",
    "conference_v2",
    "flexml",
    "mediator",
    "voicemail",
)


_ADDRESS_FIELDS: dict[str, Field] = {
    "direction": rw("direction", nullable=False),
    "dst_port": rw("dst_port", "int", nullable=False),
    "ip": rw("ip", nullable=False),
    "location_sid": rw("location_sid"),
    "port": rw("port", "int", nullable=False),
    "priority": rw("priority", "int", nullable=False),
    "sip_password": rw("sip_password"),
    "sip_username": rw("sip_username"),
    "srtp": rw("srtp", "bool", nullable=False),
    "transport": rw("transport", nullable=False),
}
_ADDRESS_INTS = tuple(name for name, spec in _ADDRESS_FIELDS.items() if spec.type == "int")


def _as_int(value: Any) -> Any:
    """A port sent as a string of digits ("5060", the create sample's) is the integer."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _check_addresses(value: Any) -> str | None:
    """Endpoint Addresses: known keys, typed values, an `ip` in each
    (https://docs.carrierx.com/voice/core-api/endpoints/endpoint)."""
    typed = [
        {k: _as_int(v) if k in _ADDRESS_INTS else v for k, v in item.items()}
        if isinstance(item, dict)
        else item
        for item in value
    ]
    problem = each_object(_ADDRESS_FIELDS)(typed)
    if problem:
        return problem
    for index, item in enumerate(typed):
        if not item.get("ip"):
            return f"item {index}: ip is required"
    return None


def _addresses(value: Any) -> list[dict[str, Any]]:
    """Each address with every documented field: its defaults filled in (the create sample,
    assumptions.ENDPOINT_ADDRESS_DEFAULTS) and ports as integers."""
    return [
        {
            **assumptions.ENDPOINT_ADDRESS_DEFAULTS,
            **{k: _as_int(v) if k in _ADDRESS_INTS else v for k, v in item.items()},
        }
        for item in value or []
    ]


def system_gateway_sid(partner_sid: str) -> str:
    """The sid of a partner's system_gateway endpoint (seeded CDRs name it too)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-system-gateway-{partner_sid}"))


def ensure_system_gateway(world: World, partner_sid: str) -> None:
    """Give the partner its system_gateway endpoint, unless it has it already
    (assumptions.SYSTEM_GATEWAY_NAME; https://docs.carrierx.com/voice/core-api/endpoints)."""
    store = world.store
    sid = system_gateway_sid(partner_sid)
    if store.get(ENDPOINT.collection, sid) is not None:
        return
    with store.transaction():
        if store.get(ENDPOINT.collection, sid) is not None:
            return
        gateway = {
            **ENDPOINT.defaults(),
            "addresses": _addresses([{"ip": assumptions.SYSTEM_GATEWAY_IP}]),
            "endpoint_sid": sid,
            "name": assumptions.SYSTEM_GATEWAY_NAME,
            "partner_sid": partner_sid,
            "type": "system_gateway",
        }
        store.insert(ENDPOINT.collection, sid, partner_sid, gateway)


def _gateway_before_read(ctx: Ctx) -> None:
    if ctx.principal.kind == "partner":
        ensure_system_gateway(ctx.world, ctx.principal.partner_sid)


def _not_the_gateway(current: Mapping[str, Any]) -> None:
    if current.get("type") == "system_gateway":
        why = "the system_gateway endpoint is provided by CarrierX and cannot be modified"
        raise ErrorAnswer(
            assumptions.SYSTEM_GATEWAY_CHANGE_STATUS,
            assumptions.MESSAGE_BY_STATUS[403],
            [FieldError(None, why, str(current.get("endpoint_sid")))],
        )


def _create_endpoint(ctx: Ctx, obj: dict[str, Any]) -> None:
    if obj["type"] == "system_gateway":
        why = "every partner has one system_gateway endpoint, provided by CarrierX"
        raise invalid([FieldError("type", why)])
    obj["addresses"] = _addresses(obj.get("addresses"))
    properties = dict(obj.get("properties") or {})
    if obj["type"] in assumptions.APP_ENDPOINT_TYPES:
        login = properties.get("login") or f"{obj['type']}_{secrets.token_hex(4)}"
        if ctx.world.store.find("endpoints", "c__login=?", [login]):
            raise conflict(f"the login {login!r} is taken", "properties.login")
        properties["login"] = login
        properties.setdefault("password", secrets.token_hex(12))
        obj["_login"] = login
        obj["_account_sid"] = str(uuid.uuid4())
        properties["account_sid"] = obj["_account_sid"]
        properties.setdefault("container_sid", assumptions.APP_ENDPOINT_CONTAINER_SID_DEFAULT)
        properties.pop("api_url", None)  # the sandbox's own URL, added when rendered
    if obj["type"] in assumptions.ENDPOINT_VOIP_TOKEN_TYPES:
        obj["voip_token"] = str(uuid.uuid4())
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
    _not_the_gateway(current)
    updated["addresses"] = _addresses(updated.get("addresses"))
    # App credentials and the app account are the server's: a PATCH of `properties` keeps them
    # (api_url is never stored: it is added when rendered).
    old = current.get("properties") or {}
    if "login" in old:
        props = {k: v for k, v in (updated.get("properties") or {}).items() if k != "api_url"}
        for key in assumptions.APP_ENDPOINT_SERVER_PROPERTIES:
            if key in old:
                props[key] = old[key]
        props.setdefault("container_sid", assumptions.APP_ENDPOINT_CONTAINER_SID_DEFAULT)
        updated["properties"] = props


def _render_endpoint(ctx: Ctx, out: dict[str, Any]) -> dict[str, Any]:
    """App endpoints show `properties.api_url`: the sandbox's own mount for their API, at the
    scheme, host and port the request came in on (assumptions.APP_ENDPOINT_API_PATHS)."""
    if out.get("type") not in assumptions.APP_ENDPOINT_TYPES or not out.get("properties"):
        return out
    path = assumptions.APP_ENDPOINT_API_PATHS.get(str(out["type"]))
    root = ctx.base_url.split("/core/v2", 1)[0] if "/core/v2" in ctx.base_url else ""
    properties = {**out["properties"], "api_url": f"{root}{path}" if path else None}
    return {**out, "properties": dict(sorted(properties.items()))}


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
        rw("addresses", "array", [], nullable=False, check=_check_addresses),
        rw("attributes", "object", {}, nullable=False),
        rw("capacity", "int", 0),
        ro("cps_limit", "int", None),
        ro("endpoint_sid"),
        rw("name", default="N/A", nullable=False, max_length=255),
        rw("out_sip_username"),
        # Returned like out_sip_username (the samples show both): ENDPOINT_OUT_SIP_PASSWORD_SHOWN.
        rw("out_sip_password"),
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
        before_delete=lambda _ctx, current: _not_the_gateway(current),
        render=_render_endpoint,
        before_read=_gateway_before_read,
    ),
)

# --- access control ----------------------------------------------------------------------

#: The Access Control Rule object's value lists (its page, linked below).
ACR_OPERATIONS = ("exact", "prefix", "regexp")
ACR_QUANTIFIERS = ("all", "any", "none")

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
        rw(
            "field",
            required=True,
            choices=("calling", "called", "from", "to", "message", "from_did", "to_did"),
        ),
        rw("name", default="N/A", nullable=False),
        # https://docs.carrierx.com/voice/core-api/access-control/access-control-rule
        rw("operation", required=True, nullable=False, choices=ACR_OPERATIONS),
        # No partner_sid: the object and its create/update samples have none (the row's owner
        # is the partner): assumptions.ACCESS_CONTROL_RULE_FIELDS_AS_DOCUMENTED.
        rw("quantifier", required=True, nullable=False, choices=ACR_QUANTIFIERS),
        ro("read_only", "bool", False),
        ro("rule_sid"),
    ),
)


def mount(api: Api, world: World) -> None:
    ensure_system_gateway(world, world.partner_sid)
    for method in ("GET", "POST"):
        api.add(world, "/trunk_groups/{tg}/trunks", [method], _trunk_operation(method))
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        api.add(world, "/trunk_groups/{tg}/trunks/{sid}", [method], _trunk_operation(method))
    for resource in (TRUNK_GROUP, ENDPOINT, ACCESS_CONTROL_RULE):
        api.add_resource(world, resource)


RESOURCES = (TRUNK_GROUP, ENDPOINT, ACCESS_CONTROL_RULE)
