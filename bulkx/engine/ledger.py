"""Where the executor records each operation's state: the `Ledger` it writes through.

The run journal is one (`journal_ledger.JournalLedger`, group-committed); `MemoryLedger` only
counts, for tests and for benchmarks of the executor without a journal. Each method takes the
operation itself: the journal finds it by its op_id, the memory ledger by its op_key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bulkx.journal.states import Operation


class Ledger(Protocol):
    """Where the executor records each operation's state, in order, before acting on it."""

    async def start(self, op: Operation) -> None:
        """Durable before it returns: the request may be sent after this."""

    def start_soon(self, op: Operation) -> Awaitable[None]:
        """`start`, recorded in order now and waited for later: durable once the awaitable
        is done (the executor's lookahead writes the next start while a request is out)."""

    def succeed(self, op: Operation, sid: str | None, result: Any = None) -> None: ...
    def fail(self, op: Operation, error: str) -> None: ...
    def unknown(self, op: Operation, error: str) -> None: ...
    def retry(self, op: Operation, error: str) -> None: ...
    def reconciled(self, op: Operation, sid: str | None) -> None: ...
    def skip(self, ops: Sequence[Operation], reason: str) -> None: ...
    def flush(self) -> None: ...
    def commands(self) -> list[str]: ...


@dataclass
class MemoryLedger:
    """A ledger that only counts: for tests and for benchmarks of the executor without a journal."""

    states: dict[str, str] = field(default_factory=dict)

    async def start(self, op: Operation) -> None:
        self.states[op.op_key] = "in_flight"

    def start_soon(self, op: Operation) -> Awaitable[None]:
        self.states[op.op_key] = "in_flight"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def succeed(self, op: Operation, sid: str | None, result: Any = None) -> None:
        self.states[op.op_key] = "succeeded"

    def fail(self, op: Operation, error: str) -> None:
        self.states[op.op_key] = "failed"

    def unknown(self, op: Operation, error: str) -> None:
        self.states[op.op_key] = "unknown"

    def retry(self, op: Operation, error: str) -> None:
        self.states[op.op_key] = "pending"

    def reconciled(self, op: Operation, sid: str | None) -> None:
        self.states[op.op_key] = "succeeded" if sid else "pending"

    def skip(self, ops: Sequence[Operation], reason: str) -> None:
        for op in ops:
            self.states[op.op_key] = "skipped"

    def flush(self) -> None:
        pass

    def commands(self) -> list[str]:
        return []
