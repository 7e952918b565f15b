"""The FlexML API mount (`/flexml/v1`): HTTP Basic with a flexml endpoint's login.

- The account is the endpoint's, made on its first authenticated request (as in Conference v2).
- DIDs are a view of the Core DIDs routed to the endpoint (through a trunk group with a trunk whose
  endpoint_sid is the endpoint); only their FlexML settings (url, method, callbacks) are kept here.
- Calls are records only: nothing is dialled. DELETE cancels a call, which removes it.

The app-account and DID-view helpers below are generic over the resources: `mediator` uses them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx, Principal
from bulkx.sandbox.crud import load, update_object
from bulkx.sandbox.errors import FieldError, invalid
from bulkx.sandbox.http import Api, Authenticate, Operation, require_object
from bulkx.sandbox.resources.conference_v2 import COPIED_FROM_CORE, account_endpoint
from bulkx.sandbox.resources.numbers import DID as CORE_DID
from bulkx.sandbox.resources.routing import TRUNK_GROUP
from bulkx.sandbox.schema import Check, Hooks, Resource, create_only, hidden, pattern, ro, rw
from bulkx.sandbox.store import Store
from bulkx.sandbox.world import World, now_iso

PREFIX = "/flexml/v1"
API = "flexml"

# --- generic: the app account of an endpoint, and its view of the Core DIDs routed to it ----------


def ensure_app_account(world: World, principal: Principal, account: Resource) -> None:
    """Make the endpoint's `account` row on its first authenticated request: the account's
    defaults plus its sid, date_created, login, name (and partner_sid when the resource has one)."""
    store, sid = world.store, principal.account_sid
    if sid is None or store.get(account.collection, sid) is not None:
        return
    with store.transaction():
        if store.get(account.collection, sid) is not None:
            return
        endpoint = account_endpoint(world, sid)
        row = {
            name: value
            for name, value in account.defaults().items()
            if account.by_name[name].access != "hidden"
        }
        row.update(
            account_sid=sid,
            date_created=now_iso(),
            login=endpoint["properties"]["login"],
            _endpoint_sid=endpoint["endpoint_sid"],
        )
        if assumptions.APP_ACCOUNT_NAME_FROM_ENDPOINT and "name" in account.by_name:
            row["name"] = endpoint["name"]
        if "partner_sid" in account.by_name:
            row["partner_sid"] = principal.partner_sid
        store.insert(account.collection, sid, sid, row)


def app_authenticator(types: tuple[str, ...], account: Resource) -> Authenticate:
    """The mount's authenticate: Basic with an endpoint of `types`, then its account exists."""

    def authenticate(world: World, headers: Mapping[str, str]) -> Principal:
        principal = world.authenticate_app(headers, types)
        ensure_app_account(world, principal, account)
        return principal

    return authenticate


def routed_did_sids(ctx: Ctx, endpoint_sid: str) -> list[str]:
    """The sids of the caller's Core DIDs whose trunk group has a trunk to `endpoint_sid`."""
    store, partner = ctx.world.store, ctx.principal.partner_sid
    groups = [
        str(row[0])
        for row in store.rows(
            f"SELECT DISTINCT g.sid FROM t_{TRUNK_GROUP.collection} g,"
            " json_each(g.data, '$.trunks') t"
            " WHERE g.owner=? AND json_extract(t.value, '$.endpoint_sid')=?",
            (partner, endpoint_sid),
        )
    ]
    if not groups:
        return []
    marks = ", ".join("?" * len(groups))
    return [
        str(row[0])
        for row in store.rows(
            f"SELECT sid FROM t_{CORE_DID.collection} WHERE owner=?"
            f" AND {Store.column('trunk_group_sid')} IN ({marks}) ORDER BY seq",
            (partner, *groups),
        )
    ]


def sync_did_view(ctx: Ctx, view: Resource, account: Resource) -> None:
    """Bring the account's `view` of DIDs up to date with Core routing: routed DIDs appear with
    the view's defaults and the Core number fields; DIDs routed away leave with their settings."""
    store = ctx.world.store
    endpoint_sid = str(load(ctx, account, ctx.owner)["_endpoint_sid"])

    def state() -> tuple[list[str], set[str]]:
        shown = store.rows(f"SELECT sid FROM t_{view.collection} WHERE owner=?", (ctx.owner,))
        return routed_did_sids(ctx, endpoint_sid), {str(row[0]) for row in shown}

    routed, shown = state()
    if set(routed) == shown:
        return
    with store.transaction():
        routed, shown = state()  # again, under the write lock
        for sid in shown.difference(routed):
            store.delete(view.collection, sid)
        for sid in routed:
            if sid in shown or store.owner_of(view.collection, sid) is not None:
                continue  # shown already, here or in another account's view
            core = store.get(CORE_DID.collection, sid) or {}
            did = {**view.defaults(), "account_sid": ctx.owner, "did_sid": sid}
            did.update({name: core.get(name) for name in COPIED_FROM_CORE})
            store.insert(view.collection, sid, ctx.owner, did)


def view_dids(ctx: Ctx, view: Resource, account: Resource) -> list[dict[str, Any]]:
    """The account's DIDs (in view order), after bringing the view up to date."""
    sync_did_view(ctx, view, account)
    return ctx.world.store.find(view.collection, owner=ctx.owner)


def view_update(view: Resource, account: Resource, *, replace: bool) -> Operation:
    """PATCH/PUT of a view DID: sync first, so a DID routed a moment ago can be updated."""

    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> dict[str, Any]:
        sync_did_view(ctx, view, account)
        return update_object(ctx, view, params["sid"], require_object(body), replace=replace)

    return operation


def did_resource(api: str, collection: str, account: Resource, *settings: Any) -> Resource:
    """A DID view resource of `account`: the Core number fields (read only) plus `settings`."""
    view: list[Resource] = []  # the resource's hook needs the resource
    resource = Resource(
        name=f"{api}_did",
        api=api,
        path="/dids",
        sid_field="did_sid",
        collection=collection,
        indexed=("phonenumber",),
        owner="account",
        # PATCH/PUT (when there are settings) are mounted by hand: they sync the view first.
        operations=frozenset({"list", "get"}),
        fields=(
            ro("account_sid"),
            ro("country_code"),
            ro("did_sid"),
            ro("in_country_format"),
            ro("international_format"),
            ro("phonenumber"),
            *settings,
        ),
        hooks=Hooks(before_read=lambda ctx: sync_did_view(ctx, view[0], account)),
    )
    view.append(resource)
    return resource


# --- accounts -----------------------------------------------------------------------------------

METHODS = assumptions.FLEXML_HTTP_METHODS
url_check: Check = pattern(assumptions.APP_URL_PATTERN, "must be an http(s) URL")


def _password_is_read_only(_ctx: Ctx, _current: dict[str, Any], updated: dict[str, Any]) -> None:
    if "password" in updated and not assumptions.FLEXML_ACCOUNT_PASSWORD_WRITABLE:
        raise invalid([FieldError("password", "field is read only")])


ACCOUNT = Resource(
    name="flexml_account",
    api=API,
    path="/accounts",
    sid_field="account_sid",
    collection="flexml_accounts",
    owner="account",
    operations=frozenset({"list", "get", "update"}),
    fields=(
        ro("account_sid"),
        ro("date_created"),
        rw("error_handler", default="basic", nullable=False, choices=("basic", "none")),
        ro("login"),
        rw("method", default="POST", nullable=False, choices=METHODS),
        rw("name", default=assumptions.CONFERENCE_DEFAULT_NAME, nullable=False, max_length=255),
        hidden("password"),
        rw("status_callback_method", default="POST", nullable=False, choices=METHODS),
        rw("status_callback_url", check=url_check),
        rw("url", check=url_check),
    ),
    hooks=Hooks(before_update=_password_is_read_only),
)

# --- DIDs -----------------------------------------------------------------------------------------

DID = did_resource(
    API,
    "flexml_dids",
    ACCOUNT,
    rw("method", default=assumptions.FLEXML_DID_DEFAULT_METHOD, nullable=False, choices=METHODS),
    rw("status_callback_method", default="POST", nullable=False, choices=METHODS),
    rw("status_callback_url", check=url_check),
    rw("url", check=url_check),
)

# --- calls ----------------------------------------------------------------------------------------


def bare(number: Any) -> str:
    """A number as compared with a DID's phonenumber."""
    return str(number).removeprefix("+") if assumptions.APP_NUMBERS_IGNORE_PLUS else str(number)


def _new_call(ctx: Ctx, call: dict[str, Any]) -> None:
    number = bare(call["calling_did"])
    ours = {bare(did["phonenumber"]) for did in view_dids(ctx, DID, ACCOUNT)}
    if number not in ours:
        raise invalid([FieldError("calling_did", "is not a DID of this FlexML endpoint")])
    call["date_created"] = now_iso()


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must not be negative"


number_check: Check = pattern(assumptions.APP_NUMBER_PATTERN, "must be a phone number (digits)")

CALL = Resource(
    name="flexml_call",
    api=API,
    path="/calls",
    sid_field="call_sid",
    collection="flexml_calls",
    indexed=("calling_did", "called_did"),
    owner="account",
    fields=(
        ro("account_sid"),
        create_only("attributes", "object", {}, nullable=False),
        ro("call_sid"),
        create_only("called_did", required=True, nullable=False, check=number_check),
        create_only("calling_did", required=True, nullable=False, check=number_check),
        ro("date_created"),
        create_only("delay", "float", 0, nullable=False, check=_non_negative),
        create_only("method", default="POST", nullable=False, choices=METHODS),
        rw("status_callback_method", default="POST", nullable=False, choices=METHODS),
        rw("status_callback_url", check=url_check),
        create_only("url", required=assumptions.FLEXML_CALL_URL_REQUIRED, check=url_check),
    ),
    hooks=Hooks(before_create=_new_call),
)

# --- the mount ------------------------------------------------------------------------------------


def build(world: World) -> Api:
    api = Api(API, PREFIX, app_authenticator(("flexml",), ACCOUNT))
    api.add(world, "/dids/{sid}", ["PATCH"], view_update(DID, ACCOUNT, replace=False))
    api.add(world, "/dids/{sid}", ["PUT"], view_update(DID, ACCOUNT, replace=True))
    for resource in (ACCOUNT, DID, CALL):
        api.add_resource(world, resource)
    return api


RESOURCES = (ACCOUNT, DID, CALL)
