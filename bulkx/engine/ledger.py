"""Where the executor records each operation's state: the `Ledger` it writes through.

The run journal is one (`journal_ledger.JournalLedger`, group-committed); `MemoryLedger` only
counts, for tests and for benchmarks of the executor without a journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Ledger(Protocol):
    """Where the executor records each operation's state, in order, before acting on it."""

    async def start(self, op_key: str) -> None:
        """Durable before it returns: the request may be sent after this."""

    def succeed(self, op_key: str, sid: str | None, result: Any = None) -> None: ...
    def fail(self, op_key: str, error: str) -> None: ...
    def unknown(self, op_key: str, error: str) -> None: ...
    def retry(self, op_key: str, error: str) -> None: ...
    def reconciled(self, op_key: str, sid: str | None) -> None: ...
    def skip(self, op_keys: list[str], reason: str) -> None: ...
    def flush(self) -> None: ...
    def commands(self) -> list[str]: ...


@dataclass
class MemoryLedger:
    """A ledger that only counts: for tests and for benchmarks of the executor without a journal."""

    states: dict[str, str] = field(default_factory=dict)

    async def start(self, op_key: str) -> None:
        self.states[op_key] = "in_flight"

    def succeed(self, op_key: str, sid: str | None, result: Any = None) -> None:
        self.states[op_key] = "succeeded"

    def fail(self, op_key: str, error: str) -> None:
        self.states[op_key] = "failed"

    def unknown(self, op_key: str, error: str) -> None:
        self.states[op_key] = "unknown"

    def retry(self, op_key: str, error: str) -> None:
        self.states[op_key] = "pending"

    def reconciled(self, op_key: str, sid: str | None) -> None:
        self.states[op_key] = "succeeded" if sid else "pending"

    def skip(self, op_keys: list[str], reason: str) -> None:
        for key in op_keys:
            self.states[key] = "skipped"

    def flush(self) -> None:
        pass

    def commands(self) -> list[str]:
        return []
