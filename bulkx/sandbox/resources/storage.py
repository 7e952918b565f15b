"""Core storage: containers with quotas, and files whose bytes live in the sandbox's SQLite.

An upload is `multipart/form-data` (a `file_object` JSON part and a `data` part) or a raw body
(`application/octet-stream`) with the file's fields as query arguments, as the docs show both.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import math
import mimetypes
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import load, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request, invalid
from bulkx.sandbox.http import Api, Raw, client_left, error_response, json_response, read_body
from bulkx.sandbox.schema import Field, Hooks, Resource, create_only, ro, rw, validate_create
from bulkx.sandbox.world import World, new_sid, now_iso

CLASSIFICATIONS = ("archive", "document", "executable", "media", "unknown")


def _classifications(value: Any) -> str | None:
    bad = [v for v in value if v not in CLASSIFICATIONS]
    return f"unknown classification {bad[0]!r}; use " + ", ".join(CLASSIFICATIONS) if bad else None


def _at_least(low: int) -> Callable[[Any], str | None]:
    return lambda value: None if value >= low else f"must be at least {low}"


def _quota(name: str, default: int) -> Field:
    if assumptions.STORAGE_QUOTAS_WRITABLE:
        return rw(name, "int", default, nullable=False, check=_at_least(0))
    return ro(name, "int", default)


# --- containers ----------------------------------------------------------------------------------


def _percent_left(quota: int, used: int) -> int:
    """Rounded up: a container shows 0% only when it is full."""
    return 0 if quota <= 0 else max(0, math.ceil((quota - used) * 100 / quota))


def _settle_usage(container: dict[str, Any]) -> None:
    """The derived usage fields, after totals or quotas changed."""
    container["available_bytes_percent"] = _percent_left(
        int(container["quota_bytes"]), int(container["total_bytes"])
    )
    container["available_files_percent"] = _percent_left(
        int(container["quota_files"]), int(container["total_files"])
    )


def _container_limit(ctx: Ctx, container: dict[str, Any]) -> None:
    held = ctx.world.store.scalar(
        "SELECT count(*) FROM t_storage_containers WHERE owner=?", (ctx.owner,)
    )
    limit = assumptions.STORAGE_CONTAINERS_PER_PARTNER
    if int(held) >= limit:
        message = f"a partner may have {limit} containers; delete one or ask support for more"
        raise ErrorAnswer(
            assumptions.STORAGE_CONTAINER_LIMIT_STATUS, message, [FieldError(None, message)]
        )
    _settle_usage(container)


def _container_updated(_ctx: Ctx, _current: dict[str, Any], updated: dict[str, Any]) -> None:
    _settle_usage(updated)


def _container_in_use(_ctx: Ctx, container: dict[str, Any]) -> None:
    if container["total_files"]:
        message = f"the container holds {container['total_files']} file(s); delete them first"
        raise ErrorAnswer(
            assumptions.STORAGE_CONTAINER_IN_USE_STATUS,
            message,
            [FieldError(None, message, str(container["container_sid"]))],
        )


CONTAINER = Resource(
    name="storage_container",
    api="core",
    path="/storage/containers",
    sid_field="container_sid",
    collection="storage_containers",
    indexed=("name",),
    scope="storage",
    fields=(
        rw("allow_publish", "bool", True, nullable=False),
        rw("allowed_classifications", "array", [], nullable=False, check=_classifications),
        ro("available_bytes_percent", "int", 100),
        ro("available_files_percent", "int", 100),
        rw("blocked_classifications", "array", [], nullable=False, check=_classifications),
        ro("container_sid"),
        rw("default_file_lifecycle_action", default="no_action", nullable=False),
        rw("default_file_lifecycle_ttl", "int", -1, nullable=False),
        rw("default_file_publish", default="file_sid", nullable=False),
        rw("default_file_threshold_include", "bool", True, nullable=False),
        rw("default_file_unique", "bool", False, nullable=False),
        ro("durability_class", default="unassigned"),
        ro("encrypted", "bool", False),
        rw("external_attributes", "object", {}, nullable=False),
        rw("integer_key_1", "int"),
        rw("integer_key_2", "int"),
        rw("name", default="N/A", nullable=False, max_length=255),
        ro("parent_container_sid"),
        ro("partner_sid"),
        ro("publish_domain", default="https://storage.carrierx.com"),
        _quota("quota_bytes", 1073741824),
        _quota("quota_files", 100),
        rw("string_key_1"),
        rw("string_key_2"),
        rw("string_key_3"),
        rw("string_key_4"),
        rw("threshold_action"),
        rw("threshold_available_bytes_percent", "int"),
        rw("threshold_available_files_percent", "int"),
        rw("threshold_bytes", "int"),
        rw("threshold_bytes_target", "int"),
        rw("threshold_files", "int"),
        rw("threshold_files_target", "int"),
        rw("threshold_grace_period", "int", 0, nullable=False),
        ro("threshold_total_bytes", "int", 0),
        ro("threshold_total_files", "int", 0),
        ro("total_bytes", "int", 0),
        ro("total_files", "int", 0),
        create_only("type", default="internal", choices=("internal", "external")),
        rw("unique", "bool", False, nullable=False),
    ),
    hooks=Hooks(
        before_create=_container_limit,
        before_update=_container_updated,
        before_delete=_container_in_use,
    ),
)

# --- files ---------------------------------------------------------------------------------------

CHECKSUM = assumptions.STORAGE_FILE_CHECKSUM_FIELD

#: File fields whose default comes from the container's `default_file_<name>`.
_CONTAINER_DEFAULTS = (
    "lifecycle_action",
    "lifecycle_ttl",
    "publish",
    "threshold_include",
    "unique",
)

#: The bytes of each file, base64 in a document of their own (lists never read them).
FILE_DATA = Resource(
    name="storage_file_data",
    api="core",
    path="/storage/files/{file_sid}/data",
    sid_field="_file_sid",
    collection="storage_file_data",
    scope="storage",
    operations=frozenset(),
    fields=(),
)

_ARCHIVES = frozenset(
    "application/" + name
    for name in (
        "zip",
        "x-tar",
        "gzip",
        "x-gzip",
        "x-7z-compressed",
        "x-rar-compressed",
        "x-bzip2",
        "vnd.rar",
        "x-xz",
    )
)
_EXECUTABLES = frozenset(
    (
        "application/x-msdownload",
        "application/x-executable",
        "application/x-sh",
        "application/x-msdos-program",
        "application/x-csh",
        "text/x-sh",
        "application/x-python-code",
        "application/vnd.microsoft.portable-executable",
    )
)
_DOCUMENTS = frozenset(
    "application/" + name
    for name in ("pdf", "msword", "rtf", "json", "xml", "vnd.ms-excel", "vnd.ms-powerpoint")
)


def classify(mime_type: str) -> str:
    major = mime_type.split("/", 1)[0]
    if major in ("audio", "video", "image"):
        return "media"
    if mime_type in _EXECUTABLES:
        return "executable"
    if mime_type in _ARCHIVES:
        return "archive"
    if major == "text" or mime_type in _DOCUMENTS or "officedocument" in mime_type:
        return "document"
    return "unknown"


def _publish_uri(container: Mapping[str, Any], file: Mapping[str, Any]) -> str | None:
    if not container.get("allow_publish"):
        return None
    key = (
        file["file_sid"] if file.get("publish") in (None, "file_sid") else file["file_access_name"]
    )
    return f"{container['publish_domain']}/f/{key}"


def _admit(container: dict[str, Any], file: Mapping[str, Any], *, sign: int = 1) -> None:
    """Count `file` into (sign=1) or out of (sign=-1) `container`, enforcing its rules."""
    size = int(file["file_bytes"])
    sid = str(container["container_sid"])
    if sign > 0:
        kind = file["content_classification"]
        allowed = container.get("allowed_classifications") or []
        if (allowed and kind not in allowed) or kind in (
            container.get("blocked_classifications") or []
        ):
            raise ErrorAnswer(
                assumptions.STORAGE_CLASSIFICATION_REJECTED_STATUS,
                assumptions.MESSAGE_BY_STATUS[422],
                [
                    FieldError(
                        "content_classification", f"the container does not take {kind} files", sid
                    )
                ],
            )
        for quota, total, more in (
            ("quota_files", "total_files", 1),
            ("quota_bytes", "total_bytes", size),
        ):
            if int(container[total]) + more > int(container[quota]):
                message = f"the container's {quota} ({container[quota]}) would be exceeded"
                raise ErrorAnswer(
                    assumptions.STORAGE_QUOTA_EXCEEDED_STATUS,
                    message,
                    [FieldError(quota, message, sid)],
                )
    container["total_files"] = int(container["total_files"]) + sign
    container["total_bytes"] = int(container["total_bytes"]) + sign * size
    if file.get("threshold_include"):
        container["threshold_total_files"] = int(container["threshold_total_files"]) + sign
        container["threshold_total_bytes"] = int(container["threshold_total_bytes"]) + sign * size
    _settle_usage(container)


def _container_of(ctx: Ctx, sid: Any) -> dict[str, Any]:
    found = ctx.world.store.get("storage_containers", str(sid), owner=ctx.owner)
    if found is None:
        raise invalid([FieldError("container_sid", "no storage container with this sid", str(sid))])
    return found


def upload_file(
    ctx: Ctx, fields: dict[str, Any], data: bytes, filename: str | None
) -> dict[str, Any]:
    ctx.principal.require_scope(FILE.scope, "create")
    body = dict(fields)
    if body.get("name") is None and filename:
        body["name"] = filename
    store = ctx.world.store
    with store.transaction():
        file = validate_create(FILE, body)
        container = _container_of(ctx, file["container_sid"])
        for name in _CONTAINER_DEFAULTS:
            if name not in body:
                file[name] = container[f"default_file_{name}"]
        sid = new_sid()
        name = str(file.get("name") or sid)
        extension = name.rpartition(".")[2].lower() if "." in name else None
        mime = file.get("mime_type") or mimetypes.guess_type(name)[0] or "application/octet-stream"
        file.update(
            file_sid=sid,
            partner_sid=ctx.principal.partner_sid,
            name=name,
            mime_type=mime,
            content_format=extension,
            content_classification=classify(mime),
            file_bytes=len(data),
            date_modified=now_iso(),
        )
        if CHECKSUM:
            file[CHECKSUM] = hashlib.md5(data).hexdigest()
        if not file.get("file_access_name"):
            file["file_access_name"] = f"{sid}.{extension}" if extension else sid
        file["publish_uri"] = _publish_uri(container, file)
        _admit(container, file)
        store.replace("storage_containers", str(container["container_sid"]), container)
        store.insert(FILE.collection, sid, ctx.owner, file)
        store.insert(
            FILE_DATA.collection, sid, ctx.owner, {"_data": base64.b64encode(data).decode()}
        )
    return render(ctx, FILE, file)


def _file_updated(ctx: Ctx, current: dict[str, Any], updated: dict[str, Any]) -> None:
    store = ctx.world.store
    if updated["container_sid"] != current["container_sid"]:
        source = _container_of(ctx, current["container_sid"])
        target = _container_of(ctx, updated["container_sid"])
        _admit(target, updated)
        _admit(source, current, sign=-1)
        store.replace("storage_containers", str(source["container_sid"]), source)
        store.replace("storage_containers", str(target["container_sid"]), target)
    else:
        target = _container_of(ctx, updated["container_sid"])
    updated["publish_uri"] = _publish_uri(target, updated)
    updated["date_modified"] = now_iso()


def _file_deleted(ctx: Ctx, file: dict[str, Any]) -> None:
    store = ctx.world.store
    container = store.get("storage_containers", str(file["container_sid"]))
    if container is not None:
        _admit(container, file, sign=-1)
        store.replace("storage_containers", str(container["container_sid"]), container)
    store.delete(FILE_DATA.collection, str(file["file_sid"]))
    store.delete(FILE.collection, str(file["file_sid"]))


FILE = Resource(
    name="storage_file",
    api="core",
    path="/storage/files",
    sid_field="file_sid",
    collection="storage_files",
    indexed=("container_sid", "name"),
    scope="storage",
    operations=frozenset({"list", "get", "update", "delete"}),
    fields=(
        rw("container_sid", required=True, nullable=False),
        ro("content_classification", default="unknown"),
        ro("content_duration", "float"),
        ro("content_format"),
        ro("content_transcoding_progress", "int"),
        ro("date_last_accessed"),
        ro("date_modified"),
        rw(
            "desired_bitrate",
            "int",
            choices=(8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, None),
        ),
        rw("desired_format"),
        rw("file_access_name", max_length=1024),
        ro("file_bytes", "int", 0),
        *((ro(CHECKSUM),) if CHECKSUM else ()),
        ro("file_sid"),
        rw("integer_key_1", "int"),
        rw("integer_key_2", "int"),
        rw("lifecycle_action"),
        rw("lifecycle_ttl", "int"),
        create_only("mime_type"),
        rw("name", max_length=1024),
        ro("parent_file_sid"),
        ro("partner_sid"),
        rw("publish"),
        ro("publish_uri"),
        rw("string_key_1"),
        rw("string_key_2"),
        rw("string_key_3"),
        rw("string_key_4"),
        rw("threshold_include", "bool"),
        ro("type", default="file"),
        rw("unique", "bool"),
    ),
    hooks=Hooks(before_update=_file_updated, delete=_file_deleted),
)


def download(ctx: Ctx, sid: str) -> Raw:
    ctx.principal.require_scope(FILE.scope, "read")
    store = ctx.world.store
    with store.transaction():
        file = load(ctx, FILE, sid)
        stored = store.get(FILE_DATA.collection, sid) or {"_data": ""}
        now = now_iso()
        last = file.get("date_last_accessed")
        # "The date is updated at most once a minute."
        if last is None or _seconds_between(str(last), now) >= 60:
            file["date_last_accessed"] = now
            store.replace(FILE.collection, sid, file)
    return Raw(
        base64.b64decode(stored["_data"]), str(file.get("mime_type") or "application/octet-stream")
    )


def _seconds_between(earlier: str, later: str) -> float:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (datetime.strptime(later, fmt) - datetime.strptime(earlier, fmt)).total_seconds()


# --- the upload request ----------------------------------------------------------------------


def _typed_query_fields(query: Mapping[str, str]) -> dict[str, Any]:
    """Query arguments as File fields: integers and booleans by the field's type."""
    fields: dict[str, Any] = {}
    for key, text in query.items():
        kind = FILE.field_type(key)
        if kind == "int":
            try:
                fields[key] = int(text)
            except ValueError:
                raise invalid([FieldError(key, "must be an integer")]) from None
        elif kind == "bool":
            if text.lower() not in ("true", "false"):
                raise invalid([FieldError(key, "must be true or false")])
            fields[key] = text.lower() == "true"
        else:
            fields[key] = text
    return fields


def parse_upload(
    content_type: str, raw: bytes, query: Mapping[str, str]
) -> tuple[dict[str, Any], bytes, str | None]:
    """(the file's fields, its bytes, the part's filename) from either documented upload form."""
    media = content_type.split(";")[0].strip().lower()
    if media != "multipart/form-data":
        return _typed_query_fields(query), raw, None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise bad_request("the multipart body could not be read", "data")
    fields: dict[str, Any] = {}
    data: bytes | None = None
    filename: str | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        if name == "file_object":
            try:
                parsed = json.loads(content or b"{}")
            except (ValueError, UnicodeDecodeError):
                raise bad_request("file_object is not valid JSON", "file_object") from None
            if not isinstance(parsed, dict):
                raise bad_request("file_object must be a JSON object", "file_object")
            fields = parsed
        elif name == "data":
            data, filename = content, part.get_filename()
    if data is None:
        raise invalid([FieldError("data", "send the file's bytes in a part named 'data'")])
    return fields, data, filename


def _upload_endpoint(api: Api, world: World) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            principal = api.authenticate(world, request.headers)
            limit = assumptions.STORAGE_MAX_UPLOAD_BYTES
            raw = await read_body(request, world.limits, max_bytes=limit, field="data")
            ctx = Ctx(
                world,
                principal,
                dict(request.query_params),
                base_url=str(request.url.replace(query="")),
            )
            fields, data, filename = parse_upload(
                request.headers.get("content-type", ""), raw, ctx.query
            )
            result = upload_file(ctx, fields, data, filename)
        except ErrorAnswer as error:
            return error_response(error)
        except ClientDisconnect:
            return client_left()
        return json_response(result, 201)

    return handle


def mount(api: Api, world: World) -> None:
    api.routes.append(Route(FILE.path, _upload_endpoint(api, world), methods=["POST"]))
    api.add(world, FILE_DATA.path, ["GET"], lambda c, p, _b: download(c, p["file_sid"]))
    api.add_resource(world, CONTAINER)
    api.add_resource(world, FILE)


RESOURCES = (CONTAINER, FILE, FILE_DATA)
