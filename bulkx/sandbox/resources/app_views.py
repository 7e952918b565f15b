"""What every app API (Conference v1/v2, FlexML, Mediator) shares: the account behind an app
endpoint, made on its first authenticated request, and the account's view of the Core DIDs
routed to the endpoint (through a trunk group with a trunk whose endpoint_sid is the endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx, Principal
from bulkx.sandbox.crud import load, update_object
from bulkx.sandbox.errors import ErrorAnswer, FieldError
from bulkx.sandbox.http import Authenticate, Handler, require_object
from bulkx.sandbox.resources.dids import DID as CORE_DID
from bulkx.sandbox.resources.routing import ENDPOINT, TRUNK_GROUP
from bulkx.sandbox.schema import Resource
from bulkx.sandbox.store import Store
from bulkx.sandbox.world import World, now_iso

#: Read-only fields copied from the Core DID (a DID's number never changes, so once is enough).
COPIED_FROM_CORE = ("country_code", "in_country_format", "international_format", "phonenumber")


def account_endpoint(world: World, account_sid: str) -> dict[str, Any]:
    """The Core endpoint behind an app account."""
    found = world.store.find(
        ENDPOINT.collection, "json_extract(data, '$._account_sid')=?", [account_sid]
    )
    if not found:
        raise ErrorAnswer(401, "Bad credentials", [FieldError(None, "the endpoint is gone")])
    return found[0]


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


def view_update(view: Resource, account: Resource, *, replace: bool) -> Handler:
    """PATCH/PUT of a view DID: sync first, so a DID routed a moment ago can be updated."""

    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> dict[str, Any]:
        sync_did_view(ctx, view, account)
        return update_object(ctx, view, params["sid"], require_object(body), replace=replace)

    return operation
