"""Dependency order for one run: which operations are ready, and which a failure rules out.

An operation is ready once every operation it depends on (within the run) has succeeded; then
it goes to the ready queue the executor's workers take from, unless `divert` takes it (the
Batch API backend gathers its own). When an operation fails, everything that depends on it,
directly or not, can never run: the scheduler hands those back to be recorded as skipped.
Sending, recording and pacing are the executor's; this only keeps the order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from bulkx.diff.changes import Change
from bulkx.engine.operations import Operation

#: Hands a ready operation elsewhere instead of the ready queue; True when it took it.
Divert = Callable[[Operation, Change], bool]


class Scheduler:
    """The dependency order of one run's `ops`; `change_of` gives each one's change."""

    def __init__(
        self,
        ops: Iterable[Operation],
        change_of: Callable[[Operation], Change],
        *,
        divert: Divert | None = None,
    ) -> None:
        #: The change each operation carries out.
        self.change_of = change_of
        self._divert = divert
        self._ops = {op.op_key: op for op in ops}
        #: op_key -> the dependencies it still waits for.
        self._waiting: dict[str, set[str]] = {}
        #: op_key -> the operations that wait for it.
        self._dependents: dict[str, list[str]] = {}
        self._skipped: set[str] = set()
        self._ready: asyncio.Queue[Operation | None] = asyncio.Queue()
        #: Operations neither settled nor skipped yet.
        self.outstanding = len(self._ops)
        #: Set once every operation is settled or skipped.
        self.finished = asyncio.Event()
        for op in self._ops.values():
            deps = {d for d in op.depends_on if d in self._ops}
            self._waiting[op.op_key] = deps
            for dep in deps:
                self._dependents.setdefault(dep, []).append(op.op_key)

    def start(self) -> None:
        """Dispatch the operations that depend on nothing in the run, in the run's order."""
        for key, deps in self._waiting.items():
            if not deps:
                self._dispatch(self._ops[key])
        if self.outstanding <= 0:
            self.finished.set()

    async def next_ready(self) -> Operation | None:
        """The next ready operation; None once `release_workers` says there is no more."""
        return await self._ready.get()

    def requeue(self, op: Operation) -> None:
        """Ready again, straight to the workers (an operation handed back by the batcher)."""
        self._ready.put_nowait(op)

    def release_workers(self, workers: int) -> None:
        """Wake `workers` workers waiting for an operation, each with None: nothing more."""
        for _ in range(workers):
            self._ready.put_nowait(None)

    def settle(self, op: Operation, ok: bool) -> list[Operation]:
        """`op` ended: succeeded (`ok`, its dependents may now be ready) or failed. Returns the
        operations its failure rules out, for the caller to record as skipped."""
        self.outstanding -= 1
        doomed: list[Operation] = []
        if ok:
            for child in self._dependents.get(op.op_key, []):
                waiting = self._waiting[child]
                waiting.discard(op.op_key)
                if not waiting:
                    self._dispatch(self._ops[child])
        else:
            # Not twice: an operation below two failures is skipped by the first one.
            doomed = [self._ops[k] for k in self._descendants(op.op_key) if k not in self._skipped]
            self._skipped.update(d.op_key for d in doomed)
            self.outstanding -= len(doomed)
        if self.outstanding <= 0:
            self.finished.set()
        return doomed

    def _dispatch(self, op: Operation) -> None:
        if self._divert is None or not self._divert(op, self.change_of(op)):
            self._ready.put_nowait(op)

    def _descendants(self, op_key: str) -> list[str]:
        """Everything below `op_key`, each once, depth first."""
        found: list[str] = []
        seen: set[str] = set()
        stack = list(self._dependents.get(op_key, []))
        while stack:
            key = stack.pop()
            if key not in seen:
                seen.add(key)
                found.append(key)
                stack.extend(self._dependents.get(key, []))
        return found
