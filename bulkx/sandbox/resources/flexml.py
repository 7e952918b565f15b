"""The FlexML API mount (`/flexml/v1`): HTTP Basic with a flexml endpoint's login.

- The account is the endpoint's, made on its first authenticated request (as in Conference v2).
- DIDs are a view of the Core DIDs routed to the endpoint (through a trunk group with a trunk whose
  endpoint_sid is the endpoint); only their FlexML settings (url, method, callbacks) are kept here.
- Calls are records only: nothing is dialled. DELETE cancels a call, which removes it.

`did_resource` builds the DID view; `mediator` uses it too.
"""

from __future__ import annotations

from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.errors import FieldError, invalid
from bulkx.sandbox.http import Api
from bulkx.sandbox.resources.app_views import (
    app_authenticator,
    sync_did_view,
    view_dids,
    view_update,
)
from bulkx.sandbox.schema import Check, Hooks, Resource, create_only, hidden, pattern, ro, rw
from bulkx.sandbox.world import World, now_iso

PREFIX = "/flexml/v1"
API = "flexml"


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
