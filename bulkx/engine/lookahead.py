"""A worker's next operation, taken while its request is out, its start recorded meanwhile.

An operation's start is durable before its request is sent (the journal's group commit, a few
milliseconds). Waited for after the answer before, that commit is added to every operation's
turn: at 16 in flight and 20 ms of latency, a sixth of the run. So while a worker's request is
out, it takes the next ready operation and has its start written then; when the answer comes,
the start is (nearly always) durable, and the next request goes out at once.

Only an operation the API can look up (`Kind.traceable`) is started ahead: after a crash, one
started but never sent is looked up by the resume and found not done, as any in flight is. A
send the API cannot look up is paced before its intent is written, as ever (the executor's
`_attempt`), and one whose outcome is unknown is looked up before anything: both are taken
ahead without a start. No more requests are out than workers. While the limit is being learned
from 429s nothing is taken ahead (`AdaptiveLimiter.may_hurry`: from the first 429 until the pace
settles, and in the first second of sending): the spells the limit is read from came out
blurred (learned runs at R = 500 reached 0.82-0.87 of it, against 0.97 without). A server that
refused nothing in that second gets the lookahead at once, not after LEARN_BY.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bulkx.engine.ledger import Ledger
from bulkx.engine.operations import Operation
from bulkx.engine.scheduler import Scheduler
from bulkx.errors import JournalError
from bulkx.kinds import KINDS

#: What an operation started ahead but never sent is recorded with, back to pending.
NOT_SENT = "the run stopped before this was sent"


@dataclass
class Ahead:
    """An operation a worker took ahead, and its start being recorded (None: not started)."""

    op: Operation
    started: Awaitable[None] | None


class Lookahead:
    """One worker's operation taken ahead (at most one)."""

    def __init__(
        self,
        schedule: Scheduler,
        ledger: Ledger,
        *,
        may_start: Callable[[Operation], bool],
        taking: Callable[[], bool],
    ) -> None:
        self._schedule = schedule
        self._ledger = ledger
        #: Whether an operation may be started ahead (not one whose outcome is unknown).
        self._may_start = may_start
        #: Whether to take one at all (not while the run is paused or stopping, nor while 429s
        #: teach the limit: `AdaptiveLimiter.may_hurry`).
        self._taking = taking
        self._ahead: Ahead | None = None

    def fetch(self) -> None:
        """Take the next ready operation, if one waits and none is held, and start it if it
        may be started ahead."""
        if self._ahead is not None or not self._taking():
            return
        op = self._schedule.ready_nowait()
        if op is None:
            return
        started = None
        if KINDS[self._schedule.change_of(op).kind].traceable and self._may_start(op):
            try:
                started = self._ledger.start_soon(op)
            except JournalError:
                started = None  # its own start, later, stops the run with the error
        self._ahead = Ahead(op, started)

    def take(self) -> Ahead | None:
        """The operation taken ahead, handed over (None when there is none)."""
        ahead, self._ahead = self._ahead, None
        return ahead

    def give_back(self) -> None:
        """The worker stops: an operation started ahead goes back to pending in the journal
        (it was never sent)."""
        ahead = self.take()
        if ahead is not None:
            unsent(self._ledger, ahead.op, ahead.started)


def unsent(
    ledger: Ledger, op: Operation, started: Awaitable[None] | None, reason: str = NOT_SENT
) -> None:
    """`op`'s start, recorded ahead (`started`), was not followed by its request: it is
    pending again. A start nobody waits for any more keeps its error (a journal that failed)
    for the run to report, not for asyncio's "exception never retrieved"."""
    if started is None:
        return
    future = asyncio.ensure_future(started)
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
    ledger.retry(op, reason)
