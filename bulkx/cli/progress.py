"""Live progress of a run on stderr: one redrawn line on a TTY, a line every few seconds else."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bulkx.engine import events
from bulkx.engine.events import Event


class ProgressLine:
    """A reporter: draws the `progress` events, and says when the run stops on its own."""

    def __init__(self, stream: TextIO | None = None, every: float = 0.25) -> None:
        # sys.stderr when drawn, not when this module was imported: a test runner swaps it.
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every = every if self.tty else 5.0
        self._last = 0.0
        self._drawn = False
        self._line = ""
        self._settled = False

    def __call__(self, event: Event) -> None:
        if event.type == events.OUTAGE:
            self._say(f"the API looks down: {event.data['reason']}")
            return
        if event.type == events.BATCH_REVIEW:
            data = event.data
            self._say(
                f"batch task {data['task_sid']}: {data['method']} of {data['entries']}"
                f" {data['object_type']} entries; review: {data['review_items']} item(s)"
            )
            for line in data["sample"]:
                self._say(f"  {line}")
            return
        if event.type == events.PAUSED:
            self._say("paused (from a monitor); waiting for resume")
            return
        if event.type != events.PROGRESS or event.progress is None:
            return
        progress = event.progress
        now = time.monotonic()
        if now - self._last < self.every and progress.queued + progress.in_flight > 0:
            return
        self._last = now
        rate = progress.rate(now)
        left = progress.total - progress.finished
        eta = f"{left / rate:.0f}s" if rate > 0 and left else "-"
        limit = f" limit {progress.rate_limit:.0f}/s" if progress.rate_limit else ""
        state = (
            " PAUSED"
            if progress.paused
            else " stopping"
            if progress.cancelled or progress.stopped_because
            else ""
        )
        line = (
            f"done {progress.done}/{progress.total}  in flight {progress.in_flight}"
            f"  queued {max(0, progress.queued)}  failed {progress.failed}"
            f"  skipped {progress.skipped}  {rate:.1f}/s{limit}  ETA {eta}{state}"
        )
        settled = progress.queued + progress.in_flight <= 0
        if line == self._line or (settled and self._settled):
            return  # the end is drawn once
        self._line, self._settled = line, settled
        if self.tty:
            self.stream.write("\r\x1b[2K" + line[:200])
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _say(self, message: str) -> None:
        if self._drawn:
            self.stream.write("\n")
            self._drawn = False
        self.stream.write(message + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
