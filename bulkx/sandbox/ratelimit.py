"""Per-credential token buckets for the sandbox's 429 answers.

CarrierX documents no REST rate limit (see assumptions.RATE_LIMIT_SCOPE), so this is the
sandbox's own model: each key gets `burst` tokens that refill at `rate` per second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final

#: Above this many buckets, idle ones are forgotten; a full bucket is the same as a new one.
MAX_TRACKED_KEYS: Final = 10_000


class TokenBucketLimiter:
    """`try_acquire(key)` answers 0.0 when a request may go ahead, else seconds to wait.

    Runs on every request's hot path in a single event loop, so it takes no lock and keeps
    per-key state as one small list.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        # key -> [tokens, time of last refill]; a list, not an object, to keep updates cheap.
        self._buckets: dict[str, list[float]] = {}
        self.configure(rate, burst)

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return self._burst

    @property
    def unlimited(self) -> bool:
        return self._rate <= 0

    def configure(self, rate: float, burst: int) -> None:
        """Change the limit at run time; every bucket starts full again."""
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        if not math.isfinite(rate):
            # NaN or infinity would turn the refill arithmetic into NaN and garble the waits.
            raise ValueError(f"rate must be a finite number, not {rate}")
        self._rate = float(rate)
        self._burst = int(burst)
        self._buckets.clear()

    def try_acquire(self, key: str) -> float:
        rate = self._rate
        if rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_KEYS:
                self._forget_idle(now)
            self._buckets[key] = [self._burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * rate
        if tokens > self._burst:
            tokens = self._burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / rate

    def _forget_idle(self, now: float) -> None:
        refill_s = self._burst / self._rate
        idle = [k for k, (_, last) in self._buckets.items() if now - last >= refill_s]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= MAX_TRACKED_KEYS:
            # Still full of busy keys: drop the oldest half (dicts keep insertion order). They
            # come back with a full bucket, a small leniency for a case the sandbox never meets.
            for key in list(self._buckets)[: MAX_TRACKED_KEYS // 2]:
                del self._buckets[key]
