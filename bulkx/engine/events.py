"""What a run tells its watchers: one stream of plain events for every consumer.

The executor emits events; reporters consume them. The CLI's progress line, the journal's
samples and log (which a monitor in another terminal reads), and `--events FILE|-` JSON lines
are all reporters of the same stream, so they can never tell different stories.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

#: Event types, in the order a run meets them.
RUN_STARTED = "run_started"
OP_STARTED = "op_started"
OP_SUCCEEDED = "op_succeeded"
OP_FAILED = "op_failed"
OP_RETRYING = "op_retrying"
OP_UNKNOWN = "op_unknown"
OP_RECONCILED = "op_reconciled"
OP_SKIPPED = "op_skipped"
THROTTLED = "throttled"
PAUSED = "paused"
RESUMED = "resumed"
STOPPING = "stopping"
OUTAGE = "outage"
BATCH_REVIEW = "batch_review"
BATCH_PROGRESS = "batch_progress"
PROGRESS = "progress"
RUN_FINISHED = "run_finished"


@dataclass
class Progress:
    """Running totals of one execution (one apply or one resume)."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    in_flight: int = 0
    retries: int = 0
    throttled: int = 0
    unknown: int = 0
    paused: bool = False
    cancelled: bool = False
    rate_limit: float | None = None
    #: Why the run stopped on its own (an API outage, credentials refused): it is resumable.
    stopped_because: str | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def queued(self) -> int:
        return self.total - self.done - self.failed - self.skipped - self.in_flight

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped

    def rate(self, now: float | None = None) -> float:
        """Operations finished per second since the start."""
        elapsed = (now if now is not None else time.monotonic()) - self.started_at
        return self.done / elapsed if elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "in_flight": self.in_flight,
            "queued": max(0, self.queued),
            "retries": self.retries,
            "throttled": self.throttled,
            "unknown": self.unknown,
            "paused": self.paused,
            "cancelled": self.cancelled,
            "rate_limit": self.rate_limit,
            "ops_per_s": round(self.rate(), 2),
            "stopped_because": self.stopped_because,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a run, as every reporter gets it (the lines the journal keeps
    of them read back as `bulkx.journal.JournalEvent`)."""

    type: str
    #: Wall-clock time (epoch seconds), for logs and event files.
    at: float
    data: Mapping[str, Any]
    #: The totals when the event happened (a live object: read it, don't keep it).
    progress: Progress | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "at": round(self.at, 3), **self.data}
        if self.type in (PROGRESS, RUN_FINISHED) and self.progress is not None:
            out["progress"] = self.progress.as_dict()
        return out


class Reporter(Protocol):
    def __call__(self, event: Event) -> None: ...


class Reporters:
    """Several reporters as one; a reporter that raises is dropped, the run goes on."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = list(reporters)
        self.broken: list[tuple[Reporter, Exception]] = []

    def __call__(self, event: Event) -> None:
        for reporter in list(self.reporters):
            try:
                reporter(event)
            except Exception as error:  # a watcher must never stop the run
                self.reporters.remove(reporter)
                self.broken.append((reporter, error))


class JsonLinesReporter:
    """`--events FILE|-`: one JSON object per line, flushed per line so `tail -f` works."""

    def __init__(self, stream: IO[str], *, progress_every: float = 1.0) -> None:
        self.stream = stream
        self.progress_every = progress_every
        self._last_progress = 0.0

    def __call__(self, event: Event) -> None:
        if event.type == PROGRESS:
            now = time.monotonic()
            if now - self._last_progress < self.progress_every:
                return
            self._last_progress = now
        self.stream.write(json.dumps(event.as_dict(), default=str) + "\n")
        self.stream.flush()
