"""Dependency order for the operations a run has loaded: which are ready, which a failure rules
out.

A run loads its operations a chunk at a time, in op_id order (`bulkx.engine.window`), and this
holds only the loaded ones not settled yet: the window. A journal lists every operation after
the ones it depends on, so when one is loaded each of its dependencies is either in the window
(it waits for it) or settled already: succeeded (nothing to wait for) or failed or skipped (it
is skipped too). What settled in this process is known here (`_broken` keeps the failures and
skips: rare, and what a later operation may still name); what settled before, the loader asks
the journal (`OpStatus`). So the oldest operation in the window never waits for anything, and
the window always moves.

An operation is ready once every dependency it waits for has succeeded; it then goes to the
ready queue the executor's workers take from, unless `divert` takes it (the Batch API backend
gathers its own). Sending, recording and pacing are the executor's; this only keeps the order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

from bulkx.diff.changes import Change
from bulkx.engine.operations import Operation
from bulkx.journal.states import OpStatus

#: Hands a ready operation elsewhere instead of the ready queue; True when it took it.
Divert = Callable[[Operation, Change], bool]
#: Why loaded operations can never run (the natural key of the failure they are below), and
#: which.
Skipped = tuple[str, list[Operation]]

#: A dependency settled in one of these (by an earlier process) rules its dependants out.
_RULED_OUT = frozenset({"failed", "skipped", "cancelled"})
#: A dependency in one of these has not settled.
_OPEN = frozenset({"pending", "in_flight", "unknown"})


class Scheduler:
    """The dependency order of the operations loaded and not settled yet.

    `ops` (with `change_of`): operations held in memory, in dependency order, added at once; a
    run adds them as it loads them (`add`), and says when there will be no more (`exhausted`).
    """

    def __init__(
        self,
        ops: Iterable[Operation] = (),
        change_of: Callable[[Operation], Change] | None = None,
        *,
        divert: Divert | None = None,
    ) -> None:
        self._divert = divert
        #: op_key -> (operation, its change): the window, in load (op_id) order.
        self._ops: dict[str, tuple[Operation, Change]] = {}
        #: op_key -> the dependencies it still waits for.
        self._waiting: dict[str, set[str]] = {}
        #: op_key -> the loaded operations that wait for it.
        self._dependents: dict[str, list[str]] = {}
        #: op_key -> the failure it is below (its own natural key if it failed): what failed or
        #: was skipped in this process. Grows with failures only.
        self._broken: dict[str, str] = {}
        #: Operations handed to the workers (or the batcher) and not settled yet.
        self._dispatched: set[str] = set()
        self._exhausted = False
        self._ready: asyncio.Queue[Operation | None] = asyncio.Queue()
        #: Set once there will be no more operations and every loaded one is settled.
        self.finished = asyncio.Event()
        #: Set whenever an operation leaves the window (the loader waits for room on it).
        self.changed = asyncio.Event()
        if change_of is not None:
            for op in ops:
                self.add(op, change_of(op), {})

    def __len__(self) -> int:
        return len(self._ops)

    @property
    def outstanding(self) -> int:
        """Operations loaded and neither settled nor skipped yet."""
        return len(self._ops)

    def change_of(self, op: Operation) -> Change:
        """The change a loaded operation carries out."""
        return self._ops[op.op_key][1]

    def knows(self, op_key: str) -> bool:
        """Whether this process alone can say where `op_key` stands (loaded and not settled,
        or failed or skipped here): the loader asks the journal about the others."""
        return op_key in self._ops or op_key in self._broken

    def queued(self) -> int:
        """Ready operations no worker has taken yet."""
        return self._ready.qsize()

    def stalled(self) -> bool:
        """Loaded operations, none of them ready: only when a dependency comes after its
        dependant in the journal (never in one `operations()` wrote). The loader then loads
        more, past the window, rather than wait for ever."""
        return bool(self._ops) and not self._dispatched

    def add(self, op: Operation, change: Change, earlier: Mapping[str, OpStatus]) -> Skipped | None:
        """Load `op`; `earlier`: what the journal says of its dependencies this process does
        not know. Returns what can never run (it and what waits for it) when a dependency
        failed or was skipped; else it waits for its unsettled dependencies, or is ready."""
        waits: set[str] = set()
        for dep in op.depends_on:
            if dep in self._ops:
                waits.add(dep)
                continue
            cause = self._broken.get(dep)
            status = earlier.get(dep)
            if cause is None and status is not None:
                if status.state in _RULED_OUT:
                    cause = status.key
                elif status.state in _OPEN and status.op_id > (op.op_id or 0):
                    waits.add(dep)  # not loaded yet: see `stalled`
            if cause is not None:
                self._broken[op.op_key] = cause
                return cause, [op, *self._rule_out(self._dependents.pop(op.op_key, []), cause)]
            # Else it succeeded, here (and left the window) or before; or it is not in the run.
        self._ops[op.op_key] = (op, change)
        self._waiting[op.op_key] = waits
        for dep in waits:
            self._dependents.setdefault(dep, []).append(op.op_key)
        if not waits:
            self._dispatch(op, change)
        return None

    def exhausted(self) -> None:
        """There will be no more operations to load."""
        self._exhausted = True
        self._check_finished()

    def start(self) -> None:
        """For `ops` given at construction: they are all there is."""
        self.exhausted()

    async def next_ready(self) -> Operation | None:
        """The next ready operation; None once `release_workers` says there is no more."""
        return await self._ready.get()

    def ready_nowait(self) -> Operation | None:
        """The next ready operation if one waits now; None when none does (or the workers
        are being released: that word is left for a worker)."""
        try:
            op = self._ready.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if op is None:
            self._ready.put_nowait(None)
        return op

    def requeue(self, op: Operation) -> None:
        """Ready again, straight to the workers (an operation handed back by the batcher)."""
        self._ready.put_nowait(op)

    def release_workers(self, workers: int) -> None:
        """Wake `workers` workers waiting for an operation, each with None: nothing more."""
        for _ in range(workers):
            self._ready.put_nowait(None)

    def settle(self, op: Operation, ok: bool) -> list[Operation]:
        """`op` ended: succeeded (`ok`, its dependents may now be ready) or failed. It leaves
        the window (its change with it). Returns the loaded operations its failure rules out,
        for the caller to record as skipped."""
        if self._ops.pop(op.op_key, None) is None:
            return []  # not loaded, or settled already
        self._dispatched.discard(op.op_key)
        self._waiting.pop(op.op_key, None)
        children = self._dependents.pop(op.op_key, [])
        doomed: list[Operation] = []
        if ok:
            for child in children:
                waiting = self._waiting.get(child)
                if waiting is None:  # skipped below another failure
                    continue
                waiting.discard(op.op_key)
                if not waiting:
                    self._dispatch(*self._ops[child])
        else:
            self._broken[op.op_key] = op.key
            doomed = self._rule_out(children, op.key)
        self.changed.set()
        self._check_finished()
        return doomed

    def _rule_out(self, children: list[str], cause: str) -> list[Operation]:
        """Everything loaded below `children`, each once, depth first, out of the window."""
        doomed: list[Operation] = []
        stack = list(children)
        while stack:
            key = stack.pop()
            entry = self._ops.pop(key, None)
            if entry is None:  # not twice: one below two failures goes with the first
                continue
            self._waiting.pop(key, None)
            self._broken[key] = cause
            doomed.append(entry[0])
            stack.extend(self._dependents.pop(key, []))
        if doomed:
            self.changed.set()
        return doomed

    def _dispatch(self, op: Operation, change: Change) -> None:
        self._dispatched.add(op.op_key)
        if self._divert is None or not self._divert(op, change):
            self._ready.put_nowait(op)

    def _check_finished(self) -> None:
        if self._exhausted and not self._ops:
            self.finished.set()
