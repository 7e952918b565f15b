"""`bulkx apply --via batch`: phone number and prefix changes carried out by CarrierX Batch tasks.

The executor hands every operation the Batch API can do (rent, update or release a DID or a
prefix) to a `Batcher` instead of sending it on its own. The batcher gathers the ready ones, makes
one task per method (updates grouped by identical body), reads the task's review items (an event
for the watchers), approves it, polls it to completion and records every entry's result in the
ledger like any other operation. Operations that depend on them (a DID's E911 record) follow
through the executor as usual.

An answer lost while creating a task hands its operations back to the executor as unknown: each
is looked up by its natural key before anything is sent again, so a task never runs twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bulkx.api import CarrierX
from bulkx.api.retry import Backoff, Sleep
from bulkx.diff.changes import Change, Create, Release, Update
from bulkx.diff.read import quote
from bulkx.engine import events
from bulkx.engine.operations import Operation
from bulkx.engine.requests import Request, Resolver, UnresolvedReference, request_for
from bulkx.errors import ApiError, OutcomeUnknown, TransientError, TransportError
from bulkx.kinds import KINDS

#: Kind -> (the task's `type`, the field entries are matched on).
BATCH_TYPES: Mapping[str, tuple[str, str]] = {
    "did": ("phonenumber", "phonenumber"),
    "prefix": ("prefix", "prefix"),
}
#: Entries per task: big enough to matter, small enough that one failure report stays readable.
MAX_ENTRIES = 1000
#: A task costs four requests at least (create, review items, approve, poll) and a poll
#: interval: a group of fewer entries than this (1,990 numbers given 1,990 distinct names are
#: 1,990 groups of one) goes the per-object way instead.
MIN_ENTRIES = 5
#: A group is sent once no new operation joined it for this long.
GATHER_SECONDS = 0.25
#: A task is polled after 0.2 s, then each wait 1.5 times the last, up to 2 s apart (one poller
#: per task: no jitter, the schedule exactly).
POLL_SECONDS = (0.2, 2.0)
POLL_GROWTH = 1.5
#: Reads of a task that failed in transit: tried this many times, 0.5 s doubling up to 5 s apart.
READ_ATTEMPTS = 8
#: Task states that end it.
DONE_STATES = ("completed", "cancelled")


def batchable(change: Change) -> bool:
    return change.kind in BATCH_TYPES and isinstance(change, Create | Update | Release)


@dataclass(frozen=True)
class PlannedTask:
    """What `--via batch` would hand to one Batch task (before references become sids)."""

    method: str
    type: str
    entries: int
    #: For PATCH: the fields every entry gets, as the plan writes them.
    sets: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class BatchPlan:
    """What `apply --via batch` would do with a changeset's DID and prefix changes."""

    tasks: list[PlannedTask]
    #: Changes in groups too small for a task (under MIN_ENTRIES): sent one by one.
    per_object: int


Shape = tuple[str, str, tuple[tuple[str, Any], ...]]


def _shape(change: Change) -> Shape:
    """What one task has in common: the method, the object type and, for PATCH, the body."""
    kind_type = BATCH_TYPES[change.kind][0]
    if isinstance(change, Create):
        return ("POST", kind_type, ())
    if isinstance(change, Release):
        return ("DELETE", kind_type, ())
    assert isinstance(change, Update)
    return ("PATCH", kind_type, tuple(sorted((c.field, json.dumps(c.new)) for c in change.changes)))


def planned_tasks(changes: Iterable[Change]) -> BatchPlan:
    """The tasks `apply --via batch` would create for `changes`, in the order it would, and
    how many changes go the per-object way, so `bulkx plan --via batch` shows both first."""
    counts: dict[Shape, int] = {}
    for change in changes:
        if batchable(change):
            shape = _shape(change)
            counts[shape] = counts.get(shape, 0) + 1
    tasks, per_object = [], 0
    for (method, kind_type, sets), count in counts.items():
        if count < MIN_ENTRIES:
            per_object += count
            continue
        for start in range(0, count, MAX_ENTRIES):
            tasks.append(PlannedTask(method, kind_type, min(MAX_ENTRIES, count - start), sets))
    return BatchPlan(tasks, per_object)


@dataclass
class Group:
    method: str
    type: str
    match_field: str
    ops: list[Operation] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        task: dict[str, Any] = {"method": self.method, "type": self.type, "review": True}
        if self.method == "POST":
            task["data"] = [r.body or {} for r in self.requests]
        else:
            task["field"] = self.match_field
            task["entries"] = [op_entry(op) for op in self.ops]
            if self.method == "PATCH":
                task["data"] = self.requests[0].body or {}
        return task


def _only_changed(change: Update, request: Request) -> Request:
    """A task applies one body to all its entries: send only what changes, so that the common
    bulk edit (re-point 5,000 numbers to a trunk group) is one task, not 5,000."""
    kind = KINDS[change.kind]
    names = {kind.by_name[c.field].api_name for c in change.changes if c.field in kind.by_name}
    body = {k: v for k, v in (request.body or {}).items() if k in names}
    return replace(request, body=body) if body else request


def op_entry(op: Operation) -> str:
    return str(op.key)


@dataclass
class BatchOutcome:
    """One operation's result in a finished task: `error` None means it was done."""

    op: Operation
    error: str | None = None
    sid: str | None = None


Emit = Callable[..., None]


@dataclass
class Grouped:
    """One gathering of ready operations, sorted by the way each goes."""

    tasks: list[Group]
    #: Operations whose references cannot be resolved, with why: they fail at once.
    unresolved: list[tuple[Operation, str]]
    #: Operations of groups too small for a task: sent one by one, as without --via batch.
    per_object: list[Operation]


class Batcher:
    def __init__(
        self, client: CarrierX, resolver: Resolver, emit: Emit, *, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.client = client
        self.resolver = resolver
        self.emit = emit
        self._poll = Backoff(
            first=POLL_SECONDS[0], cap=POLL_SECONDS[1], growth=POLL_GROWTH, jitter=0.0, sleep=sleep
        )
        self._read_retry = Backoff(first=0.5, cap=5.0, jitter=0.0, sleep=sleep)
        self._pending: list[tuple[Operation, Change]] = []
        self._arrived = asyncio.Event()
        self.tasks_created = 0

    def add(self, op: Operation, change: Change) -> None:
        self._pending.append((op, change))
        self._arrived.set()

    async def next_groups(self, stopping: Callable[[], bool]) -> list[tuple[Operation, Change]]:
        """Wait for operations, then until none joined for GATHER_SECONDS; take them all."""
        while not self._pending and not stopping():
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), 0.2)
            except TimeoutError:
                continue
        while not stopping() and len(self._pending) < MAX_ENTRIES:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), GATHER_SECONDS)
            except TimeoutError:
                break
        taken, self._pending = self._pending, []
        return taken

    def group(self, items: list[tuple[Operation, Change]]) -> Grouped:
        """Tasks for `items` (one per method, updates by identical body), the operations
        whose references cannot be resolved (failed at once), and those of groups too small
        for a task (MIN_ENTRIES), for the per-object path."""
        groups: dict[tuple[str, str, str], Group] = {}
        unresolved: list[tuple[Operation, str]] = []
        for op, change in items:
            try:
                request = request_for(change, self.resolver)
            except UnresolvedReference as error:
                unresolved.append((op, str(error)))
                continue
            assert request is not None
            if isinstance(change, Update):
                request = _only_changed(change, request)
            kind_type, match = BATCH_TYPES[change.kind]
            method = {"POST": "POST", "DELETE": "DELETE"}.get(request.method, "PATCH")
            shape = json.dumps(request.body, sort_keys=True) if method == "PATCH" else ""
            group = groups.setdefault((method, kind_type, shape), Group(method, kind_type, match))
            group.ops.append(op)
            group.requests.append(request)
        chunks, per_object = [], []
        for group in groups.values():
            if len(group.ops) < MIN_ENTRIES:
                per_object.extend(group.ops)
                continue
            for start in range(0, len(group.ops), MAX_ENTRIES):
                chunks.append(
                    Group(
                        group.method,
                        group.type,
                        group.match_field,
                        group.ops[start : start + MAX_ENTRIES],
                        group.requests[start : start + MAX_ENTRIES],
                    )
                )
        return Grouped(chunks, unresolved, per_object)

    async def run_task(self, group: Group, stopping: Callable[[], bool]) -> list[BatchOutcome]:
        """Create, review, approve and follow one task. Raises OutcomeUnknown when the task
        may or may not exist (its operations must then be looked up one by one)."""
        try:
            task = await self.client.post("core", "/batch/tasks", json=group.body())
        except ApiError as error:
            if isinstance(error, TransientError):
                raise OutcomeUnknown(str(error), None, "POST", "/batch/tasks") from error
            return self._refused(group, error)
        self.tasks_created += 1
        sid = str(task["task_sid"])
        review = await self._get(f"/batch/tasks/{sid}/review_items")
        items = list(review.get("review_items") or [])
        self.emit(
            events.BATCH_REVIEW,
            task_sid=sid,
            method=group.method,
            object_type=group.type,
            entries=len(group.ops),
            review_items=len(items),
            sample=[str(item.get("description")) for item in items[:5]],
        )
        await self._approve(sid)
        polls = 0
        while task.get("status") not in DONE_STATES:
            polls += 1
            await self._poll.wait(polls)
            task = await self._get(f"/batch/tasks/{sid}")
            self.emit(
                events.BATCH_PROGRESS,
                task_sid=sid,
                status=task.get("status"),
                processed=task.get("processed"),
                total=task.get("total"),
            )
        if task["status"] == "cancelled":
            return [BatchOutcome(op, f"batch task {sid} was cancelled") for op in group.ops]
        return await self._outcomes(group, task)

    async def _approve(self, sid: str) -> None:
        try:
            await self.client.patch("core", f"/batch/tasks/{sid}", json={"status": "approved"})
        except TransientError:
            # PATCH is idempotent: look at the task; approve again only if it still waits.
            task = await self._get(f"/batch/tasks/{sid}")
            if task.get("status") in ("created", "pending_review"):
                await self.client.patch("core", f"/batch/tasks/{sid}", json={"status": "approved"})

    async def _get(self, path: str) -> Any:
        attempts = 0
        while True:
            try:
                return await self.client.get("core", path)
            except TransportError:
                attempts += 1
                if attempts >= READ_ATTEMPTS:
                    raise
                await self._read_retry.wait(attempts)

    def _refused(self, group: Group, error: ApiError) -> list[BatchOutcome]:
        """A task refused whole (a 4xx): its entries fail with the reason that names them."""
        by_index: dict[int, list[str]] = {}
        for problem in error.errors:
            name = problem.field or ""
            if name.startswith("data[") and "]" in name:
                index = int(name[5 : name.index("]")])
                by_index.setdefault(index, []).append(f"{name}: {problem.message}")
        reason = str(error)
        return [
            BatchOutcome(op, "; ".join(by_index.get(i, [])) or reason)
            for i, op in enumerate(group.ops)
        ]

    async def _outcomes(self, group: Group, task: Mapping[str, Any]) -> list[BatchOutcome]:
        failed: dict[str, str] = {}
        for detail in task.get("error_details") or []:
            entry = detail.get("entry")
            if isinstance(entry, dict):
                entry = entry.get(group.match_field)
            failed[str(entry)] = str(detail.get("message") or "failed in the batch task")
        outcomes = [BatchOutcome(op, failed.get(op_entry(op))) for op in group.ops]
        if group.method == "POST":
            done = [o for o in outcomes if o.error is None]
            sids = await self._sids(group, [o.op.key for o in done])
            for outcome in done:
                outcome.sid = sids.get(outcome.op.key)
                if outcome.sid is None:
                    outcome.error = "the batch task reported success but the object is not there"
        return outcomes

    async def _sids(self, group: Group, keys: list[str]) -> dict[str, str]:
        """The sids of the objects a POST task created, by their natural key."""
        kind = KINDS[group.ops[0].kind]
        found: dict[str, str] = {}
        for start in range(0, len(keys), 100):
            chunk = keys[start : start + 100]
            listed = ", ".join(quote(k) for k in chunk)
            objects = await self.client.list_all(
                "core", kind.path, filter=f"{kind.key_field} in ({listed})"
            )
            for obj in objects:
                key = kind.natural_key(kind.from_api(obj))
                found[key] = str(obj[kind.sid_field])
        return found
