"""HTTP plumbing shared by every API mount: bodies, responses, errors, generic routes."""

from __future__ import annotations

import json
import logging
import sqlite3
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx, Principal
from bulkx.sandbox.crud import (
    create_object,
    delete_object,
    get_object,
    list_objects,
    update_object,
)
from bulkx.sandbox.errors import ErrorAnswer, FieldError
from bulkx.sandbox.limits import Limits, deadline_passed, query_deadline, query_timeout_error
from bulkx.sandbox.listing import EncodedItems
from bulkx.sandbox.schema import Resource
from bulkx.sandbox.world import World

log = logging.getLogger("bulkx.sandbox")

Authenticate = Callable[[World, Mapping[str, str]], Principal]


@dataclass(frozen=True)
class Raw:
    """A non-JSON answer (e.g. CSV)."""

    body: bytes
    media_type: str
    status: int = 200


#: What a handler returns: a JSON document, nothing (204), or a raw body.
Result = dict[str, Any] | list[Any] | None | Raw
#: What a route does: (context, path parameters, body) -> its answer, or it raises `ErrorAnswer`.
Handler = Callable[[Ctx, Mapping[str, str], Any], Result]


_ITEMS_MARK = "\x00items\x00"


def encode_json(payload: Any) -> bytes:
    items = payload.get("items") if isinstance(payload, dict) else None
    if isinstance(items, EncodedItems):
        head = json.dumps(
            {**payload, "items": _ITEMS_MARK}, separators=(",", ":"), ensure_ascii=False
        )
        mark = json.dumps(_ITEMS_MARK, ensure_ascii=False)
        return head.replace(mark, "[" + ",".join(items) + "]", 1).encode()
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = encode_json(payload)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(error: ErrorAnswer) -> Response:
    return json_response(error.body(), error.status, error.headers or None)


async def read_body(
    request: Request, limits: Limits, *, max_bytes: int | None = None, field: str | None = None
) -> bytes:
    """The request body, refused with 413 past `max_bytes` (default: the JSON cap) and with 408
    when it has not all arrived within the body timeout. Both answers close the connection, so
    the rest of a huge body is not read. A client that leaves raises ClientDisconnect."""
    cap = limits.max_body_bytes if max_bytes is None else max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(cap, field)
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(limits.body_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise _too_large(cap, field)
                chunks.append(chunk)
    except TimeoutError:
        why = f"the body did not arrive within {limits.body_timeout_s:g} s"
        raise ErrorAnswer(408, "request timeout", [FieldError(field, why)], dict(_CLOSE)) from None
    return b"".join(chunks)


_CLOSE: Final = {"Connection": "close"}


def _too_large(cap: int, field: str | None) -> ErrorAnswer:
    why = f"the body is larger than {cap} bytes"
    return ErrorAnswer(413, "request entity too large", [FieldError(field, why)], dict(_CLOSE))


class EmptyBody(dict[str, Any]):
    """The `{}` an empty POST body stands for (a route that needs a body refuses it)."""


async def read_json_body(request: Request, limits: Limits, *, form: bool = False) -> Any:
    raw = await read_body(request, limits)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if form and content_type == "application/x-www-form-urlencoded":
        return _form_fields(raw)
    if not raw.strip():
        if request.method == "POST":
            # "POST ... when no argument is needed, send {}": an empty body means the same,
            # except where a route needs a body (renting a DID: `EmptyBody` tells them apart).
            return EmptyBody()
        raise ErrorAnswer(
            400, assumptions.INVALID_JSON_MESSAGE, [FieldError(None, "the body is empty")]
        )
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ErrorAnswer(
            415,
            assumptions.MESSAGE_BY_STATUS[415],
            [FieldError(None, "send the body with 'Content-Type: application/json'")],
        )
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ErrorAnswer(
            400, assumptions.INVALID_JSON_MESSAGE, [FieldError(None, "the body is not valid JSON")]
        ) from None
    except RecursionError:
        raise _too_deep_error() from None
    if _too_deep(payload):
        raise _too_deep_error()
    return payload


def client_left() -> Response:
    """The answer to a request whose client disconnected mid-body: nobody reads it, and it is
    not an error of the sandbox (no traceback in the log)."""
    return error_response(ErrorAnswer(400, "the client disconnected while sending the body"))


async def run_query(world: World, call: Callable[[], Result]) -> Result:
    """Run a read off the event loop (other clients are answered meanwhile), stopped with
    `assumptions.QUERY_TIMEOUT_STATUS` when it computes longer than the world's limit."""
    seconds = world.limits.query_timeout_s

    def bounded() -> Result:
        with query_deadline(seconds):
            try:
                return call()
            except sqlite3.OperationalError:
                if deadline_passed():  # the store's progress handler interrupted the query
                    raise query_timeout_error(seconds) from None
                raise

    return await anyio.to_thread.run_sync(bounded)


#: Bodies nested deeper than this are refused with a 400: validation, copying and storing
#: recurse, and a sandbox bug must not turn a silly body into a 500.
MAX_JSON_DEPTH = 64


def _too_deep_error() -> ErrorAnswer:
    message = f"the body nests deeper than {MAX_JSON_DEPTH} levels"
    return ErrorAnswer(400, assumptions.INVALID_JSON_MESSAGE, [FieldError(None, message)])


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _form_fields(raw: bytes) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as a dict (the last value of a repeated name).

    Parsed here rather than with `request.form()`, which needs python-multipart even for
    urlencoded bodies: the sandbox must not depend on an optional package to issue tokens.
    """
    try:
        text = raw.decode("utf-8")
        return dict(urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise ErrorAnswer(
            400,
            assumptions.MESSAGE_BY_STATUS[400],
            [FieldError(None, "the form body is not valid")],
        ) from None


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ErrorAnswer(
            400,
            assumptions.INVALID_JSON_MESSAGE,
            [FieldError(None, "the body must be a JSON object")],
        )
    return body


@dataclass
class Api:
    """One API mount: its prefix, how it authenticates, and its routes."""

    name: str
    prefix: str
    authenticate: Authenticate
    routes: list[BaseRoute] = field(default_factory=list)

    def endpoint(
        self,
        world: World,
        operation: Handler,
        *,
        form: bool = False,
        body: bool | None = None,
        authenticate: Authenticate | None = None,
    ) -> Callable[[Request], Awaitable[Response]]:
        auth = authenticate or self.authenticate

        async def handle(request: Request) -> Response:
            try:
                principal = auth(world, request.headers)
                wants_body = (
                    body if body is not None else request.method in ("POST", "PATCH", "PUT")
                )
                payload = (
                    await read_json_body(request, world.limits, form=form) if wants_body else None
                )
                base = str(request.url.replace(query=""))
                ctx = Ctx(world, principal, dict(request.query_params), base_url=base)
                params = request.path_params
                if request.method in ("GET", "HEAD"):
                    result = await run_query(world, lambda: operation(ctx, params, payload))
                else:
                    result = operation(ctx, params, payload)
            except ErrorAnswer as error:
                return error_response(error)
            except ClientDisconnect:
                return client_left()
            if result is None:
                return Response(status_code=204)
            if isinstance(result, Raw):
                return Response(
                    result.body, status_code=result.status, media_type=result.media_type
                )
            return json_response(result)

        return handle

    def add(
        self,
        world: World,
        path: str,
        methods: list[str],
        operation: Handler,
        *,
        form: bool = False,
        authenticate: Authenticate | None = None,
    ) -> None:
        """`authenticate` replaces the mount's for this route (e.g. the OAuth password grant)."""
        handler = self.endpoint(world, operation, form=form, authenticate=authenticate)
        self.routes.append(Route(path, handler, methods=methods))

    def add_resource(self, world: World, resource: Resource) -> None:
        """The generic routes of a resource: list/create on its path, get/update/delete on a sid."""
        ops = resource.operations
        if "list" in ops:
            self.add(world, resource.path, ["GET"], lambda ctx, _p, _b: list_objects(ctx, resource))
        if "create" in ops:
            self.add(
                world,
                resource.path,
                ["POST"],
                lambda ctx, _p, b: create_object(ctx, resource, require_object(b)),
            )
        item = resource.path + "/{sid}"
        if "get" in ops:
            self.add(world, item, ["GET"], lambda ctx, p, _b: get_object(ctx, resource, p["sid"]))
        if "update" in ops:
            self.add(
                world,
                item,
                ["PATCH"],
                lambda ctx, p, b: update_object(
                    ctx, resource, p["sid"], require_object(b), replace=False
                ),
            )
            self.add(
                world,
                item,
                ["PUT"],
                lambda ctx, p, b: update_object(
                    ctx, resource, p["sid"], require_object(b), replace=True
                ),
            )
        if "delete" in ops:
            self.add(
                world, item, ["DELETE"], lambda ctx, p, _b: delete_object(ctx, resource, p["sid"])
            )


async def http_exception(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        why = f"no such path: {request.url.path}"
        error = ErrorAnswer(404, assumptions.UNKNOWN_PATH_MESSAGE, [FieldError(None, why)])
    elif status == 405:
        error = ErrorAnswer(
            405, "Method Not Allowed", [FieldError(None, f"{request.method} is not allowed here")]
        )
    else:
        error = ErrorAnswer(status, getattr(exc, "detail", None) or None)
    return error_response(error)


async def server_error(request: Request, exc: Exception) -> Response:
    # A bug in the sandbox must cost one request, not the server (and never leak a traceback).
    log.exception("sandbox error on %s %s", request.method, request.url.path)
    return error_response(ErrorAnswer(500, "internal server error"))
