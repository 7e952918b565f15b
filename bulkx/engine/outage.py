"""Telling an API outage from a few transient errors, for the executor and for live reads."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class OutageBreaker:
    """Tells an API outage from a few transient errors: when nothing but transient errors has
    come back for `open_after` seconds (and at least `min_errors` of them), the run stops,
    resumable, instead of failing operations one by one or spinning on retries."""

    open_after: float = 60.0
    min_errors: int = 5
    clock: Callable[[], float] = time.monotonic
    _last_success: float | None = None
    _errors: int = 0

    def success(self) -> None:
        self._last_success = self.clock()
        self._errors = 0

    def suspect(self) -> bool:
        """Nothing but errors lately: the API itself may be down (not yet long enough to stop)."""
        return self._errors >= self.min_errors

    def failure(self) -> bool:
        """One more transient error; True when the API now counts as down."""
        now = self.clock()
        if self._last_success is None:
            self._last_success = now
        self._errors += 1
        return self._errors >= self.min_errors and now - self._last_success >= self.open_after
