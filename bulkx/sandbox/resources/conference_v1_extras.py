"""The rest of the legacy Conference API's quick reference: call flows (`/callFlows`), logging a
subscriber out (`/subscribers/logout`) and a subscriber's media files (`/subscribers/{sid}/files`).

The docs document the Call Flow object
(https://docs.carrierx.com/conference/conf-v1-api/call-flows/call-flow) and list the other methods
without objects or samples; what they leave open is in assumptions (CONFERENCE_V1_CALL_FLOW_NAMES,
CONFERENCE_V1_LOGOUT_STATUS, CONFERENCE_V1_FILE_*).
"""

from __future__ import annotations

import email.parser
import email.policy
import mimetypes
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_from_objects, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request, invalid, not_found
from bulkx.sandbox.http import Api, client_left, error_response, json_response, read_body
from bulkx.sandbox.schema import Resource, ro
from bulkx.sandbox.world import World

API = "conference_v1"
#: `subscriber(ctx, sid)`: the subscriber a path names (the whoami one by its own sid), or 404.
Subscriber = Callable[[Ctx, str], dict[str, Any]]

# --- call flows -----------------------------------------------------------------------------------

CALL_FLOW = Resource(
    name="conference_v1_call_flow",
    api=API,
    path="/callFlows",
    sid_field="id",
    collection="conf1_call_flows",
    owner="account",
    sid_kind="int",
    operations=frozenset(),  # the same flows for every account: served from CALL_FLOWS below
    fields=(ro("attributeTemplates", "array", []), ro("id", "int"), ro("name"), ro("path")),
)


def _templates() -> list[dict[str, Any]]:
    """The meeting attributes a flow starts meetings with, as Attribute objects."""
    return [
        {
            "description": f"the meeting's {name} setting",
            "enumValues": list(allowed),
            "group": assumptions.CONFERENCE_V1_MEETING_ATTRIBUTE_GROUP,
            "name": name,
            "type": assumptions.CONFERENCE_V1_MEETING_ATTRIBUTE_TYPE,
            "value": initial,
        }
        for name, (initial, allowed) in assumptions.CONFERENCE_V1_MEETING_ATTRIBUTES.items()
    ]


CALL_FLOWS: tuple[dict[str, Any], ...] = tuple(
    {"attributeTemplates": _templates(), "id": number, "name": name, "path": f"/callflows/{name}"}
    for number, name in enumerate(assumptions.CONFERENCE_V1_CALL_FLOW_NAMES, start=1)
)


def _call_flow(ctx: Ctx, params: Mapping[str, str], _body: Any) -> dict[str, Any]:
    for flow in CALL_FLOWS:
        if str(flow["id"]) == params["id"]:
            return render(ctx, CALL_FLOW, dict(flow))
    raise not_found(CALL_FLOW.name, params["id"])


# --- media files ----------------------------------------------------------------------------------

FILE = Resource(
    name="conference_v1_file",
    api=API,
    path="/subscribers/{sid}/files",
    sid_field="name",
    collection="conf1_files",
    indexed=("name", "_subscriber"),
    owner="account",
    operations=frozenset(),  # served by the functions below
    fields=(ro("contentType"), ro("created", "int"), ro("name"), ro("size", "int")),
)


def _file_sid(owner: str, subscriber: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"conf1-file/{owner}/{subscriber}/{name}"))


def _files_of(ctx: Ctx, subscriber: str) -> list[dict[str, Any]]:
    return ctx.world.store.find(FILE.collection, "c__subscriber=?", [subscriber], owner=ctx.owner)


def _parse_upload(
    content_type: str, raw: bytes, query: Mapping[str, str]
) -> tuple[str, bytes, str | None]:
    """(name, bytes, content type) of an upload: a multipart file part with a filename, or a raw
    body named by the `fileName` query argument (assumptions.CONFERENCE_V1_FILE_FIELDS)."""
    media = content_type.split(";")[0].strip().lower()
    if media != "multipart/form-data":
        name = query.get("fileName") or ""
        if not name:
            raise invalid([FieldError("fileName", "name the file: ?fileName=<name>")])
        return name, raw, media or None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise bad_request("the multipart body could not be read", "file")
    for part in message.iter_parts():
        filename = part.get_filename()
        if filename:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            return query.get("fileName") or filename, data, part.get_content_type()
    raise invalid([FieldError("file", "send the file in a part with a filename")])


def _store_file(ctx: Ctx, subscriber: str, name: str, data: bytes, kind: str | None) -> Any:
    if "/" in name or not name.strip():
        raise invalid([FieldError("fileName", "must be a plain file name")])
    guessed = kind if kind and kind != "application/octet-stream" else None
    descriptor = {
        "_subscriber": subscriber,
        "contentType": guessed or mimetypes.guess_type(name)[0] or "application/octet-stream",
        "created": int(time.time() * 1000),
        "name": name,
        "size": len(data),
    }
    store = ctx.world.store
    sid = _file_sid(ctx.owner, subscriber, name)
    with store.transaction():
        if store.get(FILE.collection, sid) is not None:
            store.delete(FILE.collection, sid)  # uploading a name again replaces the file
        store.insert(FILE.collection, sid, ctx.owner, descriptor)
    return render(ctx, FILE, descriptor)


def _upload_route(api: Api, world: World, subscriber_of: Subscriber) -> Route:
    async def handle(request: Request) -> Response:
        try:
            principal = api.authenticate(world, request.headers)
            base = str(request.url.replace(query=""))
            ctx = Ctx(world, principal, dict(request.query_params), base_url=base)
            sid = str(subscriber_of(ctx, request.path_params["sid"])["sid"])
            raw = await read_body(
                request, world.limits, max_bytes=assumptions.CONFERENCE_V1_FILE_MAX_BYTES
            )
            kind_header = request.headers.get("content-type", "")
            name, data, kind = _parse_upload(kind_header, raw, ctx.query)
            answer = _store_file(ctx, sid, name, data, kind)
        except ErrorAnswer as error:
            return error_response(error)
        except ClientDisconnect:
            return client_left()
        return json_response(answer, assumptions.CONFERENCE_V1_FILE_UPLOAD_STATUS)

    return Route(FILE.path, handle, methods=["POST"])


def _files(method: str, subscriber_of: Subscriber) -> Callable[..., Any]:
    def operation(ctx: Ctx, params: Mapping[str, str], _body: Any) -> Any:
        sid = str(subscriber_of(ctx, params["sid"])["sid"])
        name = params.get("fileName")
        store = ctx.world.store
        if method == "GET":
            return list_from_objects(ctx, FILE, _files_of(ctx, sid))
        with store.transaction():
            if name is None:
                for found in _files_of(ctx, sid):
                    store.delete(FILE.collection, _file_sid(ctx.owner, sid, str(found["name"])))
                return None
            key = _file_sid(ctx.owner, sid, name)
            if store.get(FILE.collection, key, owner=ctx.owner) is None:
                raise not_found(FILE.name, name)
            store.delete(FILE.collection, key)
        return None

    return operation


# --- the mount ------------------------------------------------------------------------------------


def mount(api: Api, world: World, subscriber_of: Subscriber) -> None:
    """Add the routes; `subscriber_of` is conference_v1's lookup of a path's subscriber. They go
    before the generic /subscribers/{sid} routes, which would take "logout" for a sid."""
    api.add(
        world,
        "/callFlows",
        ["GET"],
        lambda c, _p, _b: list_from_objects(c, CALL_FLOW, [dict(f) for f in CALL_FLOWS]),
    )
    api.add(world, "/callFlows/{id}", ["GET"], _call_flow)
    logout: Callable[..., Any] = lambda _c, _p, _b: None  # noqa: E731
    api.add(world, "/subscribers/logout", ["POST"], logout)
    api.routes.append(_upload_route(api, world, subscriber_of))
    api.add(world, FILE.path, ["GET"], _files("GET", subscriber_of))
    api.add(world, FILE.path, ["DELETE"], _files("DELETE", subscriber_of))
    api.add(world, FILE.path + "/{fileName}", ["DELETE"], _files("DELETE", subscriber_of))


RESOURCES = (CALL_FLOW, FILE)
