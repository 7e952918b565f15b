"""The Mediator API mount (`/mediator/v1`): HTTP Basic with a mediator endpoint's login.

- Every response is wrapped as `{"body": <payload>, "status": <http status>}`: `WrappedApi` wraps
  each route's response (objects, lists, errors) once, and a last route answers unknown paths and
  methods in the same wrapper.
- The account is the endpoint's, made on its first request; DIDs are a read-only view of the Core
  DIDs routed to the endpoint (the helpers are shared with `flexml`).
- Bindings get a free redirect_did of the endpoint when they send none; dialouts' numbers are
  unique across dialouts. Nothing is dialled and nothing expires.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import phonenumbers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import create_object, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError, invalid
from bulkx.sandbox.http import Api, Authenticate, Handler, error_response, require_object
from bulkx.sandbox.resources.app_views import app_authenticator, view_dids
from bulkx.sandbox.resources.flexml import bare, did_resource, number_check
from bulkx.sandbox.schema import Check, Hooks, Resource, pattern, ro, rw, validate_create
from bulkx.sandbox.store import Store
from bulkx.sandbox.world import World, now_iso

log = logging.getLogger("bulkx.sandbox")

PREFIX = "/mediator/v1"
API = "mediator"

# --- the wrapper ----------------------------------------------------------------------------------


def wrap(response: Response) -> Response:
    """`{"body": <the response's JSON>, "status": <its status>}`, same status and headers."""
    status = response.status_code
    if status == 204 and not assumptions.MEDIATOR_WRAPS_NO_CONTENT:
        return response
    if status >= 400 and not assumptions.MEDIATOR_WRAPS_ERRORS:
        return response
    body = bytes(response.body) or b"null"
    headers = {
        k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
    }
    wrapped = b'{"body":' + body + b',"status":' + str(status).encode() + b"}"
    return Response(wrapped, status_code=status, headers=headers, media_type="application/json")


class WrappedApi(Api):
    """An Api whose every route answers in the Mediator wrapper."""

    def endpoint(
        self,
        world: World,
        operation: Handler,
        *,
        form: bool = False,
        body: bool | None = None,
        authenticate: Authenticate | None = None,
    ) -> Callable[[Request], Awaitable[Response]]:
        inner = super().endpoint(world, operation, form=form, body=body, authenticate=authenticate)

        async def handle(request: Request) -> Response:
            try:
                response = await inner(request)
            except Exception:  # a sandbox bug costs one request, still in the wrapper
                log.exception("sandbox error on %s %s", request.method, request.url.path)
                response = error_response(ErrorAnswer(500, "internal server error"))
            return wrap(response)

        return handle


def _not_here(routes: list[BaseRoute]) -> Route:
    """The last route: 405 when another route has the path, else 404 (an error, so unwrapped:
    assumptions.MEDIATOR_WRAPS_ERRORS)."""

    async def answer(request: Request) -> Response:
        if any(route.matches(request.scope)[0] == Match.PARTIAL for route in routes):
            why = f"{request.method} is not allowed here"
            error = ErrorAnswer(405, "Method Not Allowed", [FieldError(None, why)])
        else:
            why = f"no such path: {request.url.path}"
            error = ErrorAnswer(404, assumptions.UNKNOWN_PATH_MESSAGE, [FieldError(None, why)])
        return wrap(error_response(error))

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Route("/{path:path}", answer, methods=methods)


# --- accounts and DIDs ----------------------------------------------------------------------------

ACCOUNT = Resource(
    name="mediator_account",
    api=API,
    path="/accounts",
    sid_field="account_sid",
    collection="mediator_accounts",
    owner="account",
    operations=frozenset({"list", "get"}),
    fields=tuple(ro(name) for name in assumptions.MEDIATOR_ACCOUNT_FIELDS),
)

DID = did_resource(API, "mediator_dids", ACCOUNT)


def _did_of(ctx: Ctx, number: Any, field: str) -> dict[str, Any]:
    """The endpoint's DID with this number, or a 422 naming `field`."""
    for did in view_dids(ctx, DID, ACCOUNT):
        if bare(did["phonenumber"]) == bare(number):
            return did
    raise ErrorAnswer(
        assumptions.MEDIATOR_REDIRECT_DID_NOT_OURS_STATUS,
        assumptions.MESSAGE_BY_STATUS[422],
        [FieldError(field, "is not a DID of this Mediator endpoint", str(number))],
    )


def _calling_code(number: Any) -> int | None:
    try:
        return phonenumbers.parse("+" + bare(number)).country_code
    except phonenumbers.NumberParseException:
        return None


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must not be negative"


# --- bindings -------------------------------------------------------------------------------------


def _clash(ctx: Ctx, binding: Mapping[str, Any], number: str) -> dict[str, Any] | None:
    """Another binding that holds `number` for a caller `binding` would also take."""
    origination = binding.get("origination_did")
    for other in ctx.world.store.find(
        BINDING.collection, f"{Store.column('redirect_did')}=?", [number], owner=ctx.owner
    ):
        theirs = other.get("origination_did")
        if other["binding_sid"] != binding.get("binding_sid") and (
            origination is None or theirs is None or bare(theirs) == bare(origination)
        ):
            return other
    return None


def _pick_redirect_did(ctx: Ctx, binding: Mapping[str, Any]) -> dict[str, Any]:
    free = [
        did
        for did in view_dids(ctx, DID, ACCOUNT)
        if _clash(ctx, binding, did["phonenumber"]) is None
    ]
    country = _calling_code(binding["destination_did"])
    fallback = (ctx.query.get("fallback_country") or "").upper()
    any_country = assumptions.MEDIATOR_REDIRECT_DID_SAME_COUNTRY == "any"
    for did in free:
        if any_country or _calling_code(did["phonenumber"]) == country:
            return did
    for did in free:
        if fallback and str(did.get("country_code") or "").upper() == fallback:
            return did
    why = f"no DID of the endpoint is free for {binding['destination_did']}" + (
        f" or in {fallback}" if fallback else ""
    )
    raise ErrorAnswer(409, why, [FieldError("redirect_did", why)])


def _place_binding(ctx: Ctx, binding: dict[str, Any]) -> None:
    """Check (or choose) the redirect_did, and describe it in redirect_did_info."""
    if binding.get("redirect_did") is None:
        did = _pick_redirect_did(ctx, binding)
    else:
        did = _did_of(ctx, binding["redirect_did"], "redirect_did")
        holder = _clash(ctx, binding, did["phonenumber"])
        if holder is not None:
            why = "the redirect_did is bound already for these callers"
            raise ErrorAnswer(
                assumptions.MEDIATOR_REDIRECT_DID_TAKEN_STATUS,
                why,
                [FieldError("redirect_did", why, str(holder["binding_sid"]))],
            )
    binding["redirect_did"] = did["phonenumber"]
    binding["redirect_did_info"] = {
        "country_code": did.get("country_code"),
        "e164_format": "+" + bare(did["phonenumber"]),
        "in_country_format": did.get("in_country_format"),
        "international_format": did.get("international_format"),
        "phonenumber": did["phonenumber"],
    }


def _new_binding(ctx: Ctx, binding: dict[str, Any]) -> None:
    binding["date_created"] = now_iso()
    _place_binding(ctx, binding)


def _update_binding(ctx: Ctx, current: dict[str, Any], updated: dict[str, Any]) -> None:
    if any(current.get(k) != updated.get(k) for k in ("redirect_did", "origination_did")):
        _place_binding(ctx, updated)


def _ttl_check(value: Any) -> str | None:
    return None if value == -1 or value > 0 else "must be positive, or -1 (never expires)"


dtmf_check: Check = pattern(assumptions.MEDIATOR_DTMF_PATTERN, "must be digits, *, # and commas")

BINDING = Resource(
    name="mediator_binding",
    api=API,
    path="/bindings",
    sid_field="binding_sid",
    collection="mediator_bindings",
    indexed=("destination_did", "redirect_did"),
    owner="account",
    # POST is mounted by hand: it takes the `reuse` and `fallback_country` query arguments.
    operations=frozenset({"list", "get", "update", "delete"}),
    query_args=("reuse", "fallback_country"),
    fields=(
        ro("account_sid"),
        rw("attributes", "object", {}, nullable=False),
        ro("binding_sid"),
        ro("date_created"),
        rw("destination_did", required=True, nullable=False, check=number_check),
        rw("dtmf", check=dtmf_check),
        rw(
            "maximum_ttl",
            "int",
            assumptions.MEDIATOR_BINDING_DEFAULT_MAXIMUM_TTL,
            nullable=False,
            check=_ttl_check,
        ),
        rw("name", default=assumptions.CONFERENCE_DEFAULT_NAME, nullable=False, max_length=255),
        rw("origination_did", check=number_check),
        rw("redirect_did", check=number_check),
        ro("redirect_did_info", "object"),
        rw(
            "wait_origination_did_ttl",
            "int",
            assumptions.MEDIATOR_BINDING_DEFAULT_WAIT_ORIGINATION_DID_TTL,
            nullable=False,
            # -1 too, as the Get Bindings sample shows: MEDIATOR_WAIT_TTL_NEVER_EXPIRES.
            check=lambda v: None if v == -1 else _non_negative(v),
        ),
    ),
    hooks=Hooks(before_create=_new_binding, before_update=_update_binding),
)

_REUSE_KEYS = tuple(f.name for f in BINDING.fields if f.access == "rw" and f.name != "redirect_did")


def _create_binding(ctx: Ctx, _params: Mapping[str, str], body: Any) -> dict[str, Any]:
    body = dict(require_object(body))
    reuse = ctx.flag("reuse")
    if assumptions.MEDIATOR_BINDING_REUSE_IN_BODY and "reuse" in body:
        sent = body.pop("reuse")
        if not isinstance(sent, bool):
            raise invalid([FieldError("reuse", "must be true or false")])
        reuse = reuse or sent
    store = ctx.world.store
    with store.transaction():
        if reuse:
            wanted = validate_create(BINDING, body)
            keys = _REUSE_KEYS + (("redirect_did",) if "redirect_did" in body else ())
            for existing in store.find(BINDING.collection, owner=ctx.owner):
                if all(_same(k, existing.get(k), wanted.get(k)) for k in keys):
                    return render(ctx, BINDING, existing)
        return create_object(ctx, BINDING, body)


def _same(key: str, stored: Any, wanted: Any) -> bool:
    if key.endswith("_did") and stored is not None and wanted is not None:
        return bare(stored) == bare(wanted)
    return bool(stored == wanted)


# --- dialouts -------------------------------------------------------------------------------------

STAGES = ("stage_one_destination_did", "stage_two_destination_did")
NUMBER_FIELDS = ("redirect_did", *STAGES)


def _numbers_elsewhere(ctx: Ctx, dialout: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(number, dialout_sid) for every number of the account's other dialouts."""
    for other in ctx.world.store.find(DIALOUT.collection, owner=ctx.owner):
        if other["dialout_sid"] != dialout.get("dialout_sid"):
            for field in NUMBER_FIELDS:
                if other.get(field) is not None:
                    yield bare(other[field]), str(other["dialout_sid"])


def _check_dialout(ctx: Ctx, dialout: dict[str, Any], *, redirect_changed: bool = True) -> None:
    taken = dict(_numbers_elsewhere(ctx, dialout))
    if dialout.get("redirect_did") is None:
        if not assumptions.MEDIATOR_DIALOUT_AUTO_REDIRECT_DID:
            raise invalid([FieldError("redirect_did", "field is required")])
        stages = {bare(dialout[f]) for f in STAGES}
        free = [
            did
            for did in view_dids(ctx, DID, ACCOUNT)
            if bare(did["phonenumber"]) not in taken and bare(did["phonenumber"]) not in stages
        ]
        if not free:
            why = "no DID of the endpoint is free for a dialout"
            raise ErrorAnswer(409, why, [FieldError("redirect_did", why)])
        dialout["redirect_did"] = free[0]["phonenumber"]
    elif redirect_changed:
        dialout["redirect_did"] = _did_of(ctx, dialout["redirect_did"], "redirect_did")[
            "phonenumber"
        ]
    numbers = [bare(dialout[f]) for f in NUMBER_FIELDS]
    if assumptions.MEDIATOR_DIALOUT_NUMBERS_DISTINCT and len(set(numbers)) < len(numbers):
        raise invalid([FieldError(None, "the three numbers of a dialout must differ")])
    clashes = [
        FieldError(field, f"{number} is in another dialout", taken[number])
        for field, number in zip(NUMBER_FIELDS, numbers, strict=True)
        if number in taken
    ]
    if clashes:
        status = assumptions.MEDIATOR_DIALOUT_NUMBER_TAKEN_STATUS
        raise ErrorAnswer(status, clashes[0].message, clashes)


def _new_dialout(ctx: Ctx, dialout: dict[str, Any]) -> None:
    dialout["date_created"] = now_iso()
    # Built-in attributes a dialout starts with: assumptions.MEDIATOR_DIALOUT_DEFAULT_ATTRIBUTES.
    dialout["attributes"] = {
        **assumptions.MEDIATOR_DIALOUT_DEFAULT_ATTRIBUTES,
        **(dialout.get("attributes") or {}),
    }
    _check_dialout(ctx, dialout)


DIALOUT = Resource(
    name="mediator_dialout",
    api=API,
    path="/dialouts",
    sid_field="dialout_sid",
    collection="mediator_dialouts",
    owner="account",
    fields=(
        ro("account_sid"),
        rw("attributes", "object", {}, nullable=False),
        ro("date_created"),
        rw("delay", "int", 0, nullable=False, check=_non_negative),
        ro("dialout_sid"),
        rw("redirect_did", check=number_check),
        rw("stage_one_destination_did", required=True, nullable=False, check=number_check),
        rw("stage_two_destination_did", required=True, nullable=False, check=number_check),
    ),
    hooks=Hooks(
        before_create=_new_dialout,
        before_update=lambda ctx, current, updated: _check_dialout(
            ctx,
            updated,
            redirect_changed=current.get("redirect_did") != updated.get("redirect_did"),
        ),
    ),
)

# --- the mount ------------------------------------------------------------------------------------


def build(world: World) -> Api:
    api = WrappedApi(API, PREFIX, app_authenticator(("mediator",), ACCOUNT))
    api.add(world, "/bindings", ["POST"], _create_binding)
    for resource in (ACCOUNT, DID, BINDING, DIALOUT):
        api.add_resource(world, resource)
    api.routes.append(_not_here(list(api.routes)))
    return api


RESOURCES = (ACCOUNT, DID, BINDING, DIALOUT)
