"""Steering a run while it goes: pause, resume and cancel (from a monitor, through the
journal), a graceful stop (Ctrl-C, an outage, a failure limit), and the events every watcher
reads. The executor's; a module of its own so the executor stays about carrying operations
out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bulkx.engine import events
from bulkx.engine.events import Event, Progress, Reporter
from bulkx.engine.ledger import Ledger
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.journal.states import Operation


class Steering:
    """The executor's controls and events (a mixin: `Executor` holds the state below)."""

    ledger: Ledger
    limiter: AdaptiveLimiter
    reporter: Reporter | None
    sleep: Callable[[float], Any]
    progress_every: float
    progress: Progress
    _stop: bool

    async def _wait(self, finished: asyncio.Event) -> None:
        while not finished.is_set() and not self._stop:
            try:
                await asyncio.wait_for(finished.wait(), self.progress_every)
            except TimeoutError:
                await self._obey_controls(block=False)
            self.emit(events.PROGRESS)

    def stopping(self) -> bool:
        return self._stop

    def stop(self, reason: str | None = None) -> None:
        """Graceful stop (Ctrl-C, cancel): no new operation starts; in-flight ones finish."""
        if not self._stop:
            self.emit(events.STOPPING, reason=reason or "stop requested")
        self._stop = True
        if reason is None:
            self.progress.cancelled = True
        elif self.progress.stopped_because is None:
            self.progress.stopped_because = reason

    async def _obey_controls(self, *, block: bool = True) -> None:
        self._apply_commands()
        while block and self.progress.paused and not self._stop:
            self.emit(events.PROGRESS)
            await self.sleep(self.progress_every)
            self._apply_commands()

    def _apply_commands(self) -> None:
        for command in self.ledger.commands():
            if command == "pause" and not self.progress.paused:
                self.progress.paused = True
                self.emit(events.PAUSED)
            elif command == "resume" and self.progress.paused:
                self.progress.paused = False
                self.emit(events.RESUMED)
            elif command == "cancel":
                self.stop()

    def emit(self, kind: str, op: Operation | None = None, **data: Any) -> None:
        if kind == events.PROGRESS:
            self.progress.throttled = self.limiter.throttled
            self.progress.rate_limit = self.limiter.rate
        if self.reporter is None:
            return
        if op is not None:
            data = {
                "op_key": op.op_key,
                "step": op.step,
                "kind": op.kind,
                "key": op.key,
                "action": op.action,
                "position": op.position,
                **data,
            }
        self.reporter(Event(kind, time.time(), data, self.progress))
