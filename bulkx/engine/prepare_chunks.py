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
once when the last is ("done"), so a run could start sending while later chunks are prepared.
A process killed while preparing leaves a `preparing` run whose cursor says where to go on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bulkx.diff.changes import Change
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
from bulkx.diff.state import natural_key
from bulkx.diff.summary import ChangeSummary
from bulkx.engine.crashpoints import crash_point
from bulkx.engine.operations import (
    BuiltOperations,
    OperationsBuilder,
    StagedRelease,
    referenced,
    release_last,
)
from bulkx.engine.plan_run import SavedChanges, live_refs
from bulkx.errors import JournalError
from bulkx.journal import Journal, Operation
from bulkx.plan.model import Plan, Step
from bulkx.resources import KINDS

#: Releases written per transaction at the end (they are few; a page bounds a plan of many).
RELEASE_PAGE = 2_000


@dataclass(frozen=True)
class ChunkWritten:
    """What the producer signals: operations up to `ops` are journaled; `finished`, all are."""

    ops: int
    rows_done: int
    rows_total: int
    finished: bool = False


def releasable_kinds(plan: Plan) -> set[str]:
    """Kinds with an item to remove (`ensure: absent`): only an update moving off an object of
    one of these can hold a release back."""
    return {
        step.kind for step in plan.steps
        if "ensure" in step.rows.columns and bool((step.rows["ensure"] == "absent").any())
    }  # fmt: skip


def chunk_keys(chunk: PlanChunk) -> Iterator[tuple[str, str, str]]:
    """(step, kind, key) of every change the chunk's diff makes, without reading anything."""
    step = chunk.step
    if chunk.first and step.count is not None:
        yield (step.name, step.kind, criteria_label(step.criteria))
    kind = KINDS[step.kind]
    for item in chunk.part.items():
        yield (step.name, step.kind, natural_key(kind, item.values))


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
        plan: Plan,
        reader: ApiReader,
        *,
        target: str,
        allow_release: bool,
        confirmed: frozenset[str],
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
            plan, allow_release=allow_release, confirmed=confirmed,
            made=((kind, key) for kind, key, _ in earlier),
        )  # fmt: skip
        self._builder = OperationsBuilder(
            plan.digest, made_kinds=named, vacated_kinds=releasable_kinds(plan), made=earlier
        )
        self._saved = None if state.saved is None else SavedChanges(state.saved, plan.digest)
        if self._saved is not None:
            done = _chunks_before(self._steps, self._cursor)
            self._saved.met(key for chunk in done for key in chunk_keys(chunk))
        self._reads = ChunkReads(reader, plan, sent_before=sent_before)

    @property
    def rows_total(self) -> int:
        return sum(step.rows.height for step in self._steps)

    async def chunks(self) -> AsyncIterator[ChunkWritten]:
        """Prepare chunk by chunk, yielding once each is journaled, and once at the end."""
        total = self.rows_total
        if self._finished:
            yield ChunkWritten(self.summary.ops, total, total, finished=True)
            return
        if self._cursor[0] < len(self._steps):
            await self._reads.up_front()
        for chunk in plan_chunks(self._steps, self._cursor):
            await self._prepare(chunk)
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
            built.ops, refs=refs, releases=_staged(built), waits=_waits(built),
            cursor=chunk.after, summary=self.summary.as_dict(),
        )  # fmt: skip

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


def _staged(built: BuiltOperations) -> list[tuple[tuple[str, str], Operation]]:
    return [(release.released, release.operation) for release in built.releases]


def _waits(built: BuiltOperations) -> list[tuple[tuple[str, str], str, bool]]:
    return [(wait.released, wait.op_key, wait.after_updates) for wait in built.waits]


@dataclass
class PreparedRun:
    """A run whose operations are all journaled (state `preparing`, nothing sent), and the
    summary of its changes: shown and confirmed, then started (`start_run`) or discarded."""

    journal: Journal
    summary: ChangeSummary

    def discard(self) -> None:
        """Remove the run: declined, refused, or nothing to do (nothing of it was sent)."""
        self.journal.discard()


async def prepare_journaled(
    journal: Journal,
    plan: Plan,
    reader: ApiReader,
    *,
    target: str,
    allow_release: bool,
    confirmed: frozenset[str],
    sent_before: SentBefore | None = None,
    progress: ReadProgress | None = None,
) -> PreparedRun:
    """Prepare `plan` into `journal` to the end (from its cursor), `progress` hearing
    ("plan items", done, total) after each chunk. `reader`: under the run's read policy."""
    preparer = Preparer(
        journal, plan, reader, target=target, allow_release=allow_release,
        confirmed=confirmed, sent_before=sent_before,
    )  # fmt: skip
    async for written in preparer.chunks():
        if progress is not None:
            progress("plan items", written.rows_done, written.rows_total)
    return PreparedRun(journal, preparer.summary)


def preparing_header(plan: Plan, target: str) -> str:
    """The changeset header of a run being prepared: nothing counted yet, and it says so."""
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    header = ChangeSummary().header(plan.path, plan.digest, target, created_at)
    return json.dumps({**header, "preparing": True}, default=str)
