"""Recording what became of each operation: the ledger, the run's totals and the event, always
together, so the journal, the progress line and every watcher tell the same story. The
executor's; a module of its own so the executor stays about carrying operations out."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

from bulkx.diff.changes import Change, Create
from bulkx.engine import events
from bulkx.engine.operations import Operation
from bulkx.engine.requests import Resolver
from bulkx.engine.steering import Steering
from bulkx.errors import JournalError
from bulkx.kinds import KINDS


class Outcomes(Steering):
    """The executor's record of outcomes (a mixin like `Steering`: `Executor` holds the state
    below)."""

    resolver: Resolver
    _journal_error: JournalError | None

    async def _start(self, op: Operation, started: Awaitable[None] | None = None) -> bool:
        """Record `op` in flight before its request goes out (`started`: its start, recorded
        ahead); False (and the run stops) when the journal cannot."""
        try:
            await (started if started is not None else self.ledger.start(op))
        except JournalError as error:
            self._journal_error = error
            self.stop(f"the journal could not record the next operation: {error}")
            return False
        self.emit(events.OP_STARTED, op)
        return True

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[None]:
        self.progress.in_flight += 1
        try:
            yield
        finally:
            self.progress.in_flight -= 1

    def _succeeded(
        self, op: Operation, change: Change, sid: str | None, result: Any = None
    ) -> None:
        self._remember(op, change, sid)
        self.ledger.succeed(op, sid, result)
        self.progress.done += 1
        self.emit(events.OP_SUCCEEDED, op, sid=sid)

    def _retrying(
        self,
        op: Operation,
        error: Exception | str,
        *,
        throttled: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.ledger.retry(op, str(error))
        self.progress.retries += 1
        if throttled:
            self.emit(events.THROTTLED, op, retry_after=retry_after, rate_limit=self.limiter.rate)
        else:
            self.emit(events.OP_RETRYING, op, error=str(error))

    def _failed(self, op: Operation, error: Exception | str) -> bool:
        self.ledger.fail(op, str(error))
        self.progress.failed += 1
        self.emit(events.OP_FAILED, op, error=str(error))
        return False

    def _skip(self, doomed: Sequence[Operation], cause: str) -> None:
        """Record operations that can never run: `cause` (a natural key) failed above them."""
        reason = f"a dependency failed: {cause}"
        self.ledger.skip(doomed, reason)
        self.progress.skipped += len(doomed)
        for skipped in doomed:
            self.emit(events.OP_SKIPPED, skipped, reason=reason)

    def _remember(self, op: Operation, change: Change, sid: str | None) -> None:
        """A created object's sid, for the operations after it that name it."""
        if sid and isinstance(change, Create):
            self.resolver.remember(change.kind, KINDS[change.kind].natural_key(change.values), sid)
