"""The adaptive limiter on a fake clock: it learns a limit from 429s and stays under it."""

from __future__ import annotations

import asyncio

import pytest

from bulkx.engine.throttle import HEADROOM, AdaptiveLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _limiter(time: FakeTime, **kwargs: object) -> AdaptiveLimiter:
    return AdaptiveLimiter(clock=time.clock, sleep=time.sleep, **kwargs)  # type: ignore[arg-type]


def test_unlimited_until_the_server_objects_then_paced_under_its_admitted_rate() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> None:
        for _ in range(50):  # a second at 50/s, all admitted
            await limiter.acquire()
            limiter.on_success()
            time.now += 0.02
        assert time.slept == []
        limiter.on_throttled(retry_after=1.0)
        assert limiter.estimate == pytest.approx(50, rel=0.05)
        assert limiter.rate == pytest.approx(limiter.estimate * HEADROOM)
        before = time.now
        await limiter.acquire()
        assert time.now - before >= 1.0  # Retry-After honoured

    asyncio.run(scenario())


def test_one_burst_of_429s_changes_the_rate_once() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    for _ in range(40):
        limiter.on_success()
        time.now += 0.025
    for _ in range(30):
        limiter.on_throttled(retry_after=1.0)
    assert limiter.throttled == 30
    assert limiter.rate == limiter.estimate * HEADROOM  # type: ignore[operator]


def test_pauses_do_not_count_as_a_slower_server() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    for _ in range(10):
        limiter.on_success()
        time.now += 0.01
    limiter.on_throttled(retry_after=1.0)
    time.now += 1.0  # the pause: nothing admitted
    for _ in range(25):
        limiter.on_success()
        time.now += 0.02  # 50/s once sending again
    limiter.on_throttled(retry_after=1.0)
    assert limiter.estimate is not None and limiter.estimate >= 45


def test_probing_never_passes_the_estimate_or_the_ceiling() -> None:
    time = FakeTime()
    limiter = _limiter(time, ceiling=200.0, probe_every=1.0, probe_step=0.5)
    for _ in range(100):
        limiter.on_success()
        time.now += 0.01
    limiter.on_throttled(retry_after=None)
    estimate = limiter.estimate

    async def scenario() -> None:
        for _ in range(200):
            await limiter.acquire()
            time.now += 0.5

    asyncio.run(scenario())
    assert limiter.rate is not None and estimate is not None
    assert limiter.rate <= min(estimate, 200.0)


def test_refused_while_paced_means_the_limit_is_below_the_pace() -> None:
    time = FakeTime()
    limiter = _limiter(time, ceiling=None)
    limiter.rate = 500.0
    for _ in range(300):  # a refilled burst let 600/s through right after a pause
        limiter.on_success()
        time.now += 1 / 600
    limiter.on_throttled(retry_after=1.0)
    assert limiter.rate is not None and limiter.rate < 500.0


def test_a_429_with_nothing_admitted_keeps_the_pace() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    limiter.rate = 120.0
    limiter.on_throttled(retry_after=3.0)  # a storm: nothing got through at all
    assert limiter.rate == 120.0
    assert limiter.throttled == 1

    async def scenario() -> None:
        before = time.now
        await limiter.acquire()
        assert time.now - before >= 3.0  # but its Retry-After is honoured

    asyncio.run(scenario())
