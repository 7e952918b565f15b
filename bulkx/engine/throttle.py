"""Client-side pacing: a token bucket whose rate is learned from 429s, honouring Retry-After.

A halve-on-429 sawtooth averages ~75% of a server's limit and keeps drawing 429s. Instead, a
429 marks the server as saturated, so the rate it admitted over the last second is its limit:
pace at 97% of that and stop drawing 429s. One 429 episode changes the rate once (the other
429s of the same burst only extend the Retry-After pause), and a slow probe upward (never past
the estimate) lets a raised limit be found again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

#: Pace at this share of the estimated server limit.
HEADROOM = 0.97
#: Pacing may catch up on this much time lost to late wake-ups (at 500/s: 10 requests).
CATCH_UP_SECONDS = 0.02


class AdaptiveLimiter:
    def __init__(
        self,
        ceiling: float | None = None,
        *,
        burst: int = 1,
        probe_every: float = 10.0,
        probe_step: float = 0.01,
        min_rate: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`ceiling`: requests/s never exceeded (None: unlimited until the server objects)."""
        self.ceiling = ceiling
        self.rate: float | None = ceiling
        self.estimate: float | None = None
        self.burst = max(1, burst)
        self.probe_every = probe_every
        self.probe_step = probe_step
        self.min_rate = min_rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._first: float | None = None
        self._paused_until = 0.0
        self._episode_until = 0.0
        self._resumed_at = 0.0
        self._last_change = clock()
        self._admitted: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.throttled = 0

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
                # A bucket of one token loses every sleep's overshoot for good; a few
                # milliseconds' worth lets pacing catch up without bursting at the server.
                burst = max(self.burst, self.rate * CATCH_UP_SECONDS)
                self._tokens = min(burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    break
                await self._sleep((1.0 - self._tokens) / self.rate)
            if self._first is None:
                self._first = self._clock()

    async def wait_out_pause(self) -> None:
        """Sleep until a Retry-After pause that began after `acquire` returned is over."""
        while (left := self._paused_until - self._clock()) > 0:
            await self._sleep(left)

    def on_success(self) -> None:
        """An answer that was not a 429: the server admitted the request."""
        now = self._clock()
        if self._first is None:
            self._first = now
        self._admitted.append(now)
        while self._admitted and self._admitted[0] < now - 1.0:
            self._admitted.popleft()

    def _probe(self, now: float) -> None:
        """After a quiet spell, a little faster: never above the estimate or the ceiling."""
        if self.rate is None or now - self._last_change < self.probe_every:
            return
        limit = min(x for x in (self.estimate, self.ceiling, float("inf")) if x is not None)
        self.rate = min(self.rate * (1 + self.probe_step), limit)
        self._last_change = now

    def on_throttled(self, retry_after: float | None) -> None:
        """A 429: pause for Retry-After; the first of an episode sets the rate."""
        self.throttled += 1
        now = self._clock()
        pause_end = now + (retry_after or 0.0)
        self._paused_until = max(self._paused_until, pause_end)
        if now < self._episode_until:
            return
        # Count only time spent sending: a Retry-After pause admits nothing and would make the
        # server's limit look lower than it is.
        since = max(self._first or now, self._resumed_at)
        window = min(1.0, max(0.05, now - since))
        admitted = sum(1 for t in self._admitted if t >= now - window) / window
        if admitted <= 0:
            # Nothing got through since the last pause: a 429 that says nothing about a rate
            # (a storm, a server catching its breath). Wait it out; keep the pace.
            self._episode_until = max(pause_end, now + 0.5)
            self._resumed_at = self._paused_until
            return
        if self.rate is not None:
            # Paced at `rate` and still refused: the limit is below it, whatever the server's
            # refilled burst let through right after the last pause.
            admitted = min(admitted, self.rate * HEADROOM)
        self.estimate = admitted
        rate = max(self.min_rate, self.estimate * HEADROOM)
        self.rate = min(rate, self.ceiling) if self.ceiling else rate
        self._tokens = 0.0
        self._stamp = now
        self._last_change = now
        self._episode_until = max(pause_end, now + 0.5)
        self._resumed_at = self._paused_until


class KeyedPacer:
    """At most `rate` requests per second for each key (a sending number), keys independent.

    Each caller reserves the key's next free slot before it sleeps, so concurrent callers
    line up one interval apart instead of waking together."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    async def acquire(self, key: str) -> None:
        now = self._clock()
        slot = max(now, self._next.get(key, now))
        self._next[key] = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)
