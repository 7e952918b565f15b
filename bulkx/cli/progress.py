"""Live progress of a run on stderr: one redrawn line on a TTY, a line every few seconds else."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bulkx.engine.executor import Progress


class ProgressLine:
    def __init__(self, stream: TextIO = sys.stderr, every: float = 0.25) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every if self.tty else 5.0
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self.every and progress.queued + progress.in_flight > 0:
            return
        self._last = now
        elapsed = max(1e-6, now - self.started)
        finished = progress.done + progress.failed + progress.skipped
        rate = progress.done / elapsed
        left = progress.total - finished
        eta = f"{left / rate:.0f}s" if rate > 0 and left else "-"
        limit = f" limit {progress.rate_limit:.0f}/s" if progress.rate_limit else ""
        state = " PAUSED" if progress.paused else " stopping" if progress.cancelled else ""
        line = (
            f"done {progress.done}/{progress.total}  in flight {progress.in_flight}"
            f"  queued {max(0, progress.queued)}  failed {progress.failed}"
            f"  skipped {progress.skipped}  {rate:.1f}/s{limit}  ETA {eta}{state}"
        )
        if self.tty:
            self.stream.write("\r\x1b[2K" + line[:200])
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
