"""Core Batch API: tasks that rent, update or release many phone numbers (or prefixes) at once.

Lifecycle: create stores the task as `created` (what the create response shows). With `review`
(default `assumptions.BATCH_REVIEW_DEFAULT`) its review items are computed before the response
returns and it waits in `pending_review` until PATCH status=approved; without review it is queued
at once. Then approved -> queued -> running -> completed.

Each entry runs through the same code as the single-object API (`create_object`,
`update_object`, `delete_object` on the DID or prefix resource), so it meets the same
validation. Execution is an asyncio task on the server's loop: entries run in chunks of
`CHUNK_SIZE`, one SQLite transaction per chunk that also advances the counters (each entry in its
own savepoint, so a failing entry leaves nothing behind), and it yields to the loop between
chunks, so a poller sees `running` with growing counters.

Crash safety: the task's progress lives in its row, committed with the entries it counts. Tasks
left `created`, `approved`, `queued` or `running` by a stopped sandbox are resumed by
`resume_pending(world)` (call it from inside the event loop, e.g. a lifespan start-up hook), and
lazily by the first /batch request a world serves when nobody called it.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import sqlite3
import uuid
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import anyio.from_thread

from bulkx.sandbox import assumptions, crud, schema
from bulkx.sandbox.context import Ctx, Principal
from bulkx.sandbox.errors import ErrorAnswer, FieldError, invalid
from bulkx.sandbox.http import Api, Handler, Raw, require_object
from bulkx.sandbox.inventory import sid_for_number
from bulkx.sandbox.resources.dids import DID
from bulkx.sandbox.resources.number_groups import PREFIX
from bulkx.sandbox.schema import Hooks, Resource, create_only, ro, rw
from bulkx.sandbox.store import Store
from bulkx.sandbox.world import World, now_iso

log = logging.getLogger("bulkx.sandbox.batch")

METHODS = ("POST", "PATCH", "DELETE")
TYPES = ("phonenumber", "prefix", "file")
STATUSES = ("created", "pending_review", "approved", "queued", "running", "completed", "cancelled")
#: Entries per transaction; the runner yields to the event loop between chunks.
CHUNK_SIZE = 50
COLLECTION = "batch_tasks"
TARGETS: dict[str, Resource] = {"phonenumber": DID, "prefix": PREFIX}


def _ensure_resumed_hook(ctx: Ctx) -> None:
    _ensure_resumed(ctx.world)


TASK = Resource(
    name="task",
    api="core",
    path="/batch/tasks",
    sid_field="task_sid",
    collection=COLLECTION,
    indexed=("status",),
    scope="batch",
    operations=frozenset({"list", "get"}),  # the rest is routed by `mount`
    fields=(
        create_only("data", "any"),
        ro("date_created"),
        ro("date_modified"),
        create_only("entries", "array"),
        ro("error_details", "array", []),
        ro("failure", "int"),
        create_only("field"),
        create_only("method", choices=METHODS),
        ro("partner_sid"),
        ro("processed", "int"),
        create_only("review", "bool", assumptions.BATCH_REVIEW_DEFAULT, nullable=False),
        rw("status", default="created", nullable=False, choices=STATUSES),
        ro("success", "int"),
        ro("task_sid"),
        ro("total", "int"),
        create_only("type", choices=TYPES),
    ),
    hooks=Hooks(before_read=_ensure_resumed_hook),
)

RESOURCES = (TASK,)


# --- create: validation by method ----------------------------------------------------------------


def _check_entries(entries: Any, method: str, errors: list[FieldError]) -> None:
    if entries is None:
        errors.append(FieldError("entries", f"field is required for {method}"))
    elif isinstance(entries, list):  # a non-array was reported by validate_create
        if not entries:
            errors.append(FieldError("entries", f"must not be empty for {method}"))
        for index, entry in enumerate(entries):
            if not isinstance(entry, str):
                errors.append(FieldError(f"entries[{index}]", "must be a string"))


def _check_field(field: Any, kind: Any, method: str, errors: list[FieldError]) -> None:
    if field is None or field == "":
        errors.append(FieldError("field", f"field is required for {method}"))
        return
    allowed = assumptions.BATCH_MATCH_FIELDS.get(kind) if isinstance(kind, str) else None
    if isinstance(field, str) and allowed is not None and field not in allowed:
        errors.append(
            FieldError("field", f"{kind} entries are matched on one of: {', '.join(allowed)}")
        )


def _check_data(kind: Any, method: str, data: Any, errors: list[FieldError]) -> None:
    """`data` against the target object's own fields, as the single-object API would check it."""
    target = TARGETS.get(kind) if isinstance(kind, str) else None
    if target is None:
        return
    bodies = list(enumerate(data)) if method == "POST" else [(None, data)]
    for index, body in bodies:
        prefix = "data" if index is None else f"data[{index}]"
        try:
            if method == "POST":
                schema.validate_create(target, body)
            else:
                schema.validate_update(target, target.defaults(), body, replace=False)
        except ErrorAnswer as error:
            errors.extend(FieldError(f"{prefix}.{e.field}", e.message) for e in error.errors)


def _validate_new(body: Mapping[str, Any]) -> dict[str, Any]:
    """The new task's values, or a 422 listing every problem (§8's required fields by method)."""
    errors: list[FieldError] = []
    try:
        obj = schema.validate_create(TASK, {k: v for k, v in body.items() if k != "status"})
    except ErrorAnswer as error:
        errors.extend(error.errors)
        obj = {}
    if "status" in body:
        errors.append(FieldError("status", "is set by the server: create, then PATCH status"))
    method, kind = body.get("method"), body.get("type")
    data, entries, field = body.get("data"), body.get("entries"), body.get("field")
    if method is None:
        errors.append(FieldError("method", "field is required"))
    if kind is None:
        errors.append(FieldError("type", "field is required"))
    elif kind == "file" and not assumptions.BATCH_FILE_TYPE_SUPPORTED:
        errors.append(FieldError("type", "type file is not supported by the sandbox"))
    data_ok = False
    if method == "POST":
        if not isinstance(data, list) or not data:
            errors.append(FieldError("data", "is required for POST: a non-empty array of objects"))
        else:
            bad = [i for i, item in enumerate(data) if not isinstance(item, dict)]
            errors.extend(FieldError(f"data[{i}]", "must be an object") for i in bad)
            data_ok = not bad
        if entries:
            errors.append(FieldError("entries", "must be empty or null for POST"))
        if field and assumptions.BATCH_POST_FIELD_MUST_BE_EMPTY:
            errors.append(FieldError("field", "must be empty for POST"))
    elif method == "PATCH":
        if not isinstance(data, dict) or not data:
            errors.append(FieldError("data", "is required for PATCH: a non-empty object"))
        else:
            data_ok = True
        _check_entries(entries, method, errors)
        _check_field(field, kind, method, errors)
    elif method == "DELETE":
        if data:
            errors.append(FieldError("data", "must be empty for DELETE"))
        _check_entries(entries, method, errors)
        _check_field(field, kind, method, errors)
    if data_ok and assumptions.BATCH_VALIDATES_DATA_ON_CREATE:
        _check_data(kind, str(method), data, errors)
    if errors:
        raise invalid(errors)
    return obj


def create_task(ctx: Ctx, body: Any) -> dict[str, Any]:
    ctx.principal.require_scope(TASK.scope, "create")
    _ensure_resumed(ctx.world)
    obj = _validate_new(require_object(body))
    now = now_iso()
    sid = str(uuid.uuid4())
    obj.update(
        task_sid=sid,
        partner_sid=ctx.principal.partner_sid,
        date_created=now,
        date_modified=now,
        status="created",
        error_details=[],
        _scopes=sorted(ctx.principal.scopes),
    )
    obj.update(dict.fromkeys(("failure", "processed", "success", "total")))
    store = ctx.world.store
    with store.transaction():
        store.insert(COLLECTION, sid, ctx.owner, obj)
    answer = crud.render(ctx, TASK, obj)
    _advance(ctx.world, sid)
    return answer


# --- review items -------------------------------------------------------------------------------


def _work(task: Mapping[str, Any]) -> list[Any]:
    """The task's units of work: data items for POST, entries for PATCH and DELETE."""
    return list(task.get("data") or []) if task["method"] == "POST" else list(task["entries"])


def _match(
    store: Store, owner: str, resource: Resource, field: str, value: str
) -> dict[str, Any] | None:
    if field == resource.sid_field:
        return store.get(resource.collection, value, owner=owner)
    found = store.find(resource.collection, f"{Store.column(field)}=?", [value], owner=owner)
    return found[0] if found else None


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _review_item(world: World, task: Mapping[str, Any], entry: Any) -> dict[str, Any]:
    kind, method = task["type"], task["method"]
    resource = TARGETS[kind]
    sid: str | None = None
    if method == "POST":
        fields = dict(entry)
        value = entry.get(kind)
        if kind == "phonenumber" and isinstance(value, str):
            sid = sid_for_number(world.seed, value)
        what = f"{kind} {value}" if value else f"the first available {kind}"
        description = f"{'rent' if kind == 'phonenumber' else 'create'} {what}"
    else:
        field = task["field"]
        found = _match(world.store, task["partner_sid"], resource, field, entry)
        fields = dict(task["data"]) if method == "PATCH" else {field: entry}
        if found is None:
            description = f"no {kind} with {field} {entry} on this account: this entry will fail"
        else:
            sid = str(found[resource.sid_field])
            if method == "PATCH":
                changes = ", ".join(
                    f"{k}: {_show(found.get(k))} -> {_show(v)}" for k, v in sorted(fields.items())
                )
                description = f"update {kind} {entry}: {changes}"
            else:
                description = f"{'release' if kind == 'phonenumber' else 'delete'} {kind} {entry}"
    return {
        "description": description,
        "fields": fields,
        "sid": sid,
        "version": assumptions.BATCH_REVIEW_ITEM_VERSION,
    }


def _review_items(world: World, task: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [_review_item(world, task, entry) for entry in _work(task)]


def _stored_review(ctx: Ctx, sid: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ctx.principal.require_scope(TASK.scope, "read")
    _ensure_resumed(ctx.world)
    task = crud.load(ctx, TASK, sid)
    items = task.get("_review_items")
    return task, list(items) if items is not None else _review_items(ctx.world, task)


def get_review_items(ctx: Ctx, sid: str) -> dict[str, Any]:
    task, items = _stored_review(ctx, sid)
    return {"method": task["method"], "review_items": items, "type": task["type"]}


def get_review_csv(ctx: Ctx, sid: str) -> Raw:
    _task, items = _stored_review(ctx, sid)
    out = io.StringIO()
    writer = csv.writer(out)
    columns = assumptions.BATCH_REVIEW_CSV_COLUMNS
    writer.writerow(columns)
    for item in items:  # `fields` as a JSON object (assumptions.BATCH_REVIEW_CSV_FIELDS_ENCODING)
        row = {**item, "fields": json.dumps(item["fields"], ensure_ascii=False, sort_keys=True)}
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return Raw(out.getvalue().encode("utf-8"), "text/csv")


# --- update and delete ------------------------------------------------------------------------


def _refuse(status: int, message: str, sid: str) -> ErrorAnswer:
    return ErrorAnswer(status, message, [FieldError("status", message, sid)])


def update_task(ctx: Ctx, sid: str, body: Any, *, replace: bool) -> dict[str, Any]:
    ctx.principal.require_scope(TASK.scope, "update")
    _ensure_resumed(ctx.world)
    store = ctx.world.store
    with store.transaction():
        current = crud.load(ctx, TASK, sid)
        updated = schema.validate_update(TASK, current, require_object(body), replace=replace)
        old, new = current["status"], updated["status"]
        if new != old:
            if new not in assumptions.BATCH_STATUS_TRANSITIONS.get(old, ()):
                raise _refuse(
                    assumptions.BATCH_ILLEGAL_TRANSITION_STATUS,
                    f"a task in status {old} cannot change to {new}",
                    sid,
                )
            updated["date_modified"] = now_iso()
            store.replace(COLLECTION, sid, updated)
    if new != old and new == "approved":
        _start(ctx.world, sid)
    return crud.render(ctx, TASK, updated)


def delete_task(ctx: Ctx, sid: str) -> None:
    ctx.principal.require_scope(TASK.scope, "delete")
    _ensure_resumed(ctx.world)
    store = ctx.world.store
    with store.transaction():
        current = crud.load(ctx, TASK, sid)
        if current["status"] in assumptions.BATCH_ACTIVE_STATUSES:
            raise _refuse(
                assumptions.BATCH_DELETE_ACTIVE_STATUS,
                f"the task is {current['status']}; it can be deleted once it has finished",
                sid,
            )
        store.delete(COLLECTION, sid)


# --- execution --------------------------------------------------------------------------------

#: Tasks whose runner is alive in this process, per world (a task never runs twice at once).
_ACTIVE: weakref.WeakKeyDictionary[World, set[str]] = weakref.WeakKeyDictionary()
#: Worlds whose leftover tasks were resumed in this process.
_RESUMED: weakref.WeakSet[World] = weakref.WeakSet()
#: Strong references to the runners (the loop only keeps weak ones).
_RUNNERS: set[asyncio.Task[None]] = set()


def _queue(task: dict[str, Any]) -> None:
    task.update(dict.fromkeys(("processed", "success", "failure"), 0))
    task.update(status="queued", total=len(_work(task)), date_modified=now_iso())


def _advance(world: World, sid: str) -> None:
    """Move a `created` task on: to `pending_review` with its review items, or to `queued`."""
    store = world.store
    task = store.get(COLLECTION, sid)
    if task is None or task["status"] != "created":
        return
    items = _review_items(world, task) if task["review"] else None
    with store.transaction():
        task = store.get(COLLECTION, sid)
        if task is None or task["status"] != "created":
            return
        if items is not None:
            task.update(status="pending_review", _review_items=items, date_modified=now_iso())
            # The Get Tasks sample's pending_review counters: assumptions.BATCH_COUNTERS_SET_WHEN.
            task.update(dict.fromkeys(("processed", "success", "failure"), 0))
            task.update(total=len(_work(task)))
        else:
            _queue(task)
        store.replace(COLLECTION, sid, task)
    if items is None:
        _start(world, sid)


@contextlib.contextmanager
def _savepoint(store: Store) -> Iterator[None]:
    """Undo one entry's writes when it fails, keeping the rest of the chunk's transaction."""
    store.rows("SAVEPOINT batch_entry")
    try:
        yield
    except BaseException:
        store.rows("ROLLBACK TO batch_entry")
        store.rows("RELEASE batch_entry")
        raise
    store.rows("RELEASE batch_entry")


def _apply(ctx: Ctx, task: Mapping[str, Any], entry: Any) -> None:
    """One entry, through the single-object API's own operations."""
    resource = TARGETS[task["type"]]
    if task["method"] == "POST":
        crud.create_object(ctx, resource, dict(entry))
        return
    field = task["field"]
    found = _match(ctx.world.store, ctx.owner, resource, field, entry)
    if found is None:
        raise ErrorAnswer(
            404,
            assumptions.MESSAGE_BY_STATUS[404],
            [FieldError(field, f"no {task['type']} with {field} {entry} on this account")],
        )
    sid = str(found[resource.sid_field])
    if task["method"] == "PATCH":
        crud.update_object(ctx, resource, sid, dict(task["data"]), replace=False)
    else:
        crud.delete_object(ctx, resource, sid)


def _describe(error: ErrorAnswer) -> str:
    """The error the single-object API would have answered, as one line."""
    details = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in error.errors)
    return f"{error.status} {error.message}" + (f" ({details})" if details else "")


def _step(world: World, sid: str) -> bool:
    """One state change or one chunk of entries, in one transaction. True while work remains."""
    store = world.store
    with store.transaction():
        task = store.get(COLLECTION, sid)
        status = None if task is None else task["status"]
        if task is None or status not in assumptions.BATCH_ACTIVE_STATUSES:
            return False
        if status == "approved":
            _queue(task)
        elif status == "queued":
            task.update(status="running", date_modified=now_iso())
        else:
            scopes = frozenset(task.get("_scopes") or ())
            ctx = Ctx(world, Principal("partner", str(task["partner_sid"]), f"batch:{sid}", scopes))
            work = _work(task)
            start = int(task["processed"] or 0)
            for entry in work[start : start + CHUNK_SIZE]:
                try:
                    with _savepoint(store):
                        _apply(ctx, task, entry)
                    task["success"] += 1
                except ErrorAnswer as error:
                    task["failure"] += 1
                    task["error_details"].append({"entry": entry, "message": _describe(error)})
                except Exception:  # a sandbox bug must cost one entry, not the task
                    log.exception("batch task %s: entry %r failed", sid, entry)
                    task["failure"] += 1
                    task["error_details"].append(
                        {"entry": entry, "message": "500 internal server error"}
                    )
                task["processed"] += 1
            if task["processed"] >= len(work):
                task["status"] = "completed"
            task["date_modified"] = now_iso()
        store.replace(COLLECTION, sid, task)
        return bool(task["status"] != "completed")


async def _run(world: World, sid: str) -> None:
    active = _ACTIVE.setdefault(world, set())
    if sid in active:
        return
    active.add(sid)
    try:
        while True:
            if not _step(world, sid):
                break
            await asyncio.sleep(0)  # let requests (and pollers) in between chunks
    except sqlite3.Error:
        # The store was closed under us (shutdown): the committed progress stays, and
        # resume_pending continues the task when the sandbox starts again.
        log.info("batch task %s stopped with the sandbox; it resumes on restart", sid)
    except Exception:
        log.exception("batch task %s: runner failed", sid)
    finally:
        active.discard(sid)


def _start(world: World, sid: str) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        try:  # a read answered on a worker thread (http.run_query): start it on the loop
            anyio.from_thread.run_sync(_start, world, sid)
        except RuntimeError:  # no event loop at all (a direct call): run it to the end here
            asyncio.run(_run(world, sid))
        return
    runner = loop.create_task(_run(world, sid))
    _RUNNERS.add(runner)
    runner.add_done_callback(_RUNNERS.discard)


def resume_pending(world: World) -> int:
    """Continue the tasks a stopped sandbox left unfinished; returns how many were picked up.

    Call it from inside the running event loop (e.g. a Starlette lifespan start-up); the first
    /batch request a world serves calls it too when it has not run yet."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        try:  # a read answered on a worker thread: resume on the loop that thread serves
            return int(anyio.from_thread.run_sync(resume_pending, world))
        except RuntimeError:
            return 0  # the first /batch request will resume them on the loop
    _RESUMED.add(world)
    statuses = ("created", *assumptions.BATCH_ACTIVE_STATUSES)
    marks = ", ".join("?" for _ in statuses)
    found = world.store.find(COLLECTION, f"c_status IN ({marks})", list(statuses))
    for task in found:
        sid = str(task["task_sid"])
        if task["status"] == "created":
            _advance(world, sid)
        else:
            _start(world, sid)
    return len(found)


def _ensure_resumed(world: World) -> None:
    if world not in _RESUMED:
        resume_pending(world)


# --- routes ------------------------------------------------------------------------------------


def mount(api: Api, world: World) -> None:
    item = TASK.path + "/{task_sid}"
    routes: list[tuple[str, str, Handler]] = [
        (item + "/review_items", "GET", lambda c, p, _b: get_review_items(c, p["task_sid"])),
        (item + "/review_items.csv", "GET", lambda c, p, _b: get_review_csv(c, p["task_sid"])),
        (TASK.path, "GET", lambda c, _p, _b: crud.list_objects(c, TASK)),
        (TASK.path, "POST", lambda c, _p, b: create_task(c, b)),
        (item, "GET", lambda c, p, _b: crud.get_object(c, TASK, p["task_sid"])),
        (item, "PATCH", lambda c, p, b: update_task(c, p["task_sid"], b, replace=False)),
        (item, "PUT", lambda c, p, b: update_task(c, p["task_sid"], b, replace=True)),
        (item, "DELETE", lambda c, p, _b: delete_task(c, p["task_sid"])),
    ]
    for path, method, operation in routes:
        api.add(world, path, [method], operation)


__all__ = ["RESOURCES", "TASK", "mount", "resume_pending"]
