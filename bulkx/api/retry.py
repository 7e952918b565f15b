"""When to repeat a failed request, how long to wait, and how many retries a run may spend.

The rules follow what is safe for a telephony API with no idempotency keys:

* only `TransientError` is retried; a `TerminalError` means the request or plan must change;
* GET, PUT, PATCH and DELETE repeat safely (same result when applied twice);
* POST (rent a number, create a room) is repeated only when the server provably did not run
  it: 429, 503, or a connection that failed before the request was sent. Never on
  `OutcomeUnknown`: the caller must reconcile (look the object up) before sending again;
* the wait is at least the server's Retry-After, else capped exponential backoff with jitter
  (`Backoff`, the one wait schedule in bulkx: the executor's and the Batch poller's too);
* a `RetryBudget` shared by the whole run stops a struggling API from being hammered by
  every worker retrying at once.

`sleep` and `rng` are injectable so tests assert the schedule without ever sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.stop import stop_base

from bulkx.errors import (
    ApiError,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    TransientError,
    TransportError,
)

__all__ = ["IDEMPOTENT_METHODS", "Backoff", "RetryBudget", "RetryPolicy", "is_safe_to_retry"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
#: 429s one request may meet before giving up: a rate-limited API is slow, not broken.
MAX_THROTTLED_RETRIES: Final = 100
log = logging.getLogger("bulkx.api")


def is_safe_to_retry(method: str, exc: BaseException) -> bool:
    """Whether repeating `method` after `exc` cannot apply the request twice."""
    if not isinstance(exc, TransientError) or isinstance(exc, OutcomeUnknown):
        return False
    if method.upper() in IDEMPOTENT_METHODS:
        return True
    # Non-idempotent: only failures where the server refused before executing anything.
    if isinstance(exc, RateLimited):
        return True
    if isinstance(exc, ServerError):
        return exc.status == 503
    # TransportError that is not OutcomeUnknown: the client never finished sending.
    return isinstance(exc, TransportError)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: how long to wait before retry number `n`.

    The wait is `first * growth**(n-1)`, capped at `cap`, then scaled by a random factor in
    `[1 - jitter, 1]` so that concurrent workers do not retry in lockstep (`jitter=0`: the
    schedule exactly, for a single poller). `rng` and `sleep` are injected so tests assert the
    schedule without sleeping; nothing here touches the global `random` state.
    """

    first: float = 0.5
    cap: float = 30.0
    growth: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = asyncio.sleep

    def seconds(self, attempt: int) -> float:
        """The wait before retry number `attempt` (1 = the first retry)."""
        wait = min(self.cap, self.first * self.growth ** max(0, attempt - 1))
        if self.jitter:
            wait *= self.rng.uniform(1.0 - self.jitter, 1.0)
        return wait

    async def wait(self, attempt: int) -> None:
        await self.sleep(self.seconds(attempt))


class RetryBudget:
    """A token bucket of retries shared by a whole run.

    It starts with `capacity` retries; each retry spends one, each success deposits
    `per_success` (so a healthy run earns retries back, a failing one runs dry and fails fast
    instead of multiplying the load on the API).
    """

    def __init__(self, capacity: float = 100.0, per_success: float = 0.1) -> None:
        if capacity < 0 or per_success < 0:
            raise ValueError("capacity and per_success must be >= 0")
        self.capacity = float(capacity)
        self.per_success = float(per_success)
        self._tokens = float(capacity)
        self.spent = 0
        self.refused = 0

    @property
    def remaining(self) -> float:
        return self._tokens

    def try_spend(self) -> bool:
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.spent += 1
            return True
        self.refused += 1
        return False

    def record_success(self) -> None:
        if self._tokens < self.capacity:
            self._tokens = min(self.capacity, self._tokens + self.per_success)

    def __repr__(self) -> str:
        return f"RetryBudget(remaining={self._tokens:.1f}/{self.capacity:g}, spent={self.spent})"


class _StopRetrying(stop_base):
    """When to give up on one request. A 429 is the server pacing us, not a fault: it neither
    uses up the request's attempts nor the run's retry budget (Retry-After is honoured in the
    wait), up to `max_throttled` of them. Any other retry spends both."""

    def __init__(self, attempts: int, budget: RetryBudget, max_throttled: int) -> None:
        self.attempts = attempts
        self.budget = budget
        self.max_throttled = max_throttled
        self.failures = 0
        self.throttled = 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is not None and isinstance(outcome.exception(), RateLimited):
            self.throttled += 1
            return self.throttled >= self.max_throttled
        self.failures += 1
        if self.failures >= self.attempts:
            return True
        if self.budget.try_spend():
            return False
        log.warning(
            "retry budget exhausted after %d retries this run: not retrying", self.budget.spent
        )
        return True


class RetryPolicy:
    """Retry decisions for `CarrierX.request` (one policy per client; budget per run).

    attempts: total tries per request, the first included.
    backoff_base / backoff_max: the `Backoff` between tries: `base * 2**(n-1)` capped at
        `max`, then scaled by a random factor in [0.5, 1] (`rng`), waited out with `sleep`.
    max_retry_after: a server asking for a longer wait than this is not retried (the error
        carries `retry_after` for the caller to decide).
    max_throttled: 429s one request may meet; they spend neither `attempts` nor the budget.
    """

    def __init__(
        self,
        *,
        attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 300.0,
        max_throttled: int = MAX_THROTTLED_RETRIES,
        budget: RetryBudget | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts = attempts
        self.backoff = Backoff(
            first=backoff_base, cap=backoff_max, rng=rng or random.Random(), sleep=sleep
        )
        self.max_retry_after = max_retry_after
        self.max_throttled = max_throttled
        self.budget = budget if budget is not None else RetryBudget()

    @property
    def _sleep(self) -> Sleep:
        """The injected sleep (a policy that runs its own retry loop waits with it)."""
        return self.backoff.sleep

    @classmethod
    def never(cls) -> RetryPolicy:
        """One attempt, no retries."""
        return cls(attempts=1)

    def should_retry(self, method: str, exc: BaseException) -> bool:
        if not is_safe_to_retry(method, exc):
            return False
        retry_after = exc.retry_after if isinstance(exc, ApiError) else None
        return retry_after is None or retry_after <= self.max_retry_after

    def wait_seconds(self, attempt: int, exc: BaseException | None) -> float:
        """The wait before retry number `attempt` (1 = the first retry)."""
        retry_after = exc.retry_after if isinstance(exc, ApiError) else None
        return max(retry_after or 0.0, self.backoff.seconds(attempt))

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.wait_seconds(state.attempt_number, exc)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.upcoming_sleep
        # ApiError's str() carries method, sanitised URL and status, never a credential.
        log.info(
            "retry %d/%d in %.2fs after %s", state.attempt_number, self.attempts - 1, wait, exc
        )

    async def call(self, method: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt()` (one HTTP exchange), retrying it as these rules allow."""
        if self.attempts <= 1:  # the executor's writes: skip tenacity's per-call set-up
            result_once: T = await attempt()
            self.budget.record_success()
            return result_once
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: self.should_retry(method, exc)),
            stop=_StopRetrying(self.attempts, self.budget, self.max_throttled),
            wait=self._wait,
            sleep=self.backoff.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        result: T = await retrying(attempt)
        self.budget.record_success()
        return result
