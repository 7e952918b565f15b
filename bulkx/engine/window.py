"""Where a run's operations come from, and how they reach the executor: a chunk at a time,
in op_id order, never more than a window of them loaded and unsettled.

A run of 100,000 operations holds a few thousand of them (and their parsed changes) at any
moment, whatever its size, and starts sending as soon as its first chunk is loaded: memory and
start-up do not grow with the run. An `OpSource` hands out operations; `JournalSource` reads
them from a journal whose operations are all written (an apply, a resume). `ListSource` serves a
list already in memory (tests, benchmarks without a journal).

The `Loader` fills the scheduler's window: it waits for room, takes the next chunk, asks the
source (once per chunk) where the dependencies this process knows nothing of stand, lets the
run prepare the chunk (the sids its operations name) and hands each operation over.
"""

from __future__ import annotations

import asyncio
import bisect
import os
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from bulkx.diff.changes import Change
from bulkx.engine.operations import Operation, change_of
from bulkx.engine.scheduler import Scheduler
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.journal import JournalView, OpStatus

#: At most this many operations loaded and not settled. Big enough that the workers (and the
#: Batch API backend's 1,000-entry tasks) never wait for a load, small enough to cost a few MB.
WINDOW = 4096
#: Operations per load: one query (and one look at their dependencies) each. A load holds the
#: event loop while it reads and parses (about 50 ms for 500 on a busy machine): small enough
#: that sends and journal commits never wait long for it.
CHUNK = 500
#: What a run has left to carry out.
LEFT = ("pending", "unknown")
#: The environment variable that overrides WINDOW (tests watch a tiny window in a real run).
WINDOW_ENV = "BULKX_WINDOW"


def window_size() -> int:
    """WINDOW, unless BULKX_WINDOW says otherwise (at least 1)."""
    given = os.environ.get(WINDOW_ENV, "").strip()
    return max(1, int(given)) if given.isdigit() else WINDOW


class OpSource(Protocol):
    """Hands out a run's operations in op_id order."""

    async def next_chunk(self, after_op_id: int, limit: int) -> list[Operation]:
        """Up to `limit` operations left to carry out with an op_id above `after_op_id`, in
        op_id order. [] only when there will never be more (a source still being filled
        waits for its next operations instead)."""
        ...

    async def statuses(self, op_keys: Collection[str]) -> Mapping[str, OpStatus]:
        """Where the operations of `op_keys` stand (an op_key not in the run is absent)."""
        ...


@runtime_checkable
class FillingSource(OpSource, Protocol):
    """A source whose operations are still being added (`bulkx.engine.pipeline`)."""

    async def fill(
        self, pace: AdaptiveLimiter | None = None, loaded: Callable[[], int] = lambda: 0
    ) -> None:
        """Add the rest; returns once every operation is there (then `next_chunk` says [] at
        the end). Run beside the loader, and cancelled with it. `pace`: the sends' limiter,
        for the reads it makes meanwhile (one server bucket: two limiters would each learn
        from 429s the other caused). `loaded`: how many operations the loader holds that
        have not settled yet."""
        ...


class JournalSource:
    """The operations a journal has left (pending, or outcome unknown), every one of them
    written already (by `start_run`, before anything was sent)."""

    def __init__(self, journal: JournalView) -> None:
        self.journal = journal

    async def next_chunk(self, after_op_id: int, limit: int) -> list[Operation]:
        return self.journal.ops_after(after_op_id, LEFT, limit)

    async def statuses(self, op_keys: Collection[str]) -> Mapping[str, OpStatus]:
        return self.journal.op_statuses(op_keys)


class ListSource:
    """Operations already in memory, in dependency order (tests; benchmarks without a
    journal). Ones without an op_id are numbered by position; the op_keys in `unknown` are
    handed out as outcome unknown (looked up before anything is resent)."""

    def __init__(self, ops: Iterable[Operation], unknown: Collection[str] = frozenset()) -> None:
        listed = list(ops)
        numbered = all(op.op_id is not None for op in listed)
        self._ops = [
            replace(
                op,
                op_id=op.op_id if numbered else i + 1,
                state="unknown" if op.op_key in unknown else op.state,
            )
            for i, op in enumerate(listed)
        ]
        self._ids = [op.op_id or 0 for op in self._ops]
        self._by_key = {op.op_key: op for op in self._ops}

    async def next_chunk(self, after_op_id: int, limit: int) -> list[Operation]:
        start = bisect.bisect_right(self._ids, after_op_id)
        return self._ops[start : start + limit]

    async def statuses(self, op_keys: Collection[str]) -> Mapping[str, OpStatus]:
        found = [self._by_key[key] for key in op_keys if key in self._by_key]
        return {op.op_key: _status(op) for op in found}


def _status(op: Operation) -> OpStatus:
    return OpStatus(op.op_key, op.op_id or 0, op.state, op.kind, op.key, op.action, op.remote_sid)


#: Gets a chunk's operations ready before any of them is handed over (the sids they name).
Prepare = Callable[[Sequence[Operation], Sequence[Change]], Awaitable[None]]
#: Hands one loaded operation over, with what the source said of its dependencies.
Admit = Callable[[Operation, Change, Mapping[str, OpStatus]], None]


@dataclass
class Loader:
    """Fills `schedule` from `source`, a chunk at a time, keeping at most `window` operations
    loaded and unsettled (more only if the scheduler is stalled: see `Scheduler.stalled`)."""

    source: OpSource
    schedule: Scheduler
    admit: Admit
    parse: Callable[[Operation], Change] = change_of
    prepare: Prepare | None = None
    window: int = WINDOW
    chunk: int = CHUNK
    #: The sends' limiter, lent to a source being filled (`FillingSource.fill`).
    pace: AdaptiveLimiter | None = None

    async def run(self) -> None:
        """Load until the source has no more (then tell the scheduler). Cancelled when the
        run stops. A source being filled is filled meanwhile: what stops its filling (an
        error) stops the loading, and a stopped loading stops the filling."""
        if not isinstance(self.source, FillingSource):
            await self._load_all()
            return
        filling = asyncio.ensure_future(self.source.fill(self.pace, lambda: len(self.schedule)))
        loading = asyncio.ensure_future(self._load_all())
        try:
            while not loading.done():
                waiting = {loading} if filling.done() else {filling, loading}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if filling.done() and not filling.cancelled():
                    failed = filling.exception()
                    if failed is not None:
                        raise failed
            loading.result()
        finally:
            for task in (filling, loading):
                task.cancel()
            await asyncio.gather(filling, loading, return_exceptions=True)

    async def _load_all(self) -> None:
        after = 0
        while True:
            limit = await self._room()
            ops = await self.source.next_chunk(after, limit)
            if not ops:
                self.schedule.exhausted()
                return
            after = ops[-1].op_id or after
            await self._load(ops)
            # Let the workers take what just became ready (and the journal commit) before the
            # next chunk is read: the first request goes out right after the first chunk.
            await asyncio.sleep(0)

    async def _room(self) -> int:
        """Wait until a chunk fits (a quarter of the window, for a window smaller than four
        chunks) and the workers are short of ready operations: how many to load now. A run
        so starts sending right after its first chunk, not once the window is full."""
        wanted = min(self.chunk, max(1, self.window // 4))
        while True:
            room = self.window - len(self.schedule)
            if room >= wanted and self.schedule.queued() < wanted:
                return min(self.chunk, room)
            if self.schedule.stalled():
                return self.chunk
            # No await between the look and the clear: a settle cannot slip in unseen.
            self.schedule.changed.clear()
            await self.schedule.changed.wait()

    async def _load(self, ops: list[Operation]) -> None:
        changes = [self.parse(op) for op in ops]
        unknown = {dep for op in ops for dep in op.depends_on if not self.schedule.knows(dep)}
        # A dependency loaded earlier in this same chunk is known by the time its dependant
        # is handed over; asking about it too costs nothing and keeps this one query.
        earlier = await self.source.statuses(unknown) if unknown else {}
        if self.prepare is not None:
            await self.prepare(ops, changes)
        for op, change in zip(ops, changes, strict=True):
            self.admit(op, change, earlier)
