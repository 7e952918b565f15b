"""Core content objects: push applications and devices, and shortener domains and links.

(Storage containers and files are in `storage.py`.) Push notifications are served elsewhere; they
read the `push_applications` and `push_devices` collections defined here.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import create_object, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError, invalid
from bulkx.sandbox.http import Api, require_object
from bulkx.sandbox.resources.dids import check_reference
from bulkx.sandbox.schema import Hooks, Resource, create_only, pattern, ro, rw
from bulkx.sandbox.world import World, now_iso

# --- shared --------------------------------------------------------------------------------------


def _base64(value: Any) -> str | None:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "must be Base64-encoded"
    return None


_URL = pattern(r"https?://\S+", "must be an http(s) URL")


def _between(value: int, low: int, high: int) -> str | None:
    return None if low <= value <= high else f"must be from {low} to {high}"


def _taken(field: str, message: str, sid: str | None = None) -> ErrorAnswer:
    return ErrorAnswer(
        assumptions.SHORTENER_NAME_TAKEN_STATUS, message, [FieldError(field, message, sid)]
    )


def _in_use(status: int, message: str, sid: str) -> ErrorAnswer:
    return ErrorAnswer(status, message, [FieldError(None, message, sid)])


def _require_extra_scope(ctx: Ctx, scope: str, field: str, value: Any) -> None:
    """Some values need a scope of their own on top of `<area>.create|update`."""
    if ctx.principal.kind == "partner" and scope not in ctx.principal.scopes:
        raise ErrorAnswer(
            assumptions.MISSING_SCOPE_STATUS,
            "forbidden",
            [FieldError(field, f"setting {field} to {value!r} needs the scope {scope}")],
        )


def create_reusing(resource: Resource, match: tuple[str, ...], *, default: bool) -> Any:
    """POST with a `reuse` query argument: answer an existing object whose `match` fields equal
    those the create would store, instead of making another."""

    def operation(ctx: Ctx, _params: Mapping[str, str], body: Any) -> dict[str, Any]:
        body = require_object(body)
        reuse = ctx.query.get("reuse")
        if (default if reuse in (None, "") else reuse.lower() in ("true", "1", "yes")) and all(
            isinstance(body.get(f, ""), str | None) for f in match
        ):
            ctx.principal.require_scope(resource.scope, "create")
            wanted = {f: body.get(f, resource.by_name[f].default) for f in match}
            for obj in ctx.world.store.find(resource.collection, owner=ctx.owner):
                if all(obj.get(f) == v for f, v in wanted.items()):
                    return render(ctx, resource, obj)
        return create_object(ctx, resource, body)

    return operation


# --- push applications and devices -----------------------------------------------------------

_APPLICATION_CREDENTIALS = (
    "apns_id",
    "apns_key_id",
    "apns_p12",
    "apns_p12_password",
    "apns_p8",
    "apns_team_id",
    "apns_topic",
    "google_credentials",
)


def _empty_is_null(ctx: Ctx, obj: dict[str, Any], *rest: Any) -> None:
    target = rest[0] if rest else obj
    if assumptions.PUSH_EMPTY_STRINGS_ARE_NULL:
        for name in _APPLICATION_CREDENTIALS:
            if target.get(name) == "":
                target[name] = None


def _application_in_use(ctx: Ctx, application: dict[str, Any]) -> None:
    sid = str(application["application_sid"])
    used = ctx.world.store.find("push_devices", "c_application_sid=?", [sid], owner=ctx.owner)
    if used:
        raise _in_use(
            assumptions.PUSH_APPLICATION_IN_USE_STATUS,
            f"the application has {len(used)} device(s); delete them first",
            sid,
        )


PUSH_APPLICATION = Resource(
    name="push_application",
    api="core",
    path="/push/applications",
    sid_field="application_sid",
    collection="push_applications",
    indexed=("name",),
    scope="push",
    query_args=("with_related",),
    fields=(
        rw("apns_id"),
        rw("apns_key_id"),
        rw("apns_p12", check=_base64),
        ro("apns_p12_expiration"),
        rw("apns_p12_password"),
        rw("apns_p8"),
        rw("apns_team_id"),
        rw("apns_topic"),
        ro("application_sid"),
        rw("google_credentials", check=_base64),
        rw("name", default="N/A", nullable=False, max_length=255),
        ro("partner_sid"),
    ),
    hooks=Hooks(
        before_create=_empty_is_null,
        before_update=_empty_is_null,
        before_delete=_application_in_use,
    ),
)


def _device_application(ctx: Ctx, obj: dict[str, Any], *rest: Any) -> None:
    check_reference(ctx, rest[0] if rest else obj, "application_sid", "push_applications")


def _device_field(name: str, default: Any = None, **options: Any) -> Any:
    required = name in assumptions.PUSH_DEVICE_REQUIRED
    return rw(name, default=default, required=required, nullable=not required, **options)


PUSH_DEVICE = Resource(
    name="push_device",
    api="core",
    path="/push/devices",
    sid_field="device_sid",
    collection="push_devices",
    indexed=("application_sid", "token"),
    scope="push",
    query_args=("with_related", "reuse"),
    operations=frozenset({"list", "get", "update", "delete"}),
    fields=(
        _device_field("application_sid"),
        _device_field("application_version", ""),
        ro("device_sid"),
        _device_field("environment", "production", choices=("development", "production")),
        _device_field("os_version", ""),
        ro("partner_sid"),
        _device_field("token", max_length=4096),
        _device_field("type", choices=("android", "ios", "web")),
    ),
    hooks=Hooks(before_create=_device_application, before_update=_device_application),
)


# --- shortener domains and links ---------------------------------------------------------------

_PROXY_PASS_SCOPE = {
    "domain": "shortener.allow_domain_mode_proxypass",
    "link": "shortener.allow_link_mode_proxypass",
}
_SECURE_REQUIRED_SCOPE = "shortener.allow_domain_secure_required"


def _link_url(domain: Mapping[str, Any], short_name: str) -> str:
    scheme = "https" if domain.get("secure") == "required" else "http"
    return f"{scheme}://{domain['domain_name']}/{short_name}"


def _domain_rules(ctx: Ctx, obj: dict[str, Any], *rest: Any) -> None:
    current = obj if rest else None
    domain = rest[0] if rest else obj
    for mode in ("expired_mode", "not_found_mode"):
        changed = current is None or current.get(mode) != domain.get(mode)
        if changed and domain.get(mode) == "proxy_pass":
            _require_extra_scope(ctx, _PROXY_PASS_SCOPE["domain"], mode, "proxy_pass")
    if domain.get("secure") == "required" and (
        current is None or current.get("secure") != "required"
    ):
        _require_extra_scope(ctx, _SECURE_REQUIRED_SCOPE, "secure", "required")
    store = ctx.world.store
    name = str(domain["domain_name"]).lower()
    domain["domain_name"] = name
    if current is None or current.get("domain_name") != name:
        clash = store.find("shortener_domains", "c_domain_name=?", [name])
        if clash:
            raise _taken(
                "domain_name", f"the domain {name!r} is taken", str(clash[0]["domain_sid"])
            )
    if current is not None and (
        current.get("domain_name") != name or current.get("secure") != domain.get("secure")
    ):
        sid = str(domain["domain_sid"])
        for link in store.find("shortener_links", "c_domain_sid=?", [sid]):
            link["url"] = _link_url(domain, str(link["short_name"]))
            store.replace("shortener_links", str(link["link_sid"]), link)


def _domain_in_use(ctx: Ctx, domain: dict[str, Any]) -> None:
    sid = str(domain["domain_sid"])
    links = ctx.world.store.scalar(
        "SELECT count(*) FROM t_shortener_links WHERE c_domain_sid=?", (sid,)
    )
    if links:
        raise _in_use(
            assumptions.SHORTENER_DOMAIN_IN_USE_STATUS,
            f"the domain has {links} link(s); delete them first",
            sid,
        )


def _mode(name: str) -> Any:
    return rw(name, default="redirect_temporary", choices=assumptions.SHORTENER_MODES)


SHORTENER_DOMAIN = Resource(
    name="shortener_domain",
    api="core",
    path="/shortener/domains",
    sid_field="domain_sid",
    collection="shortener_domains",
    indexed=("domain_name",),
    scope="shortener",
    fields=(
        rw(
            "domain_name",
            required=True,
            nullable=False,
            check=pattern(
                r"(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", "must be a domain name"
            ),
        ),
        ro("domain_sid"),
        _mode("expired_mode"),
        rw("expired_page"),
        rw("expired_status_code", "int"),
        rw("minimum_length", "int", 6, nullable=False, check=lambda v: _between(v, 1, 64)),
        _mode("not_found_mode"),
        rw("not_found_page"),
        rw("not_found_status_code", "int"),
        ro("partner_sid"),
        rw("scope", default="children", nullable=False),
        rw("secure", default="disabled", choices=assumptions.SHORTENER_SECURE_VALUES),
        rw("suffix_pattern"),
    ),
    hooks=Hooks(
        before_create=_domain_rules, before_update=_domain_rules, before_delete=_domain_in_use
    ),
)


_SHORT_NAME_ALPHABET = string.ascii_letters + string.digits


def _link_rules(ctx: Ctx, obj: dict[str, Any], *rest: Any) -> None:
    current = obj if rest else None
    link = rest[0] if rest else obj
    store = ctx.world.store
    domain = store.get("shortener_domains", str(link["domain_sid"]), owner=ctx.owner)
    if domain is None:
        sid = str(link["domain_sid"])
        raise invalid([FieldError("domain_sid", "no shortener domain with this sid", sid)])
    if link.get("mode") == "proxy_pass" and (
        current is None or current.get("mode") != "proxy_pass"
    ):
        _require_extra_scope(ctx, _PROXY_PASS_SCOPE["link"], "mode", "proxy_pass")

    def named(short_name: str) -> list[dict[str, Any]]:
        where = "c_domain_sid=? AND c_short_name=?"
        return store.find("shortener_links", where, [domain["domain_sid"], short_name])

    name = link.get("short_name")
    if name is None:
        length = max(assumptions.SHORTENER_GENERATED_NAME_LENGTH, int(domain["minimum_length"]))
        name = "".join(secrets.choice(_SHORT_NAME_ALPHABET) for _ in range(length))
        while named(name):
            name = "".join(secrets.choice(_SHORT_NAME_ALPHABET) for _ in range(length))
    elif current is None or current.get("short_name") != name:
        clash = named(str(name))
        if clash:
            raise _taken("short_name", f"{name!r} is taken in this domain", clash[0]["link_sid"])
    link["short_name"] = name
    link["url"] = _link_url(domain, str(name))
    if current is None:
        link["date_created"] = now_iso()


SHORTENER_LINK = Resource(
    name="shortener_link",
    api="core",
    path="/shortener/links",
    sid_field="link_sid",
    collection="shortener_links",
    indexed=("domain_sid", "short_name"),
    scope="shortener",
    query_args=("reuse",),
    operations=frozenset({"list", "get", "update", "delete"}),
    fields=(
        ro("date_accessed"),
        ro("date_created"),
        rw("destination_url", required=True, nullable=False, check=_URL),
        create_only("domain_sid", required=True, nullable=False),
        ro("hits", "int", 0),
        ro("link_sid"),
        rw("maximum_ttl", "int", -1, nullable=False, check=lambda v: _between(v, -1, 2**31 - 1)),
        _mode("mode"),
        ro("partner_sid"),
        rw("short_name", check=pattern(r"[A-Za-z0-9_-]{1,64}", "letters, digits, _ and - only")),
        ro("url"),
    ),
    hooks=Hooks(before_create=_link_rules, before_update=_link_rules),
)


# --- routes --------------------------------------------------------------------------------------


def mount(api: Api, world: World) -> None:
    api.add(
        world,
        PUSH_DEVICE.path,
        ["POST"],
        create_reusing(PUSH_DEVICE, assumptions.PUSH_DEVICE_REUSE_MATCH, default=True),
    )
    api.add(
        world,
        SHORTENER_LINK.path,
        ["POST"],
        create_reusing(SHORTENER_LINK, assumptions.SHORTENER_LINK_REUSE_MATCH, default=False),
    )
    for resource in (PUSH_APPLICATION, PUSH_DEVICE, SHORTENER_DOMAIN, SHORTENER_LINK):
        api.add_resource(world, resource)


RESOURCES = (PUSH_APPLICATION, PUSH_DEVICE, SHORTENER_DOMAIN, SHORTENER_LINK)
