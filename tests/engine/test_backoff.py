"""The one backoff policy: its schedule, its jitter from the injected rng, its injected sleep."""

from __future__ import annotations

import asyncio
import random

import pytest

from bulkx.api.retry import Backoff, RetryPolicy
from bulkx.errors import ServerError


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class NoRandomness(random.Random):
    """An rng that must not be asked: a schedule without jitter is exact."""

    def uniform(self, a: float, b: float) -> float:
        raise AssertionError("the rng was used")


def test_the_schedule_doubles_up_to_the_cap_scaled_by_the_injected_rng() -> None:
    backoff = Backoff(first=0.5, cap=4.0, rng=random.Random(3))
    factors = random.Random(3)
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    expected = [cap * factors.uniform(0.5, 1.0) for cap in caps]
    assert [backoff.seconds(n) for n in range(1, 7)] == pytest.approx(expected)
    assert all(cap / 2 <= wait <= cap for wait, cap in zip(expected, caps, strict=True))


def test_without_jitter_the_schedule_is_exact_and_the_rng_untouched() -> None:
    poll = Backoff(first=0.2, cap=2.0, growth=1.5, jitter=0.0, rng=NoRandomness())
    waits = [poll.seconds(n) for n in range(1, 9)]
    assert waits == pytest.approx([0.2, 0.3, 0.45, 0.675, 1.0125, 1.51875, 2.0, 2.0])


def test_wait_sleeps_with_the_injected_sleep() -> None:
    sleeps = RecordingSleep()
    backoff = Backoff(first=0.5, cap=5.0, jitter=0.0, sleep=sleeps, rng=NoRandomness())

    async def three_retries() -> None:
        for attempt in (1, 2, 3):
            await backoff.wait(attempt)

    asyncio.run(three_retries())
    assert sleeps.delays == [0.5, 1.0, 2.0]


def test_the_retry_policy_waits_by_the_same_backoff() -> None:
    sleeps = RecordingSleep()
    policy = RetryPolicy(backoff_base=0.5, backoff_max=30.0, sleep=sleeps, rng=random.Random(9))
    alone = Backoff(first=0.5, cap=30.0, rng=random.Random(9))
    error = ServerError("busy", 503)
    assert [policy.wait_seconds(n, error) for n in (1, 2, 3)] == [
        alone.seconds(n) for n in (1, 2, 3)
    ]
    assert policy.backoff.sleep is sleeps
