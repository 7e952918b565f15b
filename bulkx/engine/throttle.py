"""Client-side pacing: a token bucket under a ceiling that adapts to 429s (AIMD with a learned
limit) and honours Retry-After for every request of the credential.

A plain halve-on-429 sawtooth averages ~75% of the server's limit. Here a 429 marks the rate
that was too high; the pace settles just under it (`backoff`), probes upward slowly, and only
a Retry-After pauses everything.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class AdaptiveLimiter:
    def __init__(
        self,
        ceiling: float | None = None,
        *,
        burst: int | None = None,
        backoff: float = 0.94,
        probe_every: float = 5.0,
        probe_step: float = 0.02,
        min_rate: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`ceiling`: requests/s never exceeded (None: unlimited until the server objects)."""
        self.ceiling = ceiling
        self.rate: float | None = ceiling
        self.burst = burst if burst is not None else max(1, int((ceiling or 10) / 10))
        self.backoff = backoff
        self.probe_every = probe_every
        self.probe_step = probe_step
        self.min_rate = min_rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._paused_until = 0.0
        self._last_change = clock()
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.throttled = 0

    def recent_rate(self, window: float = 2.0) -> float:
        now = self._clock()
        while self._sent and self._sent[0] < now - window:
            self._sent.popleft()
        return len(self._sent) / window

    async def acquire(self) -> None:
        """Wait for a pause to end and for a token; then the caller may send one request."""
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                self._probe(now)
                if self.rate is None:
                    break
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    break
                await self._sleep((1.0 - self._tokens) / self.rate)
            self._sent.append(self._clock())

    def _probe(self, now: float) -> None:
        """After a quiet spell, try a little faster (never above the ceiling)."""
        if self.rate is None or now - self._last_change < self.probe_every:
            return
        faster = self.rate * (1 + self.probe_step)
        self.rate = min(faster, self.ceiling) if self.ceiling else faster
        self._last_change = now

    def on_throttled(self, retry_after: float | None) -> None:
        """A 429: settle under the rate that drew it, and pause for Retry-After."""
        self.throttled += 1
        now = self._clock()
        observed = self.recent_rate() or (self.rate or self.min_rate)
        current = min(self.rate, observed) if self.rate else observed
        self.rate = max(self.min_rate, current * self.backoff)
        self._last_change = now
        self._tokens = 0.0
        if retry_after:
            self._paused_until = max(self._paused_until, now + retry_after)
