"""From a plan (or a saved changeset) to operations ready to run: the apply pipeline's front."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from bulkx.api import CarrierX
from bulkx.defaults import DEFAULT_OUTAGE_SECONDS
from bulkx.diff.changes import (
    Change,
    Changeset,
    UnreadableChange,
    change_as_dict,
    change_from_dict,
)
from bulkx.diff.chunks import ChunkDiffer, PlanChunk, ordered_steps, plan_chunks, rows_before
from bulkx.diff.engine import diff
from bulkx.diff.read import ReadProgress, SentBefore, read_live_state
from bulkx.diff.read_chunks import ChunkReads
from bulkx.diff.spool import ChangeStream
from bulkx.diff.state import LiveState
from bulkx.engine.journal_ledger import journal_root
from bulkx.engine.operations import Operation, operations, referenced
from bulkx.engine.read_policy import for_run
from bulkx.errors import PlanError
from bulkx.journal.sent import earlier_sends
from bulkx.kinds.model import Permission
from bulkx.plan.model import ValidPlan


@dataclass(frozen=True)
class Prepared:
    changeset: Changeset
    ops: list[Operation]
    #: Saved changes whose live state moved since they were planned: reported, not applied.
    drifted: list[Change]
    #: (kind, natural key) -> sid of every live object the operations name: all the live state
    #: the run needs to build its requests (its journal keeps them, so a resume reads none).
    refs: dict[tuple[str, str], str]


def is_saved_changeset(path: str) -> bool:
    return path.endswith(".json")


def read_saved(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise PlanError(f"{path}: not a saved changeset ({error})") from None
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        raise PlanError(f"{path}: not a saved changeset (bulkx plan --save writes them)")
    return document


def journal_sends(reader: CarrierX) -> SentBefore:
    """What the runs in this workspace sent to `reader`'s target, for the untraceable kinds."""
    return partial(earlier_sends, journal_root(), reader.target.label)


async def prepare(
    reader: CarrierX,
    plan: ValidPlan,
    *,
    target: str,
    allow_release: bool,
    saved: Mapping[str, Any] | None = None,
    confirmed: frozenset[Permission] = frozenset(),
    rate: float | None = None,
    outage_after: float = DEFAULT_OUTAGE_SECONDS,
    progress: ReadProgress | None = None,
) -> Prepared:
    """Read live state (under `rate`, stopping after `outage_after` seconds of nothing but
    errors), diff, and (for a saved changeset) keep only what still holds."""
    policed = for_run(reader, rate=rate, outage_after=outage_after)
    live = await read_live_state(
        policed, plan, sent_before=journal_sends(reader), progress=progress
    )
    changes = diff(plan, live, allow_release=allow_release, confirmed=confirmed)
    drifted: list[Change] = []
    if saved is not None:
        matcher = SavedChanges(saved, plan.digest)
        changes, drifted = matcher.keep(changes)
        drifted += matcher.unmatched()
    changeset = Changeset(
        plan.path,
        plan.digest,
        target,
        tuple(changes),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    ops = operations(changes, plan.digest)
    return Prepared(changeset, ops, drifted, live_refs(live, referenced(changes)))


#: A chunk of a plan (`PlanChunk`; anything in a test).
ChunkT = TypeVar("ChunkT")


async def stream_changes(
    reader: CarrierX,
    plan: ValidPlan,
    into: ChangeStream,
    *,
    allow_release: bool,
    confirmed: frozenset[Permission] = frozenset(),
    outage_after: float = DEFAULT_OUTAGE_SECONDS,
    progress: ReadProgress | None = None,
) -> None:
    """The plan's changes against live state, a chunk of rows at a time, into `into`: what
    `bulkx plan` and `bulkx audit` show, in memory that does not grow with the plan.

    Each chunk's live state is read by key (`ChunkReads`) under the run's read policy (retries,
    429s, the outage breaker), diffed (`ChunkDiffer`, with `diff()`'s results) and spooled;
    `progress(what, done, total)` hears the DIDs and sub-records read, counted over the plan."""
    policed = for_run(reader, outage_after=outage_after)
    steps = ordered_steps(plan)
    total = sum(step.rows.height for step in steps)
    reads = ChunkReads(policed, plan, sent_before=journal_sends(reader))
    differ = ChunkDiffer(plan, allow_release=allow_release, confirmed=confirmed)
    await reads.up_front()

    async def read(chunk: PlanChunk) -> tuple[PlanChunk, LiveState]:
        before = rows_before(steps, (chunk.index, chunk.offset))
        after = total - before - chunk.part.rows.height
        said = None if progress is None else partial(_over_the_plan, progress, before, after)
        return chunk, await reads.chunk(chunk, said)

    def diff_and_spool(chunk: PlanChunk, live: LiveState) -> None:
        into.add(differ.diff(chunk, live))

    await _diff_while_reading(plan_chunks(steps), read, diff_and_spool)
    into.finish()


async def _diff_while_reading(
    chunks: Iterator[ChunkT],
    read: Callable[[ChunkT], Awaitable[tuple[ChunkT, LiveState]]],
    diff_and_spool: Callable[[ChunkT, LiveState], None],
) -> None:
    """Each chunk read (on the loop) while the one before it is diffed and spooled (on a
    thread): the API answers while the client works on what it answered, not in turns."""
    reading = [asyncio.ensure_future(read(chunk)) for chunk in islice(chunks, 1)]
    diffing: asyncio.Future[None] | None = None
    try:
        while reading:
            chunk, live = await reading.pop()
            reading += [asyncio.ensure_future(read(chunk)) for chunk in islice(chunks, 1)]
            diffing = asyncio.ensure_future(asyncio.to_thread(diff_and_spool, chunk, live))
            await asyncio.shield(diffing)
    finally:
        for task in reading:
            task.cancel()
        # A thread cannot be stopped: a chunk being diffed (on Ctrl-C, say) is waited for, so
        # its spool is not closed under it.
        await asyncio.gather(*reading, *([diffing] if diffing else []), return_exceptions=True)


def _over_the_plan(
    progress: ReadProgress, before: int, after: int, what: str, done: int, total: int
) -> None:
    """A chunk's read progress as the whole plan's: the rows before it done, those after to do."""
    progress(what, before + done, before + total + after)


class SavedChanges:
    """A saved changeset (`bulkx plan --save`) against the changes of now, given a chunk at a
    time: a saved change is applied only while it is still exactly what the plan would do; one
    that is not (its live state moved) has drifted, and is reported, not applied."""

    def __init__(self, document: Mapping[str, Any], plan_digest: str) -> None:
        if document.get("plan_digest") != plan_digest:
            raise PlanError(
                f"the plan changed since the changeset was saved ({document.get('plan')});"
                " run `bulkx plan --save` again"
            )
        #: The saved changes not yet met, by (step, kind, key): the saved document's own
        #: (parsed whole already), let go as the diff of now meets them.
        try:
            self._left: dict[tuple[str, str, str], Mapping[str, Any]] = {
                (item["step"], item["kind"], item["key"]): item
                for item in document.get("changes", [])
            }
        except (KeyError, TypeError) as error:
            raise PlanError(
                f"the saved changeset has a change without its step, kind and key ({error!r});"
                " save it again with `bulkx plan --save`"
            ) from None

    def keep(self, changes: Iterable[Change]) -> tuple[list[Change], list[Change]]:
        """(the saved changes to apply, the drifted ones) among those `changes` meet."""
        kept: list[Change] = []
        drifted: list[Change] = []
        for change in changes:
            item = self._left.pop((change.step, change.kind, change.key), None)
            if item is None:
                continue  # nothing saved for it: nothing of it is applied
            planned = _saved_change(item)
            if _comparable(change_as_dict(change)) == _comparable(item):
                kept.append(planned)
            elif planned.action not in ("noop", "blocked"):
                drifted.append(planned)
        return kept, drifted

    def met(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Forget the saved changes of (step, kind, key)s an earlier process prepared."""
        for key in keys:
            self._left.pop(key, None)

    def unmatched(self) -> list[Change]:
        """Saved changes nothing of now meets: drifted (unless they did nothing)."""
        left = [_saved_change(item) for item in self._left.values()]
        self._left = {}
        return [c for c in left if c.action not in ("noop", "blocked")]


#: What a saved change holds that is not what it does: what the inventory says (it moves on
#: its own), and how a blocked change explains itself (`hint`, `needs`), whose words change
#: between versions: a changeset saved by an older bulkx still meets the same blocked change.
_NOT_COMPARED = frozenset({"available", "hint", "needs"})


def _saved_change(item: Mapping[str, Any]) -> Change:
    """A change of the saved changeset; one that cannot be read is a PlanError, not a change
    skipped or a traceback."""
    try:
        return change_from_dict(item)
    except UnreadableChange as error:
        where = f"{item.get('step')} {item.get('kind')} {item.get('key')}"
        raise PlanError(
            f"the saved changeset has a change bulkx cannot read ({where}: {error});"
            " save it again with `bulkx plan --save`"
        ) from None


def _comparable(change: Mapping[str, Any]) -> dict[str, Any]:
    """A change as saved, without what is not compared (`_NOT_COMPARED`)."""
    return {k: v for k, v in change.items() if k not in _NOT_COMPARED}


def live_refs(live: LiveState, wanted: Mapping[str, set[str]]) -> dict[tuple[str, str], str]:
    """The sids live state holds for the (kind -> natural keys) wanted."""
    found: dict[tuple[str, str], str] = {}
    for kind, keys in wanted.items():
        for key in keys:
            obj = live.get(kind, key)
            if obj is not None and obj.sid:
                found[(kind, key)] = obj.sid
    return found
