"""Apply's retry, 429 and outage policy, for the reads of live state (the diff's, and a
resume's look-ups of what its journal does not know); and the pace a run starts from.

`bulkx.diff.read` reads through any `ApiReader`; a run hands it one `policed` here, so that a
read honours 429s and teaches the run's limiter, retries transient errors, and stops with
`ReadStopped` (exit 5, nothing changed) when the API is down, as apply does.

`PaceMemory` starts a run's limiters at the limit an earlier run learned for the same target
and credential (`bulkx.journal.limits`), and remembers what they learn. `PacedPolicy` puts the
Batch API's requests (`--via batch`) under the run's limiter, so a ceiling holds for them too.
"""

from __future__ import annotations

import asyncio
import random
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from bulkx.api.auth import Secret
from bulkx.api.retry import RetryPolicy, Sleep
from bulkx.defaults import DEFAULT_OUTAGE_SECONDS
from bulkx.diff.read import ApiReader
from bulkx.engine.ceiling import SlidingCap
from bulkx.engine.exclusive import target_key
from bulkx.engine.executor import OutageBreaker
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.errors import (
    ApiError,
    RateLimited,
    ReadStopped,
    TargetUnreachable,
    TransientError,
    Unreachable,
)
from bulkx.journal import limits

T = TypeVar("T")

#: Tries of a first read whose host cannot be reached (no DNS name, nothing listening) before
#: it is called a configuration problem (exit 6) rather than an outage to wait out.
UNREACHABLE_TRIES = 3
#: Tries of one read while the API is otherwise answering (each a transient error): at 15%
#: 5xx, 8 in a row fail once in 4 million reads.
READ_ATTEMPTS = 8


@runtime_checkable
class RetryingReader(ApiReader, Protocol):
    """A reader whose retry policy can be swapped (`CarrierX.with_retry`)."""

    def with_retry(self, retry: RetryPolicy) -> ApiReader: ...


class ReadPolicy(RetryPolicy):
    """Apply's retry, 429 and outage policy, for reads (`CarrierX.request` calls `call`).

    Every request waits for the limiter. A 429 pauses the limiter for its Retry-After and
    teaches it the server's rate; it spends no attempt. A transient error (5xx, reset,
    timeout) is retried after a backoff; while the whole API is failing a read's attempts do
    not run out: it waits for the API to come back, or for the breaker to call it an outage,
    which stops the read (`ReadStopped`). Backoffs are capped at a quarter of the outage
    window so that an outage is called soon after the window, not a long backoff later."""

    def __init__(
        self,
        limiter: AdaptiveLimiter,
        breaker: OutageBreaker,
        *,
        attempts: int = READ_ATTEMPTS,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            attempts=attempts,
            backoff_max=min(30.0, max(1.0, breaker.open_after / 4)),
            sleep=sleep,
            rng=rng,
        )
        self.limiter = limiter
        self.breaker = breaker
        #: Whether the target has answered anything (an error answer counts) in this run.
        self.answered = False

    async def call(self, method: str, attempt: Callable[[], Awaitable[T]]) -> T:
        failures = throttled = 0
        while True:
            await self.limiter.acquire()
            sent_at = await self.limiter.wait_out_pause()  # a 429 may have come meanwhile
            try:
                result = await attempt()
            except RateLimited as error:
                self.answered = True
                throttled += 1
                if not self.should_retry(method, error):
                    raise ReadStopped(
                        f"the API asked to wait {error.retry_after or 0:g} s before the next read"
                        f" (last: {briefly(error)})",
                        error,
                    ) from error
                if throttled >= self.max_throttled:
                    raise ReadStopped(
                        f"one read was answered 429 {throttled} times (last: {briefly(error)})",
                        error,
                    ) from error
                self.limiter.on_throttled(error.retry_after, sent_at)
                continue
            except TransientError as error:
                if not self.should_retry(method, error):
                    raise
                failures += 1
                self._refuse_unreachable(error, failures)
                if self.breaker.failure():
                    raise ReadStopped(
                        f"the API answered nothing but errors for {self.breaker.open_after:g} s"
                        f" (last: {briefly(error)})",
                        error,
                    ) from error
                if failures >= self.attempts and not self.breaker.suspect():
                    raise ReadStopped(
                        f"one read failed {failures} times in a row (last: {briefly(error)})", error
                    ) from error
                await self._sleep(self.wait_seconds(failures, error))
                continue
            except ApiError:
                self.answered = True
                raise
            self.answered = True
            self.limiter.on_success(sent_at)
            self.breaker.success()
            return result

    def _refuse_unreachable(self, error: TransientError, failures: int) -> None:
        """A target that never answered and cannot be connected to is a setting to fix, not an
        outage to wait out."""
        if self.answered or not isinstance(error, Unreachable) or failures < UNREACHABLE_TRIES:
            return
        host = urllib.parse.urlsplit(error.url or "").netloc or "the target"
        raise TargetUnreachable(
            f"cannot reach {host}: {error.message}",
            hint="check the base URL or profile (`bulkx config`), DNS, and any proxy",
        ) from error


def briefly(error: Exception) -> str:
    """An error in a few words for a one-line message: its status and message, and the
    request's method and path (a filter's query string can be kilobytes long)."""
    if not isinstance(error, ApiError):
        return str(error) or type(error).__name__
    text = " ".join(str(part) for part in (error.status, error.message) if part)
    if error.method and error.url:
        text += f", {error.method} {urllib.parse.urlsplit(error.url).path}"
    return text


class _PolicedReader:
    """A reader without a swappable retry policy (a test's fake), each call under `policy`."""

    def __init__(self, reader: ApiReader, policy: RetryPolicy) -> None:
        self._reader = reader
        self._policy = policy

    async def list_all(
        self,
        api: str,
        path: str,
        *,
        filter: str | None = None,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> list[dict[str, Any]]:
        return await self._policy.call(
            "GET",
            partial(
                self._reader.list_all, api, path, filter=filter, params=params, endpoint=endpoint
            ),
        )

    async def get(
        self,
        api: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> Any:
        return await self._policy.call(
            "GET", partial(self._reader.get, api, path, params=params, endpoint=endpoint)
        )


def policed(reader: ApiReader, policy: RetryPolicy) -> ApiReader:
    """`reader` with every request under `policy`."""
    if isinstance(reader, RetryingReader):
        return reader.with_retry(policy)
    return _PolicedReader(reader, policy)


def for_run(
    reader: ApiReader,
    *,
    rate: float | None = None,
    outage_after: float = DEFAULT_OUTAGE_SECONDS,
    limiter: AdaptiveLimiter | None = None,
) -> ApiReader:
    """`reader` under a run's read policy: `limiter` (default: a new one with `rate` as its
    ceiling, None: learned from 429s), and an outage breaker opening after `outage_after`
    seconds of errors."""
    pace = limiter if limiter is not None else AdaptiveLimiter(rate)
    return policed(reader, ReadPolicy(pace, OutageBreaker(open_after=outage_after)))


class PacedPolicy(RetryPolicy):
    """One attempt per request, each waiting for `limiter` first and teaching it what came
    back: for requests the executor does not pace itself (the Batch API's)."""

    def __init__(self, limiter: AdaptiveLimiter) -> None:
        super().__init__(attempts=1)
        self.limiter = limiter

    async def call(self, method: str, attempt: Callable[[], Awaitable[T]]) -> T:
        await self.limiter.acquire()
        sent_at = await self.limiter.wait_out_pause()
        try:
            result = await attempt()
        except RateLimited as error:
            self.limiter.on_throttled(error.retry_after, sent_at)
            raise
        self.limiter.on_success(sent_at)
        return result


def credential_of(client: object) -> str:
    """The fingerprint of the credential `client` signs in with ("-" if it has none)."""
    # CarrierX keeps its token as a Secret and offers no accessor; only the fingerprint leaves.
    token = getattr(client, "_token", None)
    return token.fingerprint() if isinstance(token, Secret) else "-"


#: (target, ceiling) -> the window every limiter of this process for that target counts in: a
#: ceiling holds for the run's requests together (its reads of live state, the executor's
#: sends, the Batch API's), not for each limiter apart.
_CAPS: dict[tuple[str, float], SlidingCap] = {}


@dataclass(frozen=True)
class PaceMemory:
    """Where the limit learned for one target and credential is kept between runs: the
    workspace (`<root>/limits.json`, beside the run journals), the target's identity and the
    credential's fingerprint, never the token."""

    root: Path
    target: str
    credential: str

    @classmethod
    def of(
        cls, root: Path, base_url: str | None, sandbox_db: str | Path, client: object
    ) -> PaceMemory:
        return cls(Path(root), target_key(base_url, str(sandbox_db)), credential_of(client))

    def recall(self) -> limits.Remembered | None:
        return limits.recall(self.root, self.target, self.credential)

    def limiter(self, ceiling: float | None) -> AdaptiveLimiter:
        """A limiter under `ceiling` that starts at the pace remembered for this target (unpaced
        if none is) and remembers each limit it learns, as it learns it: a run killed after
        learning still spares the next one the learning."""
        cap = _CAPS.setdefault((self.target, ceiling), SlidingCap(ceiling)) if ceiling else None
        limiter = AdaptiveLimiter(ceiling, cap=cap)
        found = self.recall()
        if found is not None:
            limiter.start_from(found.limit, found.burst, fitted=found.fitted)
        limiter.on_learned = partial(limits.remember, self.root, self.target, self.credential)
        return limiter
