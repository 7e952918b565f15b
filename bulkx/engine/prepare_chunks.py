"""Apply's front, a chunk of the plan at a time: read the chunk's live state by key, diff it,
turn its changes into operations, and journal them (with the sids they name and a cursor past
the chunk) in one transaction, then let the chunk go. Memory stays flat however long the plan.

What crosses chunks is small and kept only for what a later chunk needs: the live objects of
the small kinds references point at (read up front), the keys sub-records' owners have in the
plan (`ChunkDiffer`), the op_keys of creates and updates of the kinds later kinds name
(`OperationsBuilder.made`), and the summary. Releases are held back in the journal and written
after everything else, dependants first, so every operation's `depends_on` names operations
journaled before it.

`Preparer.chunks` is a producer: it yields after each chunk is durable ("more operations") and
once when the last is ("done"). An apply that needs no confirmation stops after the first chunk
with operations (`prepare_journaled(start_early=True)`) and goes on preparing the rest while
those are sent (`bulkx.engine.pipeline`): the Preparer keeps its place, so `chunks()` goes on
from there in another event loop, reading through `read_with`'s reader. A process killed while
preparing leaves a run whose cursor says where to go on.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bulkx.diff.changes import Blocked, Change, change_as_dict
from bulkx.diff.chunks import (
    ChunkDiffer,
    Cursor,
    PlanChunk,
    ordered_steps,
    plan_chunks,
    rows_before,
    viewed_kinds,
)
from bulkx.diff.engine import criteria_label
from bulkx.diff.read import ApiReader, ReadProgress, SentBefore, referenced_kinds
from bulkx.diff.read_chunks import ChunkReads
from bulkx.diff.summary import ChangeSummary
from bulkx.engine.crashpoints import crash_point
from bulkx.engine.operations import (
    BuiltOperations,
    OperationsBuilder,
    StagedRelease,
    op_key,
    referenced,
    release_last,
)
from bulkx.engine.plan_run import SavedChanges, live_refs
from bulkx.errors import JournalError
from bulkx.journal import Journal, Operation
from bulkx.kinds import KINDS
from bulkx.kinds.model import Permission
from bulkx.plan.model import Plan, Step, ValidPlan

#: Releases written per transaction at the end (they are few; a page bounds a plan of many).
RELEASE_PAGE = 2_000


@dataclass(frozen=True)
class ChunkWritten:
    """What the producer signals: operations up to `ops` are journaled; `finished`, all are."""

    ops: int
    rows_done: int
    rows_total: int
    finished: bool = False


class _Relay:
    """The reader a Preparer reads live state through, replaceable: a preparation that goes
    on in another event loop reads through a client opened in that loop (`read_with`)."""

    def __init__(self, reader: ApiReader) -> None:
        self.reader = reader

    async def list_all(
        self,
        api: str,
        path: str,
        *,
        filter: str | None = None,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> list[dict[str, Any]]:
        return await self.reader.list_all(
            api, path, filter=filter, params=params, endpoint=endpoint
        )

    async def get(
        self,
        api: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> Any:
        return await self.reader.get(api, path, params=params, endpoint=endpoint)


def releasable_kinds(plan: Plan) -> set[str]:
    """Kinds with an item to remove (`ensure: absent`): only an update moving off an object of
    one of these can hold a release back."""
    return {
        step.kind
        for step in plan.steps
        if "ensure" in step.rows.columns and bool((step.rows["ensure"] == "absent").any())
    }


def chunk_keys(chunk: PlanChunk) -> Iterator[tuple[str, str, str]]:
    """(step, kind, key) of every change the chunk's diff makes, without reading anything."""
    step = chunk.step
    if chunk.first and step.count is not None:
        yield (step.name, step.kind, criteria_label(step.criteria))
    kind = KINDS[step.kind]
    for item in chunk.part.items():
        yield (step.name, step.kind, kind.natural_key(item.values))


def _chunks_before(steps: Sequence[Step], cursor: Cursor) -> Iterator[PlanChunk]:
    for chunk in plan_chunks(steps):
        if (chunk.index, chunk.offset) >= cursor:
            return
        yield chunk


class Preparer:
    """Writes the operations of `plan` into `journal` (a run in state `preparing`), from the
    cursor the journal holds: a fresh run from the start, a resumed one where it stopped."""

    def __init__(
        self,
        journal: Journal,
        plan: ValidPlan,
        reader: ApiReader,
        *,
        target: str,
        allow_release: bool,
        confirmed: frozenset[Permission],
        sent_before: SentBefore | None = None,
    ) -> None:
        state = journal.preparation()
        if state is None:
            raise JournalError(f"run {journal.run_id} was not prepared a chunk at a time")
        self.journal = journal
        self.plan = plan
        self.target = target
        self.summary = ChangeSummary.from_dict(state.summary)
        self._finished = state.finished
        self._cursor: Cursor = (state.step_index, state.row_offset)
        self._steps = ordered_steps(plan)
        kinds = {step.kind for step in plan.steps}
        named = referenced_kinds(kinds) | viewed_kinds(kinds)
        # What the chunks an earlier process prepared made, for the chunks to come.
        earlier = journal.prepared_made(named) if self._cursor != (0, 0) else []
        self._differ = ChunkDiffer(
            plan,
            allow_release=allow_release,
            confirmed=confirmed,
            made=((kind, key) for kind, key, _ in earlier),
        )
        self._builder = OperationsBuilder(
            plan.digest, made_kinds=named, vacated_kinds=releasable_kinds(plan), made=earlier
        )
        self._saved = None if state.saved is None else SavedChanges(state.saved, plan.digest)
        if self._saved is not None:
            done = _chunks_before(self._steps, self._cursor)
            self._saved.met(key for chunk in done for key in chunk_keys(chunk))
        self._relay = _Relay(reader)
        self._reads = ChunkReads(self._relay, plan, sent_before=sent_before)
        self._read_up_front = False
        #: Operations (not releases) this process journaled: the ones a run could send now.
        self.sendable = 0
        #: A blocked change is journaled as a failed item (its reason the error) instead of
        #: refusing the plan: set once the run is sending (a pipelined apply, or the resume of
        #: one), when refusing the plan whole is no longer possible. The rest goes on, and the
        #: run ends with exit 3 and the item in `report --failed`, as any failed item.
        self.fail_blocked = journal.run().state != "preparing"

    @property
    def finished(self) -> bool:
        return self._finished

    def read_with(self, reader: ApiReader) -> None:
        """Read live state through `reader` from now on (one of the event loop going on)."""
        self._relay.reader = reader

    @property
    def rows_total(self) -> int:
        return sum(step.rows.height for step in self._steps)

    @property
    def rows_done(self) -> int:
        """Plan rows prepared so far (by this process and any before it)."""
        return rows_before(self._steps, self._cursor)

    async def chunks(self) -> AsyncGenerator[ChunkWritten, None]:
        """Prepare chunk by chunk, yielding once each is journaled, and once at the end."""
        total = self.rows_total
        if self._finished:
            yield ChunkWritten(self.summary.ops, total, total, finished=True)
            return
        if self._cursor[0] < len(self._steps) and not self._read_up_front:
            await self._reads.up_front()
            self._read_up_front = True
        for chunk in plan_chunks(self._steps, self._cursor):
            await self._prepare(chunk)
            # The Preparer keeps its place: `chunks()` called again goes on from here.
            self._cursor = chunk.after
            crash_point("while_preparing")
            yield ChunkWritten(self.summary.ops, rows_before(self._steps, chunk.after), total)
        if self._saved is not None:
            self.summary.add_drifted(self._saved.unmatched())
        self._write_releases()
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
        header = self.summary.header(self.plan.path, self.plan.digest, self.target, created_at)
        self.journal.finish_preparing(json.dumps(header, default=str), self.summary.as_dict())
        self._finished = True
        yield ChunkWritten(self.summary.ops, total, total, finished=True)

    async def _prepare(self, chunk: PlanChunk) -> None:
        live = await self._reads.chunk(chunk)
        changes = self._differ.diff(chunk, live)
        failed = self._blocked_ops(changes) if self.fail_blocked else []
        drifted: list[Change] = []
        if self._saved is not None:
            changes, drifted = self._saved.keep(changes)
        built = self._builder.add(changes)
        wanted = referenced(changes)
        refs = live_refs(live, wanted)
        looked_up = self._reads.dids_looked_up
        unread = [k for k in wanted.get("did", ()) if ("did", k) not in refs and k not in looked_up]
        if unread:
            refs.update(live_refs(await self._reads.dids(unread), {"did": set(unread)}))
        self.summary.add(changes)
        self.summary.add_drifted(drifted)
        self.summary.ops += len(built.ops) + len(built.releases)
        self.journal.add_prepared(
            [*built.ops, *(op for op, _ in failed)],
            refs=refs,
            releases=_staged(built),
            waits=_waits(built),
            cursor=chunk.after,
            summary=self.summary.as_dict(),
            failed={op.op_key: reason for op, reason in failed},
        )
        self.sendable += len(built.ops)

    def _blocked_ops(self, changes: Sequence[Change]) -> list[tuple[Operation, str]]:
        """The chunk's blocked changes as operations, each with its reason."""
        return [
            (
                blocked_operation(self.plan.digest, change),
                change.reason + (f" (hint: {change.hint})" if change.hint else ""),
            )
            for change in changes
            if isinstance(change, Blocked)
        ]

    def _write_releases(self) -> None:
        """The held-back releases, last staged first, each with what it waits for."""
        while page := self.journal.staged_releases(RELEASE_PAGE):
            waits = self.journal.release_waits(row.released for row in page)
            ops = [
                release_last(
                    StagedRelease(row.operation, row.released), waits.get(row.released, [])
                )
                for row in page
            ]
            self.journal.add_released(ops, [row.seq for row in page])


def blocked_operation(plan_digest: str, change: Blocked) -> Operation:
    """A blocked change as an operation to journal as failed: never sent, listed by
    `report --failed` with its reason (and `--retry` puts it in the retry plan)."""
    return Operation(
        op_key(plan_digest, change.step, change.kind, change.key, change.action),
        change.step,
        change.kind,
        change.key,
        change.action,
        f"{change.position.file}:{change.position.line}",
        (),
        change_as_dict(change),
    )


def _staged(built: BuiltOperations) -> list[tuple[tuple[str, str], Operation]]:
    return [(release.released, release.operation) for release in built.releases]


def _waits(built: BuiltOperations) -> list[tuple[tuple[str, str], str, bool]]:
    return [(wait.released, wait.op_key, wait.after_updates) for wait in built.waits]


@dataclass
class PreparedRun:
    """A run whose operations are all journaled (state `preparing`, nothing sent), and the
    summary of its changes: shown and confirmed, then started (`start_run`) or discarded.
    Or, prepared with `start_early`, only its first operations: `rest` goes on preparing the
    others while the run sends (`bulkx.engine.pipeline`), and `summary` is what it has so far."""

    journal: Journal
    summary: ChangeSummary
    rest: Preparer | None = None

    @property
    def finished(self) -> bool:
        """Every operation is journaled (the summary is the whole plan's)."""
        return self.rest is None

    def discard(self) -> None:
        """Remove the run: declined, refused, or nothing to do (nothing of it was sent)."""
        self.journal.discard()


async def prepare_journaled(
    journal: Journal,
    plan: ValidPlan,
    reader: ApiReader,
    *,
    target: str,
    allow_release: bool,
    confirmed: frozenset[Permission],
    sent_before: SentBefore | None = None,
    progress: ReadProgress | None = None,
    start_early: bool = False,
) -> PreparedRun:
    """Prepare `plan` into `journal` to the end (from its cursor), `progress` hearing
    ("plan items", done, total) after each chunk. `reader`: under the run's read policy.
    `start_early`: stop once a chunk has journaled operations to send (or a blocked change
    to refuse the run for), with the rest to prepare in `PreparedRun.rest`."""
    preparer = Preparer(
        journal,
        plan,
        reader,
        target=target,
        allow_release=allow_release,
        confirmed=confirmed,
        sent_before=sent_before,
    )
    async with contextlib.aclosing(preparer.chunks()) as chunks:
        async for written in chunks:
            if progress is not None:
                progress("plan items", written.rows_done, written.rows_total)
            if (
                start_early
                and not written.finished
                and (preparer.sendable or preparer.summary.blocked)
            ):
                return PreparedRun(journal, preparer.summary, rest=preparer)
    return PreparedRun(journal, preparer.summary)


def preparing_header(plan: Plan, target: str) -> str:
    """The changeset header of a run being prepared: nothing counted yet, and it says so."""
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    header = ChangeSummary().header(plan.path, plan.digest, target, created_at)
    return json.dumps({**header, "preparing": True}, default=str)
